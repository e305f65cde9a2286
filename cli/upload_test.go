package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/pods"
	"github.com/wasmpod/wasmpod/store/memory"
)

// storeEnv is an API server with a module store (as serve's) on a Unix
// socket, counting the module store's requests.
type storeEnv struct {
	server string
	tcp    string // the same server over plain HTTP on loopback
	cs     kubernetes.Interface
	store  *images.Store
	dir    string

	mu   sync.Mutex
	reqs []string // "METHOD /wasmpod/..." only
}

func newStoreEnv(tb testing.TB) *storeEnv {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	dir := tb.TempDir()
	st := images.NewMemoryStore()
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{Modules: st, RefuseRelativeImages: true})
	if err != nil {
		tb.Fatal(err)
	}
	e := &storeEnv{store: st, dir: dir}
	inner := s.Handler(apiserver.HandlerOptions{})
	sock := filepath.Join(dir, "wasmpod.sock")
	ln, err := apiserver.ListenUnix(sock)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/wasmpod/") {
			e.mu.Lock()
			e.reqs = append(e.reqs, r.Method+" "+r.URL.Path)
			e.mu.Unlock()
		}
		inner.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler)
	tb.Cleanup(ts.Close)
	e.tcp = ts.URL
	e.server = "unix://" + sock
	if e.cs, err = kubernetes.NewForConfig(apiserver.UnixSocketConfig(sock)); err != nil {
		tb.Fatal(err)
	}
	return e
}

func (e *storeEnv) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.reqs
	e.reqs = nil
	return r
}

// run runs the CLI in-process (in the test's working directory: the
// manifests and modules are named by absolute paths).
func (e *storeEnv) run(tb testing.TB, args ...string) (string, string, int) {
	tb.Helper()
	var out, errb syncBuffer
	full := append([]string{"wasmpod", args[0], "--server", e.server, "--cache-dir", filepath.Join(e.dir, "cache")}, args[1:]...)
	code := runAppContext(context.Background(), App(&out, &errb), full)
	return out.String(), errb.String(), code
}

func fakeModule(n int, fill byte) []byte {
	return append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, bytes.Repeat([]byte{fill}, n-8)...)
}

func writeApp(tb testing.TB, dir, pod, image string, module []byte) string {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if module != nil {
		if err := os.WriteFile(filepath.Join(dir, "my_mod.wasm"), module, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	f := filepath.Join(dir, pod+".yaml")
	m := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  containers:\n  - {name: c, image: %s}\n", pod, image)
	if err := os.WriteFile(f, []byte(m), 0o644); err != nil {
		tb.Fatal(err)
	}
	return f
}

func TestApplyUploadsLocalImages(t *testing.T) {
	e := newStoreEnv(t)
	ctx := context.Background()
	mod := fakeModule(100_000, 1)
	digest := images.Digest(mod)
	f := writeApp(t, filepath.Join(t.TempDir(), "app"), "web", "./my_mod.wasm", mod)

	if out, errOut, code := e.run(t, "apply", "-f", f); code != 0 || out != "pod/web created\n" {
		t.Fatalf("apply: %d %q %q", code, out, errOut)
	}
	if got := strings.Join(e.requests(), ", "); got != "HEAD /wasmpod/modules/"+digest+", PUT /wasmpod/modules/"+digest {
		t.Errorf("module requests: %s", got)
	}
	p, err := e.cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := p.Spec.Containers[0].Image; img != "wasmpod.local/my-mod@"+digest {
		t.Errorf("image %q", img)
	}
	if _, ok := p.Annotations[pods.AnnotationManifestDir]; ok {
		t.Errorf("manifest-dir annotation set with every image uploaded: %v", p.Annotations)
	}
	if b, err := e.store.Get(digest); err != nil || !bytes.Equal(b, mod) {
		t.Errorf("store: %v", err)
	}
	// Again, unchanged: one HEAD, no upload.
	if out, errOut, code := e.run(t, "apply", "-f", f); code != 0 || out != "pod/web unchanged\n" {
		t.Fatalf("second apply: %d %q %q", code, out, errOut)
	}
	if got := strings.Join(e.requests(), ", "); got != "HEAD /wasmpod/modules/"+digest {
		t.Errorf("module requests of an unchanged apply: %s", got)
	}
	// A changed module: uploaded, and the pod's image follows.
	mod2 := fakeModule(100_000, 2)
	os.WriteFile(filepath.Join(filepath.Dir(f), "my_mod.wasm"), mod2, 0o644)
	if out, errOut, code := e.run(t, "apply", "-f", f); code != 0 || out != "pod/web configured\n" {
		t.Fatalf("third apply: %d %q %q", code, out, errOut)
	}
	p, _ = e.cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if img := p.Spec.Containers[0].Image; img != "wasmpod.local/my-mod@"+images.Digest(mod2) {
		t.Errorf("image after a change %q", img)
	}

	// A workload's pod template, init containers included.
	dep := filepath.Join(filepath.Dir(f), "dep.yaml")
	os.WriteFile(dep, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      initContainers: [{name: i, image: my_mod.wasm}]\n      containers: [{name: c, image: wasmpod.local/other:v1}]\n"), 0o644)
	if out, errOut, code := e.run(t, "apply", "-f", dep); code != 0 || out != "deployment.apps/d created\n" {
		t.Fatalf("apply deployment: %d %q %q", code, out, errOut)
	}
	d, err := e.cs.AppsV1().Deployments("default").Get(ctx, "d", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.InitContainers[0].Image; img != "wasmpod.local/my-mod@"+images.Digest(mod2) {
		t.Errorf("deployment init image %q", img)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "wasmpod.local/other:v1" {
		t.Errorf("a store image was rewritten: %q", img)
	}

	// A module this machine does not have: sent as written, with the
	// manifest's directory for the server (which, on this machine, can
	// resolve it or say why not).
	g := writeApp(t, filepath.Join(t.TempDir(), "other"), "gone", "./missing.wasm", nil)
	if out, errOut, code := e.run(t, "create", "-f", g); code != 0 || out != "pod/gone created\n" || errOut != "" {
		t.Fatalf("create of a missing module: %d %q %q", code, out, errOut)
	}
	p, _ = e.cs.CoreV1().Pods("default").Get(ctx, "gone", metav1.GetOptions{})
	if p.Spec.Containers[0].Image != "./missing.wasm" || p.Annotations[pods.AnnotationManifestDir] != filepath.Dir(g) {
		t.Errorf("missing module: image %q, annotations %v", p.Spec.Containers[0].Image, p.Annotations)
	}

	// Over TCP the server may not see this machine's files: a warning.
	var out, errb syncBuffer
	farCode := runAppContext(ctx, App(&out, &errb), []string{"wasmpod", "create", "--server", e.tcp, "-f", writeApp(t, filepath.Join(t.TempDir(), "far"), "far", "./missing.wasm", nil)})
	if farCode != 0 || out.String() != "pod/far created\n" || !strings.Contains(errb.String(), `Warning: `) ||
		!strings.Contains(errb.String(), `far.yaml: Pod/far: spec.containers[0].image: image "./missing.wasm": `) || !strings.HasSuffix(errb.String(), "; sent as written\n") {
		t.Errorf("create over TCP of a missing module: %d %q %q", farCode, out.String(), errb.String())
	}

	// An upload the server refuses fails that object, naming it.
	e.store.SetMaxSize(1000)
	h := writeApp(t, filepath.Join(t.TempDir(), "big"), "big", "./my_mod.wasm", fakeModule(5000, 3))
	_, errOut, code := e.run(t, "apply", "-f", h)
	if code != 1 || !strings.Contains(errOut, "big.yaml: Pod/big: spec.containers[0].image: uploading ./my_mod.wasm: Request entity too large: the module is 5000 bytes, over the 1000-byte limit for a module") {
		t.Errorf("too large: %d %q", code, errOut)
	}
}

func TestImageImport(t *testing.T) {
	e := newStoreEnv(t)
	if out, errOut, code := e.run(t, "image", "ls"); code != 0 || out != "" || errOut != "No images found in the module store.\n" {
		t.Errorf("image ls of an empty store: %d %q %q", code, out, errOut)
	}
	dir := t.TempDir()
	mod := fakeModule(5000, 4)
	os.WriteFile(filepath.Join(dir, "x.wasm"), mod, 0o644)
	x := filepath.Join(dir, "x.wasm")
	out, errOut, code := e.run(t, "image", "import", x, "wasmpod.local/team/x:v1")
	if code != 0 || out != "wasmpod.local/team/x:v1\n" || !strings.Contains(errOut, "Imported "+x+" (5.0 kB, "+images.Digest(mod)+") as wasmpod.local/team/x:v1") {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	if d, err := e.store.Lookup("team/x", "v1"); err != nil || d != images.Digest(mod) {
		t.Errorf("tag: %s %v", d, err)
	}
	if out, errOut, code := e.run(t, "image", "ls"); code != 0 || out != "IMAGE                     DIGEST                                                                    SIZE\nwasmpod.local/team/x:v1   "+images.Digest(mod)+"   5.0 kB\n" {
		t.Errorf("image ls: %d %q %q", code, out, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{x}, "image import needs FILE.wasm|go://PKG and NAME[:TAG]"},
		{[]string{x, "X"}, `invalid image name "X"`},
		{[]string{x, "x:-1"}, `invalid tag "-1"`},
		{[]string{"ghcr.io/a/b:1", "x"}, `"ghcr.io/a/b:1" is not a module of this machine`},
		{[]string{"./nope.wasm", "x"}, `error: image "./nope.wasm": `},
	} {
		_, errOut, code := e.run(t, append([]string{"image", "import"}, c.args...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("image import %v: %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

// BenchmarkApplyWarmVsCold times `wasmpod apply` of a new pod whose
// ./module.wasm (4 MB) the server's store has already (warm: resolve and
// HEAD) against one whose module is new (cold: resolve, HEAD and upload),
// interleaved in the same run, and reports warm/cold.
func BenchmarkApplyWarmVsCold(b *testing.B) {
	e := newStoreEnv(b)
	dir := b.TempDir()
	const size = 4 << 20
	apply := func(f string) time.Duration {
		start := time.Now()
		if out, errOut, code := e.run(b, "apply", "-f", f); code != 0 || !strings.HasSuffix(out, " created\n") {
			b.Fatalf("apply: %d %q %q", code, out, errOut)
		}
		return time.Since(start)
	}
	warmDir := filepath.Join(dir, "warm")
	writeApp(b, warmDir, "seed", "./my_mod.wasm", fakeModule(size, 0))
	apply(filepath.Join(warmDir, "seed.yaml"))
	var warm, cold time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w := writeApp(b, warmDir, fmt.Sprintf("w%d", i), "./my_mod.wasm", nil)
		c := writeApp(b, filepath.Join(dir, fmt.Sprintf("cold%d", i)), fmt.Sprintf("c%d", i), "./my_mod.wasm", fakeModule(size, byte(i+1)))
		b.StartTimer()
		warm += apply(w)
		cold += apply(c)
	}
	b.ReportMetric(float64(warm.Nanoseconds())/float64(b.N), "ns/warm-apply")
	b.ReportMetric(float64(cold.Nanoseconds())/float64(b.N), "ns/cold-apply")
	b.ReportMetric(float64(warm)/float64(cold), "warm/cold")
}
