package pods

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEnvFieldRefCurrentMetadata: an env fieldRef to a label or annotation
// is resolved from the pod as it is when the container starts (the
// labels and annotations the API changed since, SetMetadata), as the
// kubelet's: a container retried after "missing value for ANNOTATION"
// sees the annotation added meanwhile.
func TestEnvFieldRefCurrentMetadata(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns",
		Labels: map[string]string{"tier": "old"}, Annotations: map[string]string{"other": "x"}}}
	w := NewWorker(&Config{RootDir: t.TempDir()}, pod)
	ref := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}
	}
	c := &corev1.Container{Name: "c", Env: []corev1.EnvVar{
		{Name: "ANNOTATION", ValueFrom: ref("metadata.annotations['mysubpath']")},
		{Name: "TIER", ValueFrom: ref("metadata.labels['tier']")},
	}}
	env, _, err := w.env(c)
	if err != nil || !slices.Contains(env, "ANNOTATION=") || !slices.Contains(env, "TIER=old") {
		t.Fatalf("env before the change: %q %v", env, err)
	}
	w.SetMetadata(map[string]string{"tier": "new"}, map[string]string{"mysubpath": "mypath"})
	env, _, err = w.env(c)
	if err != nil || !slices.Contains(env, "ANNOTATION=mypath") || !slices.Contains(env, "TIER=new") {
		t.Errorf("env after the labels and annotations changed: %q %v, want ANNOTATION=mypath TIER=new", env, err)
	}
}
