package pods

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/images"
)

// TestWorkerGoBuildFailure: a go:// image whose package does not compile
// waits in ErrImagePull, then ImagePullBackOff, with the compiler's whole
// output in the container's waiting message, and one Event line that
// summarises it (describe's table has one line per Event).
func TestWorkerGoBuildFailure(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module example.com/broken\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() {\n\tprintln(\"x\")\n\ty()\n\tz()\n\tw := undefinedThing\n\t_ = w\n}\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pod := loadPod(t, "hello")
	pod.Spec.Containers[0].Image = "go://./x"
	if err := os.Mkdir(filepath.Join(src, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(src, "main.go"), filepath.Join(src, "x", "main.go")); err != nil {
		t.Fatal(err)
	}
	pod.Annotations = map[string]string{AnnotationManifestDir: src}
	h := newHarness(t, pod)
	h.cfg.Images = &images.Resolver{CacheDir: t.TempDir()}
	h.run()

	compiler := []string{
		"./main.go:5:2: undefined: y",
		"./main.go:6:2: undefined: z",
		"./main.go:7:7: undefined: undefinedThing",
	}
	wantOutput := func(state, msg string) {
		t.Helper()
		for _, l := range compiler {
			if !strings.Contains(msg, l+"\n") && !strings.HasSuffix(msg, l) {
				t.Errorf("%s message lacks %q:\n%s", state, l, msg)
			}
		}
	}
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

	want := `Warning Failed Failed to build image "go://./x": ./main.go:5:2: undefined: y (and 2 more lines; see the container's waiting message)`
	if !h.hasEvent(want) {
		t.Errorf("no event %q in\n%q", want, h.eventList())
	}
	for _, e := range h.eventList() {
		if strings.ContainsAny(e, "\r\n") {
			t.Errorf("event with a line break: %q", e)
		}
	}
}
