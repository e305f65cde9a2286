package wasmpod_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/runtime/enginetest"
)

// TestASGuestPod runs the AssemblyScript probe (built from
// wasm-examples/testguests/as by asc, see enginetest.ASProbe) as pods of a
// cluster, its image the path to the built module: an init container
// works on an emptyDir volume, app containers read what it left, print
// their args and env; a pod whose containers exit 3 and trap fails with
// those codes; and a pod deleted while its guest waits on stdin stops
// gracefully (the guest sees EOF and exits 0, not 137 at its deadline).
func TestASGuestPod(t *testing.T) {
	wasm := moduleFile(t, "as-probe.wasm", enginetest.ASProbe(t))
	ctx := context.Background()
	c := newTestCluster(t)
	w, err := c.Watch(ctx, "pods", "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	applyYAML(t, c, wasm, `apiVersion: v1
kind: Pod
metadata: {name: as-probe}
spec:
  restartPolicy: Never
  volumes: [{name: data, emptyDir: {}}]
  initContainers:
  - name: files
    image: WASM
    args: [fs, /data]
    volumeMounts: [{name: data, mountPath: /data}]
  containers:
  - name: show
    image: WASM
    args: [show, /data, kept.txt]
    volumeMounts: [{name: data, mountPath: /data}]
  - name: args
    image: WASM
    args: [args, x, "y z", ""]
  - name: env
    image: WASM
    args: [env]
    env: [{name: GREETING, value: hi}, {name: EQ, value: "a=b"}]
---
apiVersion: v1
kind: Pod
metadata: {name: as-fail}
spec:
  restartPolicy: Never
  containers:
  - name: exit
    image: WASM
    args: [exit, "3"]
  - name: trap
    image: WASM
    args: [trap]
---
apiVersion: v1
kind: Pod
metadata: {name: as-term}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 600
  containers:
  - name: wait
    image: WASM
    args: [waitterm, "0"]
`)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a hang guard
	defer cancel()
	done := func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	}

	p, err := c.WaitPod(wctx, "default", "as-probe", done)
	if err != nil {
		t.Fatal(err)
	}
	if codes := asExitCodes(p); p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("as-probe: phase %s, exit codes %v", p.Status.Phase, codes)
	}
	if out := podLogs(t, c, "as-probe", "files"); out != enginetest.ASVolumeWant {
		t.Errorf("files logs:\n%s\nwant:\n%s", out, enginetest.ASVolumeWant)
	}
	if out := podLogs(t, c, "as-probe", "show"); out != enginetest.ASKept {
		t.Errorf("show logs %q, want %q (the init container's file on the emptyDir)", out, enginetest.ASKept)
	}
	if out, want := podLogs(t, c, "as-probe", "args"), "1 \"args\"\n2 \"x\"\n3 \"y z\"\n4 \"\"\n"; !strings.HasPrefix(out, "0 \"") || !strings.HasSuffix(out, "\n"+want) {
		t.Errorf("args logs %q, want argv[0] then %q", out, want)
	}
	env := podLogs(t, c, "as-probe", "env")
	for _, want := range []string{"HOSTNAME=as-probe", "GREETING=hi", "EQ=a=b"} {
		if !strings.Contains("\n"+env, "\n"+want+"\n") {
			t.Errorf("env logs %q lack %q", env, want)
		}
	}
	if strings.Contains(env, "PWD=") {
		t.Errorf("env logs %q: PWD without a workingDir", env)
	}

	p, err = c.WaitPod(wctx, "default", "as-fail", done)
	if err != nil {
		t.Fatal(err)
	}
	codes := asExitCodes(p)
	if p.Status.Phase != corev1.PodFailed || codes["exit"] != 3 || codes["trap"] != 134 {
		t.Errorf("as-fail: phase %s, exit codes %v, want Failed with exit 3 and trap 134", p.Status.Phase, codes)
	}
	if out := podLogs(t, c, "as-fail", "trap"); !strings.HasPrefix(out, "trapping\n") {
		t.Errorf("trap logs %q", out)
	}

	// TERM is EOF on the guest's stdin: deleting the pod stops it at once,
	// with the guest's own exit code.
	for {
		var b strings.Builder
		if err := c.Logs(ctx, "default", "as-term", &corev1.PodLogOptions{}, &b); err == nil && b.String() == "ready\n" {
			break
		}
		if wctx.Err() != nil {
			t.Fatalf("as-term never printed ready: %v", wctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Delete(ctx, "pods", "default", "as-term", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	code := int32(-1)
	for gone := false; !gone; {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Name != "as-term" {
				continue
			}
			for _, st := range p.Status.ContainerStatuses {
				if st.State.Terminated != nil {
					code = st.State.Terminated.ExitCode
				}
			}
			gone = ev.Type == watch.Deleted
		case <-wctx.Done():
			t.Fatalf("as-term not gone (its grace period is 600 s): %v", wctx.Err())
		}
	}
	if code != 0 {
		t.Errorf("as-term: exit code %d, want 0 (the guest read EOF and exited)", code)
	}
}

// asExitCodes maps the names of p's terminated containers (init containers
// included) to their exit codes.
func asExitCodes(p *corev1.Pod) map[string]int32 {
	codes := map[string]int32{}
	for _, st := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if st.State.Terminated != nil {
			codes[st.Name] = st.State.Terminated.ExitCode
		}
	}
	return codes
}
