package wasmpod_test

// Issue 14 section 1: pods whose images are OCI references, pulled from a
// real registry (go-containerregistry's pkg/registry on loopback) into the
// node's module store, driven by the real kubectl v1.37: kubectl run to
// Succeeded and its logs, the pull events and imageID, IfNotPresent and
// Never, a registry behind basic auth with a kubernetes.io/dockerconfigjson
// Secret, a wrong digest and a non-wasm layer (ErrImagePull, then
// ImagePullBackOff), and the busybox alias beside them.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

type ociEnv struct {
	c        *wasmpod.Cluster
	host     string                             // the registry's host:port
	kubectl  func(args ...string) (string, int) // serveKubectl's: the real kubectl
	blobGets atomic.Int64
	// manifestGets counts manifest requests by repository.
	manifestGets sync.Map // repo -> *atomic.Int64
}

func (e *ociEnv) manifestRequests(repo string) int64 {
	n, _ := e.manifestGets.LoadOrStore(repo, new(atomic.Int64))
	return n.(*atomic.Int64).Load()
}

const ociUser, ociPassword = "puller", "s3cret"

// newOCIEnv starts a registry (its /private/ repositories behind basic
// auth) and a cluster that may reach it over plain HTTP, with the toolbox
// in its module store for the busybox alias.
func newOCIEnv(t *testing.T, opts ...func(*wasmpod.Config)) *ociEnv {
	t.Helper()
	e := &ociEnv{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/private/") {
			if u, p, ok := r.BasicAuth(); !ok || u != ociUser || p != ociPassword {
				w.Header().Set("WWW-Authenticate", `Basic realm="wasmpod-test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			e.blobGets.Add(1)
		}
		if repo, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/"); ok {
			n, _ := e.manifestGets.LoadOrStore(repo, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.host = strings.TrimPrefix(srv.URL, "http://")
	store := moduleStore(t, map[string][]byte{"toolbox:latest": exampleModule(t, "toolbox")})
	cfg := wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store,
		Registry:     &images.RegistryConfig{Insecure: []string{e.host}},
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := wasmpod.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e.c = c
	kubectl, api := serveKubectl(t, c)
	u, _ := url.Parse(api)
	c.SetAPIServerAddress(netip.MustParseAddrPort(u.Host))
	e.kubectl = kubectl
	return e
}

func (e *ociEnv) mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, code := e.kubectl(args...)
	if code != 0 {
		t.Fatalf("kubectl %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (e *ociEnv) push(t *testing.T, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(e.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	kc := authn.FromConfig(authn.AuthConfig{Username: ociUser, Password: ociPassword})
	if err := remote.Write(ref, img, remote.WithAuth(kc)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, _ := img.Digest()
	return d.String()
}

func (e *ociEnv) wait(t *testing.T, pod, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := e.c.WaitPod(ctx, "default", pod, cond)
	if err != nil {
		t.Fatalf("pod %s: waiting for %s: %v\n%s", pod, what, err, e.describe(t, pod))
	}
	return p
}

func (e *ociEnv) describe(t *testing.T, pod string) string {
	out, _ := e.kubectl("describe", "pod", pod)
	return out
}

func succeeded(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded }

func waitingFor(reason string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == reason {
				return true
			}
		}
		return false
	}
}

func TestOCIImagesE2E(t *testing.T) {
	e := newOCIEnv(t)
	hello := exampleModule(t, "hello")
	art, err := images.WasmArtifact(hello, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	manifest := e.push(t, "hello:v1", art)
	e.push(t, "private/hello:v1", art)
	junk, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer([]byte("MZ\x90\x00 not a module"), images.MediaTypeWasmLayer)})
	if err != nil {
		t.Fatal(err)
	}
	e.push(t, "notwasm:v1", mutate.ConfigMediaType(mutate.MediaType(junk, types.OCIManifestSchema1), images.MediaTypeWasmConfig))
	cs := e.c.Client()

	t.Run("kubectl run", func(t *testing.T) {
		ref := e.host + "/hello:v1"
		out := e.mustKubectl(t, "run", "oci-hello", "--image="+ref, "--restart=Never", "--", "a", "b")
		if !strings.Contains(out, "pod/oci-hello created") {
			t.Fatalf("kubectl run: %s", out)
		}
		p := e.wait(t, "oci-hello", "Succeeded", succeeded)
		if got := e.mustKubectl(t, "logs", "oci-hello"); got != "hello from an unnamed pod\nargs: a b\n" {
			t.Errorf("logs %q", got)
		}
		if id, want := p.Status.ContainerStatuses[0].ImageID, e.host+"/hello@"+manifest; id != want {
			t.Errorf("imageID %q, want %q", id, want)
		}
		if got := e.mustKubectl(t, "get", "pod", "oci-hello", "-o", "jsonpath={.spec.containers[0].imagePullPolicy} {.status.containerStatuses[0].imageID}"); got != "IfNotPresent "+e.host+"/hello@"+manifest {
			t.Errorf("kubectl get -o jsonpath: %q", got)
		}
		ev := podEventsWith(t, cs, "oci-hello", fmt.Sprintf("including waiting). Image size: %d bytes.", len(hello)))
		for _, want := range []string{
			fmt.Sprintf("Normal Pulling: Pulling image %q", ref),
			fmt.Sprintf("Normal Pulled: Successfully pulled image %q in ", ref),
			fmt.Sprintf("including waiting). Image size: %d bytes.", len(hello)),
		} {
			if !strings.Contains(ev, want) {
				t.Errorf("events lack %q:\n%s", want, ev)
			}
		}
		// A second pod: IfNotPresent, the node has it; nothing fetched.
		blobs := e.blobGets.Load()
		e.mustKubectl(t, "run", "oci-hello2", "--image="+ref, "--restart=Never")
		e.wait(t, "oci-hello2", "Succeeded", succeeded)
		if ev := podEvents(t, cs, "oci-hello2"); !strings.Contains(ev, fmt.Sprintf("Normal Pulled: Container image %q already present on machine and can be accessed by the pod", ref)) || strings.Contains(ev, "Pulling") {
			t.Errorf("second pod's events:\n%s", ev)
		}
		if n := e.blobGets.Load(); n != blobs {
			t.Errorf("the second pod fetched %d blobs", n-blobs)
		}
		// Never, present: runs.
		e.mustKubectl(t, "run", "oci-never-ok", "--image="+ref, "--restart=Never", "--image-pull-policy=Never")
		e.wait(t, "oci-never-ok", "Succeeded", succeeded)
	})

	// Always: every start of the container pulls (asks the registry for
	// the manifest), a restart too, as the kubelet's image manager; the
	// module is not fetched again.
	t.Run("always at each start", func(t *testing.T) {
		e.push(t, "always/hello:v1", art)
		ref := e.host + "/always/hello:v1"
		pushed := e.manifestRequests("always/hello")
		e.mustKubectl(t, "run", "oci-always", "--image="+ref, "--restart=Always", "--image-pull-policy=Always")
		e.wait(t, "oci-always", "a restart", func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
		if n := e.manifestRequests("always/hello") - pushed; n < 2 {
			t.Errorf("%d manifest requests for two starts under Always, want a pull at each", n)
		}
		if ev := podEvents(t, cs, "oci-always"); strings.Contains(ev, "already present") {
			t.Errorf("a restart under Always did not pull:\n%s", ev)
		}
		e.mustKubectl(t, "delete", "pod", "oci-always", "--wait=false")
	})

	t.Run("never", func(t *testing.T) {
		ref := e.host + "/absent:v1"
		e.mustKubectl(t, "run", "oci-never", "--image="+ref, "--restart=Never", "--image-pull-policy=Never")
		p := e.wait(t, "oci-never", "ErrImageNeverPull", waitingFor("ErrImageNeverPull"))
		want := fmt.Sprintf("Container image %q is not present with pull policy of Never", ref)
		if m := p.Status.ContainerStatuses[0].State.Waiting.Message; m != want {
			t.Errorf("message %q, want %q", m, want)
		}
		if ev := podEventsWith(t, cs, "oci-never", "Warning ErrImageNeverPull: "+want); !strings.Contains(ev, "Warning ErrImageNeverPull: "+want) {
			t.Errorf("events:\n%s", ev)
		}
		if out := e.mustKubectl(t, "get", "pod", "oci-never"); !strings.Contains(out, "ErrImageNeverPull") {
			t.Errorf("kubectl get: %s", out)
		}
	})

	t.Run("auth", func(t *testing.T) {
		ref := e.host + "/private/hello:v1"
		e.mustKubectl(t, "run", "oci-noauth", "--image="+ref, "--restart=Never")
		p := e.wait(t, "oci-noauth", "ImagePullBackOff", waitingFor("ImagePullBackOff"))
		msg := p.Status.ContainerStatuses[0].State.Waiting.Message
		for _, want := range []string{fmt.Sprintf("Back-off pulling image %q: ErrImagePull: Failed to pull image %q: ", ref, ref), "401 Unauthorized"} {
			if !strings.Contains(msg, want) {
				t.Errorf("waiting message %q lacks %q", msg, want)
			}
		}
		if want := fmt.Sprintf("Warning Failed: Failed to pull image %q: ", ref); !strings.Contains(podEventsWith(t, cs, "oci-noauth", want), want) {
			t.Errorf("events lack %q:\n%s", want, podEvents(t, cs, "oci-noauth"))
		}
		// kubectl create secret docker-registry makes a dockerconfigjson Secret.
		e.mustKubectl(t, "create", "secret", "docker-registry", "regcred", "--docker-server="+e.host, "--docker-username="+ociUser, "--docker-password="+ociPassword)
		manifest := filepath.Join(t.TempDir(), "oci-auth.yaml")
		if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: oci-auth
spec:
  restartPolicy: Never
  imagePullSecrets: [{name: missing}, {name: regcred}]
  containers:
  - name: main
    image: `+ref+`
    args: [private]
`), 0o600); err != nil {
			t.Fatal(err)
		}
		e.mustKubectl(t, "apply", "-f", manifest)
		e.wait(t, "oci-auth", "Succeeded", succeeded)
		if got := e.mustKubectl(t, "logs", "oci-auth"); got != "hello from an unnamed pod\nargs: private\n" {
			t.Errorf("logs %q", got)
		}
		const secretWarning = "Warning FailedToRetrieveImagePullSecret: Unable to retrieve some image pull secrets (default/missing); attempting to pull the image may not succeed."
		if ev := podEventsWith(t, cs, "oci-auth", secretWarning); !strings.Contains(ev, secretWarning) {
			t.Errorf("events:\n%s", ev)
		}
	})

	t.Run("bad images", func(t *testing.T) {
		for _, tc := range []struct{ pod, ref, want string }{
			{"oci-notwasm", e.host + "/notwasm:v1", "not a WebAssembly module"},
			{"oci-wrongdigest", e.host + "/hello@sha256:" + strings.Repeat("0", 64), "not found"},
		} {
			e.mustKubectl(t, "run", tc.pod, "--image="+tc.ref, "--restart=Never")
			p := e.wait(t, tc.pod, "ErrImagePull", func(p *corev1.Pod) bool {
				return waitingFor("ErrImagePull")(p) || waitingFor("ImagePullBackOff")(p)
			})
			w := p.Status.ContainerStatuses[0].State.Waiting
			if !strings.Contains(w.Message, fmt.Sprintf("Failed to pull image %q: ", tc.ref)) || !strings.Contains(w.Message, tc.want) {
				t.Errorf("%s: waiting %s %q, want it to name %q", tc.pod, w.Reason, w.Message, tc.want)
			}
			if out := e.mustKubectl(t, "get", "pod", tc.pod); !strings.Contains(out, "ErrImagePull") && !strings.Contains(out, "ImagePullBackOff") {
				t.Errorf("kubectl get: %s", out)
			}
		}
	})

	// A single-layer container image (runwasi's shape): the config's
	// Entrypoint names the module in the layer; Entrypoint and Cmd are the
	// arguments of a container without command, as upstream.
	t.Run("container image entrypoint", func(t *testing.T) {
		img, err := images.ContainerImage(hello, "app/hello.wasm", []string{"/app/hello.wasm", "from-entrypoint"}, true)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.Cmd = []string{"from-cmd"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		e.push(t, "ctr/hello:v1", img)
		ref := e.host + "/ctr/hello:v1"
		e.mustKubectl(t, "run", "oci-ctr", "--image="+ref, "--restart=Never")
		e.mustKubectl(t, "run", "oci-ctr-args", "--image="+ref, "--restart=Never", "--", "mine")
		e.mustKubectl(t, "run", "oci-ctr-command", "--image="+ref, "--restart=Never", "--command", "--", "hello", "own")
		for pod, want := range map[string]string{"oci-ctr": "args: from-entrypoint from-cmd\n", "oci-ctr-args": "args: from-entrypoint mine\n", "oci-ctr-command": "args: own\n"} {
			e.wait(t, pod, "Succeeded", succeeded)
			if got := e.mustKubectl(t, "logs", pod); got != "hello from an unnamed pod\n"+want {
				t.Errorf("%s: logs %q, want ...%q", pod, got, want)
			}
		}
	})

	t.Run("busybox alias", func(t *testing.T) {
		e.mustKubectl(t, "run", "oci-busybox", "--image=busybox:1.36", "--restart=Never", "--", "sh", "-c", "echo still the toolbox")
		e.wait(t, "oci-busybox", "Succeeded", succeeded)
		if got := e.mustKubectl(t, "logs", "oci-busybox"); got != "still the toolbox\n" {
			t.Errorf("logs %q", got)
		}
	})
}

// TestOCIImageGCE2E: with image GC on a store whose "disk" holds about
// three modules, the pull that passes 85% removes the least recently used
// image no pod uses, and keeps the one a pod still uses.
func TestOCIImageGCE2E(t *testing.T) {
	hello := exampleModule(t, "hello")
	var mods [][]byte
	for i := range 3 {
		// Distinct modules of the same size: a custom section named by i.
		mods = append(mods, append(bytes.Clone(hello), 0, 4, 2, 'g', byte('0'+i), 0))
	}
	store := int64(len(mods[0])) * 3 * 100 / 90 // three modules are 90% of it
	e := newOCIEnv(t, func(c *wasmpod.Config) {
		c.Modules = images.NewMemoryStore() // the OCI images alone
		c.ImageGC = &images.GCPolicy{Capacity: store, MinAge: -1}
	})
	for i, m := range mods {
		art, err := images.WasmArtifact(m, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.push(t, fmt.Sprintf("gc%d:v1", i), art)
	}
	refs := func() string {
		var names []string
		for _, im := range e.c.Modules().OCIImages() {
			names = append(names, strings.TrimPrefix(im.Ref, e.host+"/"))
		}
		return strings.Join(names, " ")
	}
	// gc0's pod is deleted (its image unused); gc1's pod stays.
	for i := range 3 {
		pod := fmt.Sprintf("gc%d", i)
		e.mustKubectl(t, "run", pod, fmt.Sprintf("--image=%s/gc%d:v1", e.host, i), "--restart=Never")
		e.wait(t, pod, "Succeeded", succeeded)
		if i == 0 {
			e.mustKubectl(t, "delete", "pod", pod, "--wait=true")
		}
		if i < 2 {
			if got, want := refs(), strings.Join([]string{"gc0:v1", "gc1:v1", "gc2:v1"}[:i+1], " "); got != want {
				t.Fatalf("after pulling gc%d: images %q, want %q", i, got, want)
			}
		}
	}
	waitFor(t, "image GC to remove gc0", 30*time.Second, func() bool { return refs() == "gc1:v1 gc2:v1" })
	if u := e.c.Modules().Usage(); u*100 >= store*80 {
		t.Errorf("store use %d of %d after GC, want under 80%%", u, store)
	}
}
