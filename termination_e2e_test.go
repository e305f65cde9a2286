package wasmpod_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// Termination messages as the kubelet gives them (upstream's e2e
// "Container Runtime ... should report termination message ..."): the
// content of terminationMessagePath becomes state.terminated.message, the
// last 4 KiB of it; with FallbackToLogsOnError an empty file and a
// non-zero exit give the last 80 lines of the log instead.
func TestTerminationMessages(t *testing.T) {
	c := newTestCluster(t)
	wasm := moduleFile(t, "configprobe.wasm", testwasm.Build(t, testwasm.GuestDir(t, "configprobe")))
	long := strings.Repeat("a", 1000) + strings.Repeat("b", 4096)
	var hundred []string
	var last80 strings.Builder
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, fmt.Sprintf("env:L%03d", i))
		if i > 20 {
			fmt.Fprintf(&last80, "L%03d=<unset>\n", i)
		}
	}
	cases := []struct {
		name, path string
		policy     corev1.TerminationMessagePolicy
		args       []string
		exit       int32
		want       string
		logs       []string
	}{
		{name: "default-path", args: []string{"put:/dev/termination-log=bye from the guest", "exit:0"}, want: "bye from the guest"},
		{name: "custom-path", path: "/var/run/why", args: []string{"put:/var/run/why=it failed", "exit:3"}, exit: 3, want: "it failed"},
		{name: "long", args: []string{"put:/dev/termination-log=" + long, "exit:0"}, want: strings.Repeat("b", 4096)},
		{name: "readfile-error-empty", args: []string{"env:X", "exit:1"}, exit: 1, want: ""},
		{name: "fallback-error", policy: corev1.TerminationMessageFallbackToLogsOnError, args: append(hundred, "exit:2"), exit: 2, want: last80.String()},
		{name: "fallback-success", policy: corev1.TerminationMessageFallbackToLogsOnError, args: []string{"env:X", "exit:0"}, want: ""},
		{name: "bounded", args: []string{"fill:/dev/termination-log=4096", "fill:/dev/termination-log=2000000", "exit:0"},
			want: strings.Repeat("x", 4096), logs: []string{"/dev/termination-log fill=ok", "/dev/termination-log fill=error"}},
		{name: "fallback-file-wins", policy: corev1.TerminationMessageFallbackToLogsOnError,
			args: []string{"env:X", "put:/dev/termination-log=from the file", "exit:1"}, exit: 1, want: "from the file"},
	}
	for _, tc := range cases {
		p := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "default"},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: wasm, Args: tc.args,
					TerminationMessagePath: tc.path, TerminationMessagePolicy: tc.policy}},
			},
		}
		if _, err := c.Apply(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		p, err := c.WaitPod(ctx, "default", tc.name, podFinished)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Terminated == nil {
			t.Errorf("%s: not terminated: %+v", tc.name, p.Status.ContainerStatuses)
			continue
		}
		term := p.Status.ContainerStatuses[0].State.Terminated
		if term.ExitCode != tc.exit {
			t.Errorf("%s: exit code %d, want %d (logs %q)", tc.name, term.ExitCode, tc.exit, podLogs(t, c, tc.name, "main"))
		}
		wantLines(t, tc.name, podLogs(t, c, tc.name, "main"), tc.logs...)
		if term.Message != tc.want {
			t.Errorf("%s: message %q, want %q", tc.name, term.Message, tc.want)
		}
	}
}

// The same through the real kubectl: the message in the pod's status, read
// with a JSONPath, for a message file at a custom path and for a failed
// container whose message comes from its log.
func TestTerminationMessageKubectl(t *testing.T) {
	e := newConfigEnv(t)
	e.apply(t, `apiVersion: v1
kind: Pod
metadata: {name: msg}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: WASM
    args: ["put:/var/run/why=disk on fire", "exit:7"]
    terminationMessagePath: /var/run/why
---
apiVersion: v1
kind: Pod
metadata: {name: fromlogs}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: WASM
    args: ["env:FIRST", "env:SECOND", "exit:1"]
    terminationMessagePolicy: FallbackToLogsOnError
`)
	for name, want := range map[string]string{"msg": "disk on fire", "fromlogs": "FIRST=<unset>\nSECOND=<unset>\n"} {
		e.waitPod(t, name, "finished", podFinished)
		got := e.mustKubectl(t, "", "get", "pod", name, "-o", "jsonpath={.status.containerStatuses[0].state.terminated.message}")
		if got != want {
			t.Errorf("kubectl get pod %s: message %q, want %q", name, got, want)
		}
	}
}
