package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestImagePushKeepsPulledImage: a single-layer container image holding a
// .wasm (the runwasi/WasmEdge shape), built with go-containerregistry
// alone as another tool would (docker media types, gzip, a config with
// env, labels and history, a manifest annotation), pulled into the local
// store with `wasmpod image pull` and pushed to a second loopback registry
// with `wasmpod image push`, arrives unchanged: the same manifest digest
// and bytes. rmi then removes the layer blob it kept.
func TestImagePushKeepsPulledImage(t *testing.T) {
	t.Parallel()
	var regs [2]string
	for i := range regs {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		t.Cleanup(srv.Close)
		regs[i] = strings.TrimPrefix(srv.URL, "http://")
	}
	hello := testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello"))
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range []struct {
		name string
		body []byte
	}{{"README", []byte("hello, as a container image\n")}, {"app/hello.wasm", hello}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg, Uname: "builder"}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.Close()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Write(tb.Bytes())
	zw.Close()
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.DockerManifestSchema2), mutate.Addendum{
		Layer: static.NewLayer(gz.Bytes(), types.DockerLayer), MediaType: types.DockerLayer,
		History: v1.History{CreatedBy: "COPY hello.wasm /app/", Comment: "foreign"}})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "wasip1", "wasm"
	cf.Config.Entrypoint = []string{"/app/hello.wasm"}
	cf.Config.Env = []string{"GREETING=hi"}
	cf.Config.Labels = map[string]string{"org.opencontainers.image.source": "https://example.com/hello"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	img = mutate.Annotations(img, map[string]string{"run.oci.handler": "wasm"}).(v1.Image)
	src := regs[0] + "/foreign/hello:v1"
	ref := func(s string) name.Reference {
		r, err := name.ParseReference(s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := remote.Write(ref(src), img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	wantRaw, _ := img.RawManifest()

	dir := t.TempDir()
	noCreds := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(noCreds, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--data-dir", dir, "--docker-config", noCreds, "--insecure-registry", regs[0], "--insecure-registry", regs[1]}
	cmd := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append(append(args[:2:2], flags...), args[2:]...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	if out := cmd("image", "pull", src); out != regs[0]+"/foreign/hello@"+want.String()+"\n" {
		t.Fatalf("pull printed %q, want the image ID of %s", out, want)
	}
	dest := regs[1] + "/copy/hello:v2"
	if out, wantOut := cmd("image", "push", src, dest), dest+": digest: "+want.String()+"\n"; out != wantOut {
		t.Errorf("push printed %q, want %q", out, wantOut)
	}
	got, err := remote.Get(ref(dest))
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != want || !bytes.Equal(got.Manifest, wantRaw) {
		t.Errorf("pushed manifest %s:\n%s\nwant %s:\n%s", got.Digest, got.Manifest, want, wantRaw)
	}
	pushed, err := got.Image()
	if err != nil {
		t.Fatal(err)
	}
	if l, err := pushed.Layers(); err != nil || len(l) != 1 {
		t.Fatalf("pushed layers %v %v", l, err)
	} else if rc, err := l[0].Compressed(); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(rc); !bytes.Equal(b, gz.Bytes()) {
		t.Errorf("the pushed layer is not the pulled one")
	}

	// rmi removes the kept layer with the image.
	layers := filepath.Join(dir, "modules", "layers", "sha256")
	if ents, _ := os.ReadDir(layers); len(ents) != 1 {
		t.Fatalf("%d kept layer blobs, want 1", len(ents))
	}
	if code, out, errOut := runCLI(t, "rmi", "--data-dir", dir, src); code != 0 {
		t.Fatalf("rmi: exit %d\n%s%s", code, out, errOut)
	}
	if ents, _ := os.ReadDir(layers); len(ents) != 0 {
		t.Errorf("%d layer blobs left after rmi", len(ents))
	}
}
