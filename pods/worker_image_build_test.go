package pods

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/images"
)

// TestWorkerGoBuildFailure: a go:// image whose package does not compile
// waits in ErrImagePull, then ImagePullBackOff, with the compiler's whole
// output in the container's waiting message, and one Event line that
// summarises it (describe's table has one line per Event).
func TestWorkerGoBuildFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, brokenGoPod(t))
	h.cfg.Images = &images.Resolver{CacheDir: t.TempDir()}
	h.run()

	wantOutput := func(state, msg string) { t.Helper(); wantCompilerOutput(t, state, msg) }
	p := h.waitFor("ImagePullBackOff", func(p *corev1.Pod) bool { return waiting(p, "hello", "ImagePullBackOff") })
	msg := ""
	for _, p := range h.history() {
		if waiting(p, "hello", "ErrImagePull") {
			msg = ctrStatus(p, "hello").State.Waiting.Message
			break
		}
	}
	if !strings.HasPrefix(msg, "Failed to build image \"go://./x\": go build failed:\n") || strings.Count(msg, "go://./x") != 1 {
		t.Errorf("ErrImagePull message:\n%s", msg)
	}
	wantOutput("ErrImagePull", msg)

	msg = ctrStatus(p, "hello").State.Waiting.Message
	if !strings.HasPrefix(msg, "Back-off pulling image \"go://./x\": ErrImagePull: Failed to build image \"go://./x\": go build failed:\n") {
		t.Errorf("ImagePullBackOff message:\n%s", msg)
	}
	wantOutput("ImagePullBackOff", msg)

	want := "Warning Failed " + brokenGoEvent
	if !h.hasEvent(want) {
		t.Errorf("no event %q in\n%q", want, h.eventList())
	}
	for _, e := range h.eventList() {
		if strings.ContainsAny(e, "\r\n") {
			t.Errorf("event with a line break: %q", e)
		}
	}
}

// brokenGoPod is the hello pod with a go:// image, go://./x, whose package
// (in a module in t.TempDir()) does not compile.
func brokenGoPod(t *testing.T) *corev1.Pod {
	t.Helper()
	src := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":    "module example.com/broken\n\ngo 1.26\n",
		"x/main.go": "package main\n\nfunc main() {\n\tprintln(\"x\")\n\ty()\n\tz()\n\tw := undefinedThing\n\t_ = w\n}\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pod := loadPod(t, "hello")
	pod.Spec.Containers[0].Image = "go://./x"
	pod.Annotations = map[string]string{AnnotationManifestDir: src}
	return pod
}

// brokenGoEvent is the one-line Event of brokenGoPod's failed build.
const brokenGoEvent = `Failed to build image "go://./x": ./main.go:5:2: undefined: y (and 2 more lines; see the container's waiting message)`

// wantCompilerOutput checks that msg holds the whole compiler output of
// brokenGoPod's build.
func wantCompilerOutput(t *testing.T, state, msg string) {
	t.Helper()
	for _, l := range []string{
		"# example.com/broken/x",
		"./main.go:5:2: undefined: y",
		"./main.go:6:2: undefined: z",
		"./main.go:7:7: undefined: undefinedThing",
	} {
		if !strings.Contains(msg, l+"\n") && !strings.HasSuffix(msg, l) {
			t.Errorf("%s message lacks %q:\n%s", state, l, msg)
		}
	}
}

// TestAgentGoBuildFailure: through the node agent, as under serve (opaque
// image errors), the pod's status in the API keeps the build output in
// the waiting message, and the Event in the API is one line.
func TestAgentGoBuildFailure(t *testing.T) {
	t.Parallel()
	h := newAgentHarness(t)
	h.pcfg.Images = &images.Resolver{CacheDir: t.TempDir(), Opaque: true}
	h.start()
	pod := brokenGoPod(t)
	h.createPod(pod)
	p := h.waitPod(pod.Name, "ImagePullBackOff", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "ImagePullBackOff"
	})
	wantCompilerOutput(t, "ImagePullBackOff", p.Status.ContainerStatuses[0].State.Waiting.Message)
	h.eventually("the Failed event", func() (bool, string) {
		list, err := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		found, all := false, ""
		for _, e := range list.Items {
			if e.InvolvedObject.Name != pod.Name {
				continue
			}
			if strings.ContainsAny(e.Message, "\r\n") {
				t.Fatalf("event %s with a line break: %q", e.Reason, e.Message)
			}
			found = found || e.Type == corev1.EventTypeWarning && e.Reason == "Failed" && e.Message == brokenGoEvent
			all += fmt.Sprintf("\n%s %s %s", e.Type, e.Reason, e.Message)
		}
		return found, "events:" + all
	})
}
