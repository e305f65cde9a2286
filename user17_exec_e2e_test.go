package wasmpod_test

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestUser17ExecWithoutStdinRealKubectl: kubectl exec without -i gives the
// command no stdin, which a runtime makes /dev/null: a command reading it
// gets EOF at once and ends (upstream: `kubectl exec pod -- cat` returns
// at once). The exec'd instance's stdin used to stay open until it was
// killed, so the command hung forever.
func TestUser17ExecWithoutStdinRealKubectl(t *testing.T) {
	e := newStreamEnv(t)
	e.startPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "box"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: e.guestImage, Args: []string{"sleep"}}}}})
	// The guard only turns a hang (the defect) into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := e.kubectl(t, "exec", "box", "--", "streamguest", "greet", "3") // prints, copies stdin to stdout, exits 3
	cmd := exec.CommandContext(ctx, k.Path, k.Args[1:]...)
	cmd.Env = k.Env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	ee, _ := err.(*exec.ExitError)
	if ee == nil || ee.ExitCode() != 3 || out.String() != "hello from the guest\n" ||
		errOut.String() != "a warning\ncommand terminated with exit code 3\n" {
		t.Fatalf("kubectl exec without -i: %v\nstdout: %q\nstderr: %q", err, out.String(), errOut.String())
	}
	// With -i, stdin still reaches the command.
	if got, _, code := e.run(t, "to the guest\n", "exec", "-i", "box", "--", "streamguest", "greet"); code != 0 ||
		got != "hello from the guest\nto the guest\n" {
		t.Fatalf("kubectl exec -i: exit %d, stdout %q", code, got)
	}
}
