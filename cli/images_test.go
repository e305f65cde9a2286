package cli

// images_test.go: wasmpod images, rmi and image build / push / pull against
// a real registry (go-containerregistry's pkg/registry on loopback) with
// the hello guest.

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

func TestImagesBuildPushPullRmi(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	hello := testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello"))
	wasm := filepath.Join(t.TempDir(), "hello.wasm")
	if err := os.WriteFile(wasm, hello, 0o644); err != nil {
		t.Fatal(err)
	}
	noCreds := filepath.Join(t.TempDir(), "config.json") // no credentials from $HOME
	if err := os.WriteFile(noCreds, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	ref := host + "/team/hello:v1"

	// build into store a, push, pull into store b.
	code, out, errOut := runCLI(t, "image", "build", "--data-dir", a, "-t", ref, wasm)
	if code != 0 || !regexp.MustCompile(`^`+regexp.QuoteMeta(host)+`/team/hello@sha256:[0-9a-f]{64}\n$`).MatchString(out) {
		t.Fatalf("build: %d %q %q", code, out, errOut)
	}
	id := strings.TrimSpace(out)
	code, out, errOut = runCLI(t, "image", "push", "--data-dir", a, "--docker-config", noCreds, ref)
	if code != 1 || !strings.Contains(errOut, "plain HTTP to registry "+host+" refused") {
		t.Fatalf("push without --insecure-registry: %d %q %q", code, out, errOut)
	}
	// --max-layer-size bounds pulls; push has no such flag.
	if code, _, errOut = runCLI(t, "image", "push", "--data-dir", a, "--max-layer-size", "1", ref); code != 1 || !strings.Contains(errOut, "unknown flag: --max-layer-size") {
		t.Errorf("push --max-layer-size: %d %q", code, errOut)
	}
	code, out, errOut = runCLI(t, "image", "push", "--data-dir", a, "--docker-config", noCreds, "--insecure-registry", host, ref)
	if want := ref + ": digest: " + strings.TrimPrefix(id, host+"/team/hello@") + "\n"; code != 0 || out != want {
		t.Fatalf("push: %d %q %q, want %q", code, out, errOut, want)
	}
	code, out, errOut = runCLI(t, "image", "pull", "--data-dir", b, "--docker-config", noCreds, "--insecure-registry", host, ref)
	if code != 0 || out != id+"\n" || !strings.Contains(errOut, "Pulled "+ref+" (") {
		t.Fatalf("pull: %d %q %q, want %s", code, out, errOut, id)
	}
	st, err := images.OpenStore(filepath.Join(b, "modules"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(images.Digest(hello)); err != nil || !bytes.Equal(got, hello) {
		t.Fatalf("the pulled module is not the built one: %v", err)
	}

	// images: crictl's columns.
	code, out, _ = runCLI(t, "images", "--data-dir", b)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !regexp.MustCompile(`^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$`).MatchString(lines[0]) {
		t.Fatalf("images: %d\n%s", code, out)
	}
	short := strings.TrimPrefix(id, host+"/team/hello@sha256:")[:13]
	if f := strings.Fields(lines[1]); len(f) < 6 || f[0] != host+"/team/hello" || f[1] != "v1" || f[2] != short || f[len(f)-1] != humanSize4(int64(len(hello))) {
		t.Errorf("images row %q (want %s v1 %s ... %s)", lines[1], host+"/team/hello", short, humanSize4(int64(len(hello))))
	}
	if code, out, _ = runCLI(t, "images", "-q", "--data-dir", b); out != short+"\n" {
		t.Errorf("images -q: %q", out)
	}

	// rmi: by short ID; the blob goes; an unknown image is an error.
	code, out, errOut = runCLI(t, "rmi", "--data-dir", b, short, "nope/none:1")
	if code != 1 || out != "Deleted: "+ref+"\n" || errOut != "error: no such image: nope/none:1\n" {
		t.Errorf("rmi: %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(b, "modules", "blobs", "sha256", strings.TrimPrefix(images.Digest(hello), "sha256:"))); !os.IsNotExist(err) {
		t.Errorf("the blob is still there: %v", err)
	}
	if _, out, _ = runCLI(t, "images", "--data-dir", b); strings.Count(out, "\n") != 1 {
		t.Errorf("images after rmi:\n%s", out)
	}
	// A bad source, a bad tag.
	if code, _, errOut = runCLI(t, "image", "build", "--data-dir", a, "-t", "UPPER/x:1", wasm); code != 1 || !strings.Contains(errOut, "not an OCI reference") {
		t.Errorf("build -t UPPER: %d %q", code, errOut)
	}
	if code, _, errOut = runCLI(t, "image", "pull", "--data-dir", b, "--docker-config", noCreds, "./x.wasm"); code != 1 || !strings.Contains(errOut, "is not an OCI image") {
		t.Errorf("pull ./x.wasm: %d %q", code, errOut)
	}
}

func TestServeConfigImages(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "config.json")
	os.WriteFile(creds, []byte(`{"auths":{"reg.example:5000":{"username":"u","password":"p"}}}`), 0o600)
	write := func(body string) string {
		p := filepath.Join(dir, "serve.yaml")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	cfg, err := loadServeConfig(write("insecureRegistries: [\"127.0.0.1:5000\"]\nimageCredentialsFile: " + creds +
		"\nmaxImageLayerSize: 64Mi\nimageGCHighThresholdPercent: 90\nimageGCLowThresholdPercent: 50\nimageStoreSize: 1Gi\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.registry; r == nil || len(r.Insecure) != 1 || r.MaxLayerSize != 64<<20 || r.Keychain == nil {
		t.Errorf("registry %+v", r)
	}
	if g := cfg.imageGC; g == nil || g.HighThresholdPercent != 90 || g.LowThresholdPercent != 50 || g.Capacity != 1<<30 {
		t.Errorf("image GC %+v", g)
	}
	for body, want := range map[string]string{
		"maxImageLayerSize: lots\n":                                         `maxImageLayerSize: invalid size "lots"`,
		"imageCredentialsFile: " + filepath.Join(dir, "none") + "\n":        "imageCredentialsFile: open ",
		"imageGCHighThresholdPercent: 70\nimageGCLowThresholdPercent: 80\n": "LowThresholdPercent 80 can not be higher than HighThresholdPercent 70",
		"imageGCHighThresholdPercent: 101\n":                                "invalid HighThresholdPercent 101, must be in range [0-100]",
		"insecureRegistries: [\"\"]\n":                                      `insecureRegistries[0]: invalid registry ""`,
	} {
		if _, err := loadServeConfig(write(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
