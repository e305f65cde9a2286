package pods

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// allocated is the bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func boundWorker(t *testing.T, cms map[string]*corev1.ConfigMap, gets *atomic.Int64) *Worker {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	return NewWorker(&Config{RootDir: t.TempDir(), ConfigMaps: func(_ context.Context, ns, name string) (*corev1.ConfigMap, error) {
		gets.Add(1)
		cm, ok := cms[name]
		if !ok {
			return nil, fmt.Errorf("no configmap %s", name)
		}
		return cm, nil
	}}, pod)
}

const boundMsg = "container main: the environment and arguments after $(VAR) expansion exceed 2097152 bytes"

// TestEnvExpansionBounded: $(VAR) references that ask for gigabytes are
// refused with the bound's message, having allocated about the bound.
func TestEnvExpansionBounded(t *testing.T) {
	var gets atomic.Int64
	w := boundWorker(t, nil, &gets)
	c := &corev1.Container{Name: "main", Env: []corev1.EnvVar{
		{Name: "A", Value: strings.Repeat("x", 64<<10)},
		{Name: "B", Value: strings.Repeat("$(A)", 8192)}, // 512 MiB
		{Name: "C", Value: strings.Repeat("$(B)", 8192)}, // 4 TiB
	}}
	var err error
	if n := allocated(func() { _, _, err = w.env(c) }); n > 16<<20 {
		t.Errorf("env allocated %d MiB", n>>20)
	}
	if err == nil || err.Error() != boundMsg {
		t.Errorf("env error %v, want %q", err, boundMsg)
	}
	// Through containerConfig, which the container's start uses.
	if _, err := w.containerConfig(&ctr{spec: c}); err == nil || err.Error() != boundMsg {
		t.Errorf("containerConfig error %v, want %q", err, boundMsg)
	}
}

// TestEnvBoundExact: an environment of exactly MaxEnvArgsBytes (as execve
// counts it: NAME=value and a NUL each, argv strings and a NUL each) is
// built; one byte more is refused, whether in env or in args.
func TestEnvBoundExact(t *testing.T) {
	var gets atomic.Int64
	w := boundWorker(t, nil, &gets)
	host := len("HOSTNAME=p") + 1
	argv0 := len("main") + 1
	half := 512 << 10
	pad := MaxEnvArgsBytes - host - argv0 - len("X=") - 1 - half - len("BIG=") - 1 - 2*half
	c := &corev1.Container{Name: "main", Env: []corev1.EnvVar{
		{Name: "X", Value: strings.Repeat("x", half)},
		{Name: "BIG", Value: "$(X)$(X)" + strings.Repeat("y", pad)},
	}}
	cfg, err := w.containerConfig(&ctr{spec: c})
	if err != nil {
		t.Fatalf("an environment of exactly the bound: %v", err)
	}
	total := 0
	for _, s := range append(slices.Clone(cfg.Env), cfg.Args...) {
		total += len(s) + 1
	}
	if total != MaxEnvArgsBytes {
		t.Fatalf("env+argv %d bytes, want exactly %d", total, MaxEnvArgsBytes)
	}
	closeMounts(cfg.Mounts)
	c.Env[1].Value += "z"
	if _, err := w.containerConfig(&ctr{spec: c}); err == nil || err.Error() != boundMsg {
		t.Errorf("one byte over the bound in env: %v, want %q", err, boundMsg)
	}
	c.Env[1].Value = c.Env[1].Value[:len(c.Env[1].Value)-1]
	c.Args = []string{""} // one more argv string: its NUL
	if _, err := w.containerConfig(&ctr{spec: c}); err == nil || err.Error() != boundMsg {
		t.Errorf("one byte over the bound in args: %v, want %q", err, boundMsg)
	}
	c.Args = nil
	c.Command = []string{"$(BIG)"} // the command expands to 2 MiB again
	if _, err := w.containerConfig(&ctr{spec: c}); err == nil || err.Error() != boundMsg {
		t.Errorf("a command expanding past the bound: %v, want %q", err, boundMsg)
	}
}

// TestEnvBoundConfigMapValues: values read from ConfigMaps count too:
// 10,000 configMapKeyRef entries naming one 1 MiB key, or 100 envFrom of
// that ConfigMap with different prefixes, are refused after the bound
// without reading the ConfigMap 10,000 times.
func TestEnvBoundConfigMapValues(t *testing.T) {
	big := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: "ns"},
		Data: map[string]string{"k": strings.Repeat("v", 1<<20)}}
	var gets atomic.Int64
	w := boundWorker(t, map[string]*corev1.ConfigMap{"big": big}, &gets)
	ref := &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "big"}, Key: "k"}}
	c := &corev1.Container{Name: "main"}
	for i := range 10000 {
		c.Env = append(c.Env, corev1.EnvVar{Name: fmt.Sprintf("V%d", i), ValueFrom: ref})
	}
	var err error
	if n := allocated(func() { _, _, err = w.env(c) }); n > 16<<20 {
		t.Errorf("env allocated %d MiB", n>>20)
	}
	if err == nil || err.Error() != boundMsg {
		t.Errorf("env error %v, want %q", err, boundMsg)
	}
	if n := gets.Load(); n > 3 {
		t.Errorf("%d reads of the ConfigMap, want the environment refused at the third", n)
	}

	gets.Store(0)
	c.Env = nil
	for i := range 100 {
		c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{Prefix: fmt.Sprintf("P%d_", i), ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "big"}}})
	}
	if _, _, err = w.env(c); err == nil || err.Error() != boundMsg {
		t.Errorf("envFrom error %v, want %q", err, boundMsg)
	}
	if n := gets.Load(); n > 3 {
		t.Errorf("%d reads of the ConfigMap for envFrom, want the environment refused at the third", n)
	}

	// One reference to it fits; a variable set again counts its last
	// value only.
	c.EnvFrom = c.EnvFrom[:1]
	c.Env = []corev1.EnvVar{{Name: "P0_k", Value: "short"}, {Name: "ONE", ValueFrom: ref}}
	env, _, err := w.env(c)
	if err != nil || len(env) != 3 || env[1] != "P0_k=short" {
		t.Errorf("a 1 MiB value replaced, then another: %d variables, %v", len(env), err)
	}
}

// TestExpandBoundedRules: upstream's expansion rules, and the limit.
func TestExpandBoundedRules(t *testing.T) {
	vars := map[string]string{"A": "aa", "E": ""}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"":              "",
		"plain":         "plain",
		"$(A)":          "aa",
		"x$(A)y$(A)":    "xaayaa",
		"$$(A)":         "$(A)",
		"$$$(A)":        "$aa",
		"$(B)":          "$(B)",
		"$(E)-":         "-",
		"$(A":           "$(A",
		"$":             "$",
		"a$":            "a$",
		"$x$(A)$":       "$xaa$",
		"$()":           "$()",
		"100$ and $(A)": "100$ and aa",
	} {
		got, ok := expandBounded(in, lookup, 100)
		if !ok || got != want {
			t.Errorf("expand %q = %q %v, want %q", in, got, ok, want)
		}
		if len(want) > 0 {
			if _, ok := expandBounded(in, lookup, len(want)-1); ok {
				t.Errorf("expand %q within %d bytes: want refused", in, len(want)-1)
			}
		}
		if _, ok := expandBounded(in, lookup, len(want)); !ok {
			t.Errorf("expand %q within exactly %d bytes: refused", in, len(want))
		}
	}
}

// TestSubPathExprBounded: a subPathExpr expanding past PATH_MAX is an
// error, built no further.
func TestSubPathExprBounded(t *testing.T) {
	big := strings.Repeat("d/", 32<<10)
	lookup := func(k string) (string, bool) { return big, k == "D" }
	var err error
	n := allocated(func() { _, err = subPathExpr(strings.Repeat("$(D)", 8192), lookup) })
	if want := "subPathExpr after $(VAR) expansion exceeds 4096 bytes"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if n > 1<<20 {
		t.Errorf("allocated %d KiB", n>>10)
	}
	if p, err := subPathExpr("$(D)", func(string) (string, bool) { return strings.Repeat("a", 4096), true }); err != nil || len(p) != 4096 {
		t.Errorf("a 4096-byte subPath: %d %v", len(p), err)
	}
}
