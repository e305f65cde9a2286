package runtime

import "github.com/wasmpod/wasmpod/runtime/wasi"

// NewSystem is the WASI system every engine binds for an instance of cfg:
// its args, env (the environment as the engine computed it), mounts, stdio
// and network, at most maxFDs open descriptors, host descriptors charged
// to fds; stdin is a pipe the instance's attach writes to.
func NewSystem(cfg ContainerConfig, env []string, maxFDs int, fds wasi.FDBudget) (sys *wasi.System, stdin *wasi.Pipe, err error) {
	mounts := make([]wasi.Mount, len(cfg.Mounts))
	for i, m := range cfg.Mounts {
		mounts[i] = wasi.Mount{HostPath: m.HostPath, GuestPath: m.GuestPath, ReadOnly: m.ReadOnly, Root: m.Root, Quota: m.Quota, File: m.File, FileByPath: m.FileByPath}
	}
	stdin = wasi.NewPipe()
	var netw any
	if cfg.Net != nil {
		netw = cfg.Net
	}
	sys, err = wasi.New(wasi.Config{
		Args:     cfg.Args,
		Env:      env,
		Mounts:   mounts,
		Stdin:    stdin,
		Stdout:   cfg.Stdout,
		Stderr:   cfg.Stderr,
		MaxFDs:   maxFDs,
		Net:      netw,
		FDBudget: fds,
	})
	if err != nil {
		return nil, nil, err
	}
	return sys, stdin, nil
}
