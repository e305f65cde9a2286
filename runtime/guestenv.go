package runtime

import (
	"fmt"
	"path"
	"strings"
)

// GuestEnv checks cfg's argv, environment and workingDir as every engine
// does, and returns the guest's environment: cfg.Env, with PWD set to the
// workingDir when there is one (in place of any PWD of cfg.Env).
func GuestEnv(cfg ContainerConfig) ([]string, error) {
	wd := cfg.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if !path.IsAbs(wd) {
		return nil, fmt.Errorf("workingDir %q: must be an absolute path", cfg.WorkingDir)
	}
	// argv and the environment reach the guest as C strings: a NUL would
	// cut one short (the API server refuses them; this is defence in depth).
	for i, a := range cfg.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("args[%d] %q: contains a NUL byte", i, a)
		}
	}
	env := make([]string, 0, len(cfg.Env)+1)
	for i, kv := range cfg.Env {
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("env[%d] %q: contains a NUL byte", i, kv)
		}
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("env[%d] %q: want KEY=VALUE", i, kv)
		}
		if k == "PWD" && cfg.WorkingDir != "" {
			continue // WorkingDir decides
		}
		env = append(env, kv)
	}
	// PWD only for a workingDir: Go's wasip1 port and wasi-libc start in
	// "/" without it, and a container's environment holds what its spec
	// says (HOSTNAME and the Service variables aside), as upstream.
	if cfg.WorkingDir != "" {
		env = append(env, "PWD="+path.Clean(wd))
	}
	return env, nil
}
