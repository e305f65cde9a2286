package pods

// env_bound.go: the bound on a container's environment and argument
// vector. $(VAR) references let a small spec ask for any size: an entry
// may name the one before it thousands of times (64 KiB, then 8192
// references to it in a 56 KiB value, is 512 MiB, and the next entry
// multiplies that again), and envFrom or configMapKeyRef entries may name
// the same large ConfigMap key over and over. The node agent runs in the
// server's process, so the environment is counted while it is built and
// refused (CreateContainerConfigError naming the bound) before anything
// past the bound is allocated.

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// MaxEnvArgsBytes bounds a container's environment and argument vector
// together, after $(VAR) expansion and with the values read from Services,
// ConfigMaps and Secrets: each NAME=value and each argument counts its
// bytes and one more (the NUL that execve counts). It is Linux's ARG_MAX
// with the default 8 MiB stack (a quarter of it; `getconf ARG_MAX` is
// 2097152): the kubelet has no bound of its own, but the container
// runtime's execve of a larger environment and argv fails with E2BIG, so a
// container refused here could not start upstream either.
const MaxEnvArgsBytes = 2 << 20

// maxSubPathBytes bounds a subPathExpr after expansion: Linux's PATH_MAX,
// past which the kubelet's mkdir of the subpath fails (ENAMETOOLONG).
const maxSubPathBytes = 4096

// envTooLarge is the error of a container whose environment and arguments
// pass MaxEnvArgsBytes.
func envTooLarge(container string) error {
	return fmt.Errorf("container %s: the environment and arguments after $(VAR) expansion exceed %d bytes", container, MaxEnvArgsBytes)
}

// envVars is a container's environment as it is built, in order, with its
// size as execve counts it. Once a set would pass MaxEnvArgsBytes, over is
// true and nothing more is set.
type envVars struct {
	container string
	vals      map[string]string
	order     []string
	used      int
	over      bool
}

func newEnvVars(container string) *envVars {
	return &envVars{container: container, vals: map[string]string{}}
}

// entrySize is the size of NAME=value and its NUL.
func entrySize(k, v string) int { return len(k) + len(v) + 2 }

// set sets k to v (a later value of a name replaces the earlier one in
// place, as the kubelet's).
func (e *envVars) set(k, v string) {
	if e.over {
		return
	}
	if e.room(k) < len(v) {
		e.over = true
		return
	}
	old, had := e.vals[k]
	if had {
		e.used -= entrySize(k, old)
	} else {
		e.order = append(e.order, k)
	}
	e.vals[k] = v
	e.used += entrySize(k, v)
}

func (e *envVars) lookup(k string) (string, bool) { v, ok := e.vals[k]; return v, ok }

// room is how long a value of k may be.
func (e *envVars) room(k string) int {
	r := MaxEnvArgsBytes - e.used - len(k) - 2
	if old, ok := e.vals[k]; ok {
		r += entrySize(k, old)
	}
	return r
}

// expand expands the value s of variable k from the variables before it;
// a result that would pass the bound is not built: over is set and ""
// returned.
func (e *envVars) expand(k, s string) string {
	if e.over {
		return ""
	}
	v, ok := expandBounded(s, e.lookup, e.room(k))
	if !ok {
		e.over = true
	}
	return v
}

// err is the error of an environment that passed the bound.
func (e *envVars) err() error { return envTooLarge(e.container) }

// list is the environment as NAME=value strings, in order.
func (e *envVars) list() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// boundedArgv is the container's argument vector (argv[0] included). A
// WASM module has no image entrypoint: `command` replaces argv entirely
// (command[0] is argv[0]), and `args` alone follow an argv[0] of the
// container's name. $(VAR) references expand from the container's
// environment env (lookup), and the arguments share MaxEnvArgsBytes with
// it.
func boundedArgv(c *corev1.Container, env []string, lookup func(string) (string, bool)) ([]string, error) {
	room := MaxEnvArgsBytes
	for _, kv := range env {
		room -= len(kv) + 1
	}
	var out []string
	add := func(a string) bool {
		if len(a)+1 > room {
			return false
		}
		room -= len(a) + 1
		out = append(out, a)
		return true
	}
	if len(c.Command) == 0 && !add(c.Name) {
		return nil, envTooLarge(c.Name)
	}
	for _, list := range [][]string{c.Command, c.Args} {
		for _, a := range list {
			v, ok := expandBounded(a, lookup, room-1)
			if !ok || !add(v) {
				return nil, envTooLarge(c.Name)
			}
		}
	}
	return out, nil
}

// expandBounded replaces $(VAR) in s with its value; $$ escapes a $;
// references to undefined variables are left as they are (upstream's
// expansion rules). A result longer than limit bytes is not built: it
// returns false. Its length is counted first, so at most limit bytes are
// allocated.
func expandBounded(s string, lookup func(string) (string, bool), limit int) (string, bool) {
	if limit < 0 {
		return "", false
	}
	if !strings.Contains(s, "$") {
		return s, len(s) <= limit
	}
	n := 0
	expandWalk(s, lookup, func(p string) bool {
		n += len(p)
		return n <= limit
	})
	if n > limit {
		return "", false
	}
	var b strings.Builder
	b.Grow(n)
	expandWalk(s, lookup, func(p string) bool {
		b.WriteString(p)
		return true
	})
	return b.String(), true
}

// expandWalk gives emit the pieces of s expanded, in order, until emit
// returns false.
func expandWalk(s string, lookup func(string) (string, bool), emit func(string) bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) {
			switch s[i+1] {
			case '$':
				if !emit(s[i : i+1]) {
					return
				}
				i++
				continue
			case '(':
				if j := strings.IndexByte(s[i+2:], ')'); j >= 0 {
					piece := s[i : i+3+j] // an undefined variable stays as it is
					if v, ok := lookup(s[i+2 : i+2+j]); ok {
						piece = v
					}
					if !emit(piece) {
						return
					}
					i += 2 + j
					continue
				}
			}
		}
		// The bytes up to the next $ in one piece.
		j := strings.IndexByte(s[i+1:], '$')
		if j < 0 {
			j = len(s) - i - 1
		}
		if !emit(s[i : i+1+j]) {
			return
		}
		i += j
	}
}
