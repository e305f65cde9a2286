package images_test

// oci_test.go: pulls from a real OCI registry (go-containerregistry's
// pkg/registry, on loopback) of real modules (the hello guest built by
// internal/testwasm), and every way a pull can fail.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	helloOnce sync.Once
	helloMod  []byte
)

func helloModule(t testing.TB) []byte {
	helloOnce.Do(func() { helloMod = testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "hello")) })
	if helloMod == nil {
		t.Fatal("hello guest did not build")
	}
	return helloMod
}

// testRegistry is a loopback registry; wrap, when set, sees every request.
type testRegistry struct {
	host string
	srv  *httptest.Server
	// blobGets counts GETs of blobs; manifestGets of manifests.
	blobGets, manifestGets atomic.Int64
	mu                     sync.Mutex
	wrap                   func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
}

func startRegistry(t testing.TB) *testRegistry {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	tr := &testRegistry{}
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			tr.blobGets.Add(1)
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.URL.Path, "/manifests/") {
			tr.manifestGets.Add(1)
		}
		tr.mu.Lock()
		wrap := tr.wrap
		tr.mu.Unlock()
		if wrap != nil && wrap(w, r, reg) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func (tr *testRegistry) setWrap(f func(w http.ResponseWriter, r *http.Request, next http.Handler) bool) {
	tr.mu.Lock()
	tr.wrap = f
	tr.mu.Unlock()
}

// push writes img as ref (a test push: plain HTTP to loopback).
func push(t testing.TB, ref string, img v1.Image, opts ...remote.Option) string {
	t.Helper()
	nref, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(nref, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func artifact(t testing.TB, module []byte) v1.Image {
	t.Helper()
	img, err := images.WasmArtifact(module, testTime)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func newResolver(t testing.TB, tr *testRegistry) *images.Resolver {
	t.Helper()
	st, err := images.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &images.Resolver{Store: st, Registry: &images.RegistryConfig{Insecure: []string{tr.host}}}
}

func wantPullErr(t *testing.T, err error, kind error, sub string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", sub)
	}
	if !errors.Is(err, kind) {
		t.Errorf("%v: want %v", err, kind)
	}
	var e *images.Error
	if !errors.As(err, &e) {
		t.Errorf("%v is not an *images.Error", err)
	}
	if !strings.Contains(err.Error(), sub) {
		t.Errorf("error %q\nwant it to contain %q", err, sub)
	}
}

// noBlobs: nothing of a failed pull became a blob (nor was left in tmp).
func noBlobs(t *testing.T, r *images.Resolver) {
	t.Helper()
	for _, d := range []string{"blobs/sha256", "tmp"} {
		ents, err := os.ReadDir(filepath.Join(r.Store.Dir(), d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			t.Errorf("%s/%s left behind by a failed pull", d, e.Name())
		}
	}
	if u := r.Store.Usage(); u != 0 {
		t.Errorf("store usage %d after a failed pull", u)
	}
	if n := len(r.Store.OCIImages()); n != 0 {
		t.Errorf("%d images recorded after a failed pull", n)
	}
}

func TestOCIPullWasmArtifact(t *testing.T) {
	t.Parallel()
	mod := helloModule(t)
	tr := startRegistry(t)
	ref := tr.host + "/hello:v1"
	manifest := push(t, ref, artifact(t, mod))
	r := newResolver(t, tr)
	ctx := context.Background()

	pulls := 0
	var last int64
	pctx := images.WithPullOptions(ctx, images.PullOptions{OnPull: func() { pulls++ },
		Progress: func(done, total int64) { last = done }})
	img, err := r.Resolve(pctx, ref, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img.Bytes, mod) || img.Digest != images.Digest(mod) {
		t.Fatalf("pulled %d bytes (%s), want the hello module (%d bytes)", len(img.Bytes), img.Digest, len(mod))
	}
	if want := tr.host + "/hello@" + manifest; img.ID != want || img.ImageID() != want {
		t.Errorf("image ID %q, want %q", img.ID, want)
	}
	if pulls != 1 || last != int64(len(mod)) {
		t.Errorf("OnPull called %d times, progress ended at %d of %d", pulls, last, len(mod))
	}
	if b, err := os.ReadFile(filepath.Join(r.Store.Dir(), "blobs", "sha256", strings.TrimPrefix(img.Digest, "sha256:"))); err != nil || !bytes.Equal(b, mod) {
		t.Errorf("the module is not the store's blob: %v", err)
	}
	list := r.Store.OCIImages()
	if len(list) != 1 || list[0].Ref != ref || list[0].Tag != "v1" || list[0].Manifest != manifest || list[0].Size != int64(len(mod)) || !list[0].Created.Equal(testTime) {
		t.Errorf("index %+v", list)
	}

	// IfNotPresent (the default for :v1): the store has it, no request,
	// and the module verified at the pull is not read and hashed again
	// (the same Image: each pod start resolves it).
	before := tr.manifestGets.Load() + tr.blobGets.Load()
	again, err := r.Resolve(pctx, ref, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := tr.manifestGets.Load() + tr.blobGets.Load(); n != before || pulls != 1 {
		t.Errorf("IfNotPresent of a present image made %d requests, OnPull %d", n-before, pulls)
	}
	if again != img {
		t.Errorf("IfNotPresent of a present image read the module again (a new Image)")
	}
	// Always: the manifest is asked for, the blob is not fetched again.
	manifests, blobs := tr.manifestGets.Load(), tr.blobGets.Load()
	actx := images.WithPullOptions(ctx, images.PullOptions{Policy: images.PullAlways, OnPull: func() { pulls++ }})
	if _, err := r.Resolve(actx, ref, ""); err != nil {
		t.Fatal(err)
	}
	if tr.manifestGets.Load() == manifests || tr.blobGets.Load() != blobs || pulls != 2 {
		t.Errorf("Always: manifest GETs %d -> %d, blob GETs %d -> %d, OnPull %d", manifests, tr.manifestGets.Load(), blobs, tr.blobGets.Load(), pulls)
	}
	// Once the image is removed (wasmpod rmi, image GC), IfNotPresent
	// pulls it again rather than reusing what it had read.
	if err := r.Store.RemoveOCIImage(ref, nil); err != nil {
		t.Fatal(err)
	}
	blobs = tr.blobGets.Load()
	if again, err = r.Resolve(pctx, ref, ""); err != nil {
		t.Fatal(err)
	}
	if pulls != 3 || tr.blobGets.Load() == blobs || !bytes.Equal(again.Bytes, mod) {
		t.Errorf("IfNotPresent after rmi: OnPull %d, blob GETs %d -> %d", pulls, blobs, tr.blobGets.Load())
	}
	// By digest, from a new resolver over the same store directory (the
	// index is on disk).
	st2, err := images.OpenStore(r.Store.Dir())
	if err != nil {
		t.Fatal(err)
	}
	r2 := &images.Resolver{Store: st2}
	nctx := images.WithPullOptions(ctx, images.PullOptions{Policy: images.PullNever})
	img2, err := r2.Resolve(nctx, tr.host+"/hello@"+manifest, "")
	if err != nil || img2.Digest != img.Digest {
		t.Fatalf("by digest, Never, from the reopened store: %v", err)
	}
	// Never and absent: ErrImageNeverPull's message.
	_, err = r2.Resolve(nctx, tr.host+"/hello:v2", "")
	wantPullErr(t, err, images.ErrNeverPull, fmt.Sprintf(`Container image "%s/hello:v2" is not present with pull policy of Never`, tr.host))
}

func TestOCIPullContainerImage(t *testing.T) {
	t.Parallel()
	mod := helloModule(t)
	tr := startRegistry(t)
	r := newResolver(t, tr)
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		path       string
		entrypoint []string
		gzip       bool
		err        string
	}{
		{name: "gzip-entrypoint", path: "app/hello.wasm", entrypoint: []string{"/app/hello.wasm"}, gzip: true},
		{name: "tar-entrypoint", path: "./hello.wasm", entrypoint: []string{"hello.wasm", "--flag"}},
		{name: "no-entrypoint", path: "bin/only.wasm"},
		{name: "entrypoint-missing", path: "app/hello.wasm", entrypoint: []string{"/app/other.wasm"}, err: `the image's entrypoint "/app/other.wasm" is not in its layer (it holds app/hello.wasm)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := images.ContainerImage(mod, tc.path, tc.entrypoint, tc.gzip)
			if err != nil {
				t.Fatal(err)
			}
			ref := tr.host + "/ctr-" + tc.name + ":1.0"
			push(t, ref, img)
			got, err := r.Resolve(ctx, ref, "")
			if tc.err != "" {
				wantPullErr(t, err, images.ErrPull, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes, mod) {
				t.Errorf("pulled %d bytes, want the module", len(got.Bytes))
			}
		})
	}
}

// TestOCIPullForeignImages: images packed by go-containerregistry alone
// (not by images.WasmArtifact or ContainerImage), with the media types
// spelled as the tools that push them do: the wasm artifact with the CNCF
// layer type application/wasm and with wasm-to-oci's
// application/vnd.wasm.content.layer.v1+wasm, and a runwasi-style container
// image (crane.Layer, a Docker gzip layer) whose Entrypoint and Cmd are
// the pod's argv.
func TestOCIPullForeignImages(t *testing.T) {
	t.Parallel()
	mod := helloModule(t)
	tr := startRegistry(t)
	r := newResolver(t, tr)
	ctx := context.Background()
	for _, layerType := range []string{"application/wasm", "application/vnd.wasm.content.layer.v1+wasm"} {
		img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(mod, types.MediaType(layerType))})
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), "application/vnd.wasm.config.v0+json")
		ref := tr.host + "/foreign/artifact:" + strings.NewReplacer("/", "-", "+", "-", ".", "-").Replace(layerType)
		push(t, ref, img)
		got, err := r.Resolve(ctx, ref, "")
		if err != nil {
			t.Fatalf("%s: %v", layerType, err)
		}
		if !bytes.Equal(got.Bytes, mod) {
			t.Errorf("%s: pulled %d bytes, want the module", layerType, len(got.Bytes))
		}
	}
	layer, err := crane.Layer(map[string][]byte{"etc/motd": []byte("hi\n"), "app/main.wasm": mod})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "wasip1", "wasm"
	cf.Config.Entrypoint, cf.Config.Cmd = []string{"/app/main.wasm"}, []string{"--port", "80"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := tr.host + "/foreign/container:1"
	push(t, ref, img)
	got, err := r.Resolve(ctx, ref, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes, mod) {
		t.Errorf("container image: pulled %d bytes, want the module", len(got.Bytes))
	}
	argv, err := got.Argv(nil, false, 1<<10)
	if want := "/app/main.wasm --port 80"; err != nil || strings.Join(argv, " ") != want {
		t.Errorf("container image argv %q (%v), want %q", argv, err, want)
	}
}

// TestOCIPullRefused: each bad image or registry is an ErrPull naming the
// cause, and leaves nothing in the store.
func TestOCIPullRefused(t *testing.T) {
	t.Parallel()
	mod := helloModule(t)
	tr := startRegistry(t)
	ctx := context.Background()

	notWasm, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer([]byte("#!/bin/sh\necho hi\n"), images.MediaTypeWasmLayer)})
	if err != nil {
		t.Fatal(err)
	}
	notWasm = mutate.ConfigMediaType(mutate.MediaType(notWasm, types.OCIManifestSchema1), images.MediaTypeWasmConfig)
	push(t, tr.host+"/notwasm:1", notWasm)
	helmish := mutate.ConfigMediaType(mutate.MediaType(artifact(t, mod), types.OCIManifestSchema1), "application/vnd.cncf.helm.config.v1+json")
	push(t, tr.host+"/helm:1", helmish)
	noWasmTar, err := images.ContainerImage([]byte("\x7fELF not wasm"), "bin/app", []string{"/bin/app"}, true)
	if err != nil {
		t.Fatal(err)
	}
	push(t, tr.host+"/elf:1", noWasmTar)
	two, err := mutate.Append(noWasmTar, mutate.Addendum{Layer: static.NewLayer([]byte("x"), types.OCIUncompressedLayer)})
	if err != nil {
		t.Fatal(err)
	}
	push(t, tr.host+"/twolayers:1", two)
	push(t, tr.host+"/hello:v1", artifact(t, mod))

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name, ref, want string
		cfg             func(*images.RegistryConfig)
		kind            error
	}{
		{name: "non-wasm layer", ref: tr.host + "/notwasm:1", want: "not a WebAssembly module"},
		{name: "unknown media type", ref: tr.host + "/helm:1", want: `unknown config media type "application/vnd.cncf.helm.config.v1+json"`},
		{name: "non-wasm tar", ref: tr.host + "/elf:1", want: `/bin/app in layer`},
		{name: "two layers", ref: tr.host + "/twolayers:1", want: "exactly one layer holding the module; this one has 2"},
		{name: "missing tag", ref: tr.host + "/hello:nope", want: "not found"},
		{name: "layer limit", ref: tr.host + "/hello:v1", want: "over the 1024-byte layer size limit", cfg: func(c *images.RegistryConfig) { c.MaxLayerSize = 1024 }},
		{name: "plain HTTP not configured", ref: tr.host + "/hello:v1", want: "plain HTTP to registry " + tr.host + " refused", cfg: func(c *images.RegistryConfig) { c.Insecure = nil }},
		{name: "unreachable", ref: unreachable + "/hello:v1", want: "connection refused", cfg: func(c *images.RegistryConfig) { c.Insecure = []string{unreachable} }},
		{name: "invalid", ref: tr.host + "/Hello:v1", want: "invalid reference format", kind: images.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(t, tr)
			if tc.cfg != nil {
				tc.cfg(r.Registry)
			}
			_, err := r.Resolve(ctx, tc.ref, "")
			kind := tc.kind
			if kind == nil {
				kind = images.ErrPull
			}
			wantPullErr(t, err, kind, tc.want)
			if kind == images.ErrPull && !strings.Contains(err.Error(), "failed to") {
				t.Errorf("%v: want containerd's wording (failed to resolve reference / failed to pull and unpack image)", err)
			}
			noBlobs(t, r)
		})
	}
}

// TestOCIPullCorruptBlob: a blob whose bytes do not match its digest, and
// a blob cut short by the server closing the connection, fail the pull and
// never become blobs.
func TestOCIPullCorruptBlob(t *testing.T) {
	t.Parallel()
	mod := helloModule(t)
	tr := startRegistry(t)
	ref := tr.host + "/hello:v1"
	push(t, ref, artifact(t, mod))
	layer := "/blobs/" + images.Digest(mod)
	serveBlob := func(w http.ResponseWriter, r *http.Request, next http.Handler, stall bool, edit func(b []byte) (body []byte, cut bool)) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, layer) {
			return false
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body, cut := edit(rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(mod)))
		w.WriteHeader(rec.Code)
		w.Write(body)
		if stall {
			w.(http.Flusher).Flush()
			<-r.Context().Done() // the client gives up
			return true
		}
		if cut {
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
		return true
	}
	for _, tc := range []struct {
		name  string
		edit  func(b []byte) ([]byte, bool)
		want  string
		stall bool
	}{
		{name: "digest mismatch", want: "digest mismatch: reading layer " + images.Digest(mod), edit: func(b []byte) ([]byte, bool) {
			c := bytes.Clone(b)
			c[len(c)/2] ^= 0xff
			return c, false
		}},
		{name: "interrupted", want: "unexpected EOF", edit: func(b []byte) ([]byte, bool) { return b[:len(b)/2], true }},
		{name: "stalled", want: "image pull stalled: cancelled because of no progress in 300ms", stall: true, edit: func(b []byte) ([]byte, bool) { return b[:len(b)/2], false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr2 := startRegistry(t) // a registry per case: the edit is per server
			push(t, tr2.host+"/hello:v1", artifact(t, mod))
			tr2.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				return serveBlob(w, r, next, tc.stall, tc.edit)
			})
			r := newResolver(t, tr2)
			r.Registry.ProgressTimeout = 300 * time.Millisecond
			_, err := r.Resolve(context.Background(), tr2.host+"/hello:v1", "")
			wantPullErr(t, err, images.ErrPull, tc.want)
			noBlobs(t, r)
			// The registry mended: the next pull succeeds.
			tr2.setWrap(nil)
			if _, err := r.Resolve(context.Background(), tr2.host+"/hello:v1", ""); err != nil {
				t.Fatalf("after the registry mended: %v", err)
			}
		})
	}
}

// TestOCIPullAuth: a registry behind basic auth refuses an anonymous pull
// (401) and accepts the credentials of a dockerconfigjson Secret, or of
// the node's docker config.
func TestOCIPullAuth(t *testing.T) {
	t.Parallel()
	mod := helloModule(t)
	tr := startRegistry(t)
	tr.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if u, p, ok := r.BasicAuth(); ok && u == "puller" && p == "s3cret" {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return true
	})
	ref := tr.host + "/private/hello:v1"
	auth := base64.StdEncoding.EncodeToString([]byte("puller:s3cret"))
	good := []byte(`{"auths":{"` + tr.host + `":{"auth":"` + auth + `"}}}`)
	wrong := []byte(`{"auths":{"http://` + tr.host + `/v1/":{"username":"puller","password":"nope"}}}`)
	other := []byte(`{"auths":{"` + tr.host + `/public":{"auth":"` + auth + `"}}}`)
	kc, err := images.DockerConfigKeychain(good)
	if err != nil {
		t.Fatal(err)
	}
	push(t, ref, artifact(t, mod), remote.WithAuthFromKeychain(kc), remote.WithContext(context.Background()))
	ctx := context.Background()

	r := newResolver(t, tr)
	_, err = r.Resolve(ctx, ref, "")
	wantPullErr(t, err, images.ErrPull, "pull access denied, repository does not exist or may require authorization: authorization failed: 401 Unauthorized")
	for _, cfg := range [][]byte{wrong, other} {
		skc, err := images.SecretKeychain([][]byte{cfg})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Resolve(images.WithPullOptions(ctx, images.PullOptions{Keychain: skc}), ref, "")
		wantPullErr(t, err, images.ErrPull, "401")
	}
	noBlobs(t, r)
	// The pod's secret: a wrong one first, the right one second.
	skc, err := images.SecretKeychain([][]byte{
		images.PullSecretData(map[string][]byte{".dockercfg": other}),
		images.PullSecretData(map[string][]byte{".dockerconfigjson": good, ".dockercfg": []byte("{}")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if img, err := r.Resolve(images.WithPullOptions(ctx, images.PullOptions{Keychain: skc}), ref, ""); err != nil || !bytes.Equal(img.Bytes, mod) {
		t.Fatalf("with the secret: %v", err)
	}
	// The node's config.
	r2 := newResolver(t, tr)
	r2.Registry.Keychain = kc
	if _, err := r2.Resolve(ctx, ref, ""); err != nil {
		t.Fatalf("with the node's credentials: %v", err)
	}
}

func TestDockerConfigKeychain(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("u:p"))
	for _, tc := range []struct {
		cfg, ref string
		user     string // "" = anonymous
	}{
		{`{"auths":{"https://index.docker.io/v1/":{"auth":"` + auth + `"}}}`, "busybox", "u"},
		{`{"auths":{"docker.io":{"username":"u","password":"p"}}}`, "docker.io/library/busybox:1", "u"},
		{`{"auths":{"*.example.com":{"auth":"` + auth + `"}}}`, "r.example.com/x/y:1", "u"},
		{`{"auths":{"*.example.com":{"auth":"` + auth + `"}}}`, "a.r.example.com/x/y:1", ""},
		{`{"auths":{"reg.io/team":{"auth":"` + auth + `"}}}`, "reg.io/team/app:1", "u"},
		{`{"auths":{"reg.io/team":{"auth":"` + auth + `"}}}`, "reg.io/teamx/app:1", ""},
		{`{"reg.io:5000":{"auth":"` + auth + `"}}`, "reg.io:5000/app:1", "u"},
	} {
		kc, err := images.DockerConfigKeychain([]byte(tc.cfg))
		if err != nil {
			t.Fatal(err)
		}
		nref, err := name.ParseReference(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(nref.Context())
		if err != nil {
			t.Fatal(err)
		}
		ac, _ := a.Authorization()
		if ac.Username != tc.user {
			t.Errorf("%s for %s: user %q, want %q", tc.cfg, tc.ref, ac.Username, tc.user)
		}
	}
	for _, bad := range []string{`[]`, `{"auths":{"x":{"auth":"!!"}}}`, `{"auths":{"x":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("nocolon")) + `"}}}`} {
		if _, err := images.DockerConfigKeychain([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
