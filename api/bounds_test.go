package api

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func errStrings(t *testing.T, p *corev1.Pod) string {
	t.Helper()
	var out []string
	for _, e := range ValidatePod(p, Options{AllowHostPath: true}) {
		out = append(out, e.Error())
	}
	return strings.Join(out, "\n")
}

// TestValidatePodBounds: a pod with more containers (or init containers,
// or volumes) than the bounds, or a spec too large to leave room for its
// status, is refused at admission with an error naming the field. A pod of
// 10,000 containers used to be accepted and then never got a status.
func TestValidatePodBounds(t *testing.T) {
	many := func(n int) []corev1.Container {
		cs := make([]corev1.Container, n)
		for i := range cs {
			cs[i] = corev1.Container{Name: fmt.Sprintf("c%d", i), Image: "x.wasm"}
		}
		return cs
	}
	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   string
	}{
		{"10000 containers", func(p *corev1.Pod) { p.Spec.Containers = many(10000) }, "spec.containers: Too many: 10000: must have at most 100 items"},
		{"101 containers", func(p *corev1.Pod) { p.Spec.Containers = many(101) }, "spec.containers: Too many: 101: must have at most 100 items"},
		{"101 init containers", func(p *corev1.Pod) { p.Spec.InitContainers = many(101) }, "spec.initContainers: Too many: 101: must have at most 100 items"},
		{"257 volumes", func(p *corev1.Pod) {
			for i := 0; i < 256; i++ {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: fmt.Sprintf("v%d", i), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			}
		}, "spec.volumes: Too many: 257: must have at most 256 items"},
		{"600 KiB of finalizers", func(p *corev1.Pod) {
			for i := 0; i < 6000; i++ {
				p.Finalizers = append(p.Finalizers, fmt.Sprintf("example.com/%095d", i))
			}
		}, "metadata: Too long: may not be more than 524288 bytes"},
		{"a 2 MiB environment", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "BIG", Value: strings.Repeat("x", 2<<20)})
		}, "spec: Too long: may not be more than 1048576 bytes"},
	} {
		p := validPod()
		tc.mutate(p)
		if got := errStrings(t, p); !strings.Contains(got, tc.want) {
			t.Errorf("%s: errors\n%s\nwant one containing %q", tc.name, got, tc.want)
		}
	}
	// At the bounds, a pod is valid.
	p := validPod()
	p.Spec.Containers = many(MaxContainers)
	p.Spec.InitContainers = many(0)
	for i := range p.Spec.Containers {
		p.Spec.Containers[i].Name = fmt.Sprintf("app%d", i)
	}
	SetDefaultsPod(p)
	if got := errStrings(t, p); got != "" {
		t.Errorf("a pod of %d containers: %s", MaxContainers, got)
	}
}

// TestValidatePodRefusesNUL: NUL bytes in argv, the environment, the image
// and paths were accepted and then cut by the runtime; they are refused
// with the field's path.
func TestValidatePodRefusesNUL(t *testing.T) {
	for _, tc := range []struct {
		mutate func(p *corev1.Pod)
		want   string
	}{
		{func(p *corev1.Pod) { p.Spec.Containers[0].Args = []string{"ok", "a\x00b"} }, "spec.containers[0].args[1]: Invalid value: \"a\\x00b\": must not contain a NUL byte (found at byte 1)"},
		{func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"\x00"} }, "spec.containers[0].command[0]: Invalid value"},
		{func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "prod\x00uction" }, "spec.containers[0].env[0].value: Invalid value"},
		{func(p *corev1.Pod) { p.Spec.Containers[0].Image = "web\x00.wasm" }, "spec.containers[0].image: Invalid value"},
		{func(p *corev1.Pod) { p.Spec.Containers[0].WorkingDir = "/tmp\x00" }, "spec.containers[0].workingDir: Invalid value"},
		{func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].SubPath = "a\x00" }, "spec.containers[0].volumeMounts[0].subPath: Invalid value"},
		{func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "i.wasm", Args: []string{"x\x00"}}}
			SetDefaultsPod(p)
		}, "spec.initContainers[0].args[0]: Invalid value"},
		{func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check", "\x00"}}}, SuccessThreshold: 1}
		}, "spec.containers[0].livenessProbe.exec.command[1]: Invalid value"},
	} {
		p := validPod()
		tc.mutate(p)
		if got := errStrings(t, p); !strings.Contains(got, tc.want) {
			t.Errorf("errors\n%s\nwant one containing %q", got, tc.want)
		}
	}
}
