package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/store/memory"
)

// modulesEnv is a Server with a disk module store behind a real HTTP
// server on loopback.
type modulesEnv struct {
	s     *Server
	store *images.Store
	srv   *httptest.Server
	token string
}

func newModulesEnv(t *testing.T, token string) *modulesEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := images.OpenStore(filepath.Join(t.TempDir(), "modules"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, memory.New(), Options{Modules: st, RefuseRelativeImages: true})
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterNode("node-1", &fakeNode{release: make(chan struct{})})
	srv := httptest.NewServer(s.Handler(HandlerOptions{Token: token}))
	t.Cleanup(func() { cancel(); srv.CloseClientConnections(); srv.Close() })
	return &modulesEnv{s: s, store: st, srv: srv, token: token}
}

// do sends a request and returns the status code and the body.
func (e *modulesEnv) do(t *testing.T, method, path string, body io.Reader, size int64) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// wantStatus checks a Status body's code and message.
func wantModStatus(t *testing.T, code int, body []byte, wantCode int, wantMsg string) {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" {
		t.Fatalf("body is not a Status (%v): %s", err, body)
	}
	if code != wantCode || int(st.Code) != wantCode || !strings.Contains(st.Message, wantMsg) {
		t.Errorf("got %d %q, want %d containing %q", code, st.Message, wantCode, wantMsg)
	}
}

func testModule(n int, fill byte) []byte {
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	return append(b, bytes.Repeat([]byte{fill}, n-len(b))...)
}

func TestModulesUploadAndTag(t *testing.T) {
	e := newModulesEnv(t, "s3cret-token-for-modules")
	m := testModule(100_000, 3)
	d := images.Digest(m)
	if code, _, _ := e.do(t, "HEAD", ModulesPath+d, nil, 0); code != http.StatusNotFound {
		t.Fatalf("HEAD before upload: %d", code)
	}
	code, body, _ := e.do(t, "PUT", ModulesPath+d, bytes.NewReader(m), int64(len(m)))
	if code != http.StatusCreated || !strings.Contains(string(body), `"size":100000`) {
		t.Fatalf("PUT: %d %s", code, body)
	}
	code, _, hdr := e.do(t, "HEAD", ModulesPath+d, nil, 0)
	if code != http.StatusOK || hdr.Get("Content-Length") != "100000" {
		t.Fatalf("HEAD after upload: %d %v", code, hdr)
	}
	// Again: 200 without storing twice.
	if code, _, _ := e.do(t, "PUT", ModulesPath+d, bytes.NewReader(m), int64(len(m))); code != http.StatusOK {
		t.Fatalf("second PUT: %d", code)
	}
	code, body, _ = e.do(t, "PUT", TagsPath+"team/hello:v1", strings.NewReader(`{"digest":"`+d+`"}`), -1)
	if code != http.StatusOK || !strings.Contains(string(body), `"image":"wasmpod.local/team/hello:v1"`) {
		t.Fatalf("PUT tag: %d %s", code, body)
	}
	code, body, _ = e.do(t, "GET", TagsPath+"team/hello:v1", nil, 0)
	if code != http.StatusOK || !strings.Contains(string(body), d) {
		t.Fatalf("GET tag: %d %s", code, body)
	}
	code, body, _ = e.do(t, "GET", TagsPath, nil, 0)
	if want := `{"items":[{"name":"team/hello","tag":"v1","digest":"` + d + `","image":"wasmpod.local/team/hello:v1","size":100000}]}` + "\n"; code != http.StatusOK || string(body) != want {
		t.Errorf("GET tags: %d %s", code, body)
	}
	code, body, _ = e.do(t, "GET", TagsPath+"team/hello:v2", nil, 0)
	wantModStatus(t, code, body, 404, "no image wasmpod.local/team/hello:v2")
	code, body, _ = e.do(t, "PUT", TagsPath+"hello:v1", strings.NewReader(`{"digest":"sha256:`+strings.Repeat("0", 64)+`"}`), -1)
	wantModStatus(t, code, body, 404, "digest: not in the module store")
	code, body, _ = e.do(t, "PUT", TagsPath+"Hello:v1", strings.NewReader(`{"digest":"`+d+`"}`), -1)
	wantModStatus(t, code, body, 400, "path: invalid image name")
	code, body, _ = e.do(t, "PUT", TagsPath+"hello:v1", strings.NewReader(`{"digest":"sha1:x"}`), -1)
	wantModStatus(t, code, body, 400, "digest: invalid digest")
	code, body, _ = e.do(t, "PUT", TagsPath+"hello:v1", strings.NewReader(strings.Repeat(" ", 5000)), -1)
	wantModStatus(t, code, body, 400, "over 4 KiB")
	code, body, _ = e.do(t, "DELETE", ModulesPath+d, nil, 0)
	wantModStatus(t, code, body, 405, "delete")

	// Authenticated as the rest of the API.
	req, _ := http.NewRequest("PUT", e.srv.URL+ModulesPath+d, bytes.NewReader(m))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("PUT without a token: %d", resp.StatusCode)
	}
}

func TestModulesUploadBounds(t *testing.T) {
	e := newModulesEnv(t, "")
	e.store.SetMaxSize(1 << 20)
	big := testModule(1<<20+1, 1)
	bd := images.Digest(big)
	// Told by Content-Length: refused before a byte is read.
	code, body, _ := e.do(t, "PUT", ModulesPath+bd, bytes.NewReader(big), int64(len(big)))
	wantModStatus(t, code, body, 413, "over the 1048576-byte limit")
	// Streamed without a length: cut off at the bound.
	code, body, _ = e.do(t, "PUT", ModulesPath+bd, io.MultiReader(bytes.NewReader(big)), -1)
	wantModStatus(t, code, body, 413, "over the 1048576-byte limit")
	// Lying about the digest.
	m := testModule(5000, 2)
	other := "sha256:" + strings.Repeat("ab", 32)
	code, body, _ = e.do(t, "PUT", ModulesPath+other, bytes.NewReader(m), int64(len(m)))
	wantModStatus(t, code, body, 400, "body: digest mismatch: the 5000 bytes received have digest "+images.Digest(m))
	// Not a module.
	sh := []byte("#!/bin/sh\nrm -rf /\n")
	code, body, _ = e.do(t, "PUT", ModulesPath+images.Digest(sh), bytes.NewReader(sh), int64(len(sh)))
	wantModStatus(t, code, body, 400, "body: not a WebAssembly module (bad magic number)")
	code, body, _ = e.do(t, "PUT", ModulesPath+"sha256:abc", bytes.NewReader(m), int64(len(m)))
	wantModStatus(t, code, body, 400, "path: invalid digest")
	for _, d := range []string{bd, other, images.Digest(sh)} {
		if _, ok := e.store.Has(d); ok {
			t.Errorf("refused upload %s is visible", d)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.store.Dir(), "tmp")); len(ents) != 0 {
		t.Errorf("temporary files left: %d", len(ents))
	}
	// The store cannot write: the server's fault (500), not the client's.
	os.RemoveAll(filepath.Join(e.store.Dir(), "tmp"))
	code, body, _ = e.do(t, "PUT", ModulesPath+images.Digest(m), bytes.NewReader(m), int64(len(m)))
	wantModStatus(t, code, body, 500, "module store: open ")
}

// stallReader sends part of a module, then blocks until released.
type stallReader struct {
	head    []byte
	release chan struct{}
}

func (r *stallReader) Read(p []byte) (int, error) {
	if len(r.head) > 0 {
		n := copy(p, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	<-r.release
	return 0, errors.New("released")
}

func TestModulesUploadStalledAndConcurrent(t *testing.T) {
	defer func(d time.Duration) { uploadIdle = d }(uploadIdle)
	uploadIdle = 300 * time.Millisecond
	e := newModulesEnv(t, "")
	m := testModule(2<<20, 9)
	d := images.Digest(m)

	// A client that stops sending is cut off; nothing becomes visible.
	sr := &stallReader{head: m[:1<<20], release: make(chan struct{})}
	defer close(sr.release)
	start := time.Now()
	req, _ := http.NewRequest("PUT", e.srv.URL+ModulesPath+d, sr)
	req.ContentLength = int64(len(m))
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ents, _ := os.ReadDir(filepath.Join(e.store.Dir(), "tmp"))
		if len(ents) == 0 && time.Since(start) > uploadIdle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a stalled upload still holds %d temporary files after 10 s", len(ents))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := e.store.Has(d); ok {
		t.Fatal("a stalled upload became visible")
	}

	// Eight clients upload the same module at once (at most maxUploads
	// run; the others are told to retry): every one ends with it stored.
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				code, _, _ := e.do(t, "PUT", ModulesPath+d, bytes.NewReader(m), int64(len(m)))
				if code != http.StatusTooManyRequests {
					codes[i] = code
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusCreated && c != http.StatusOK {
			t.Errorf("client %d: %d", i, c)
		}
	}
	if b, err := e.store.Get(d); err != nil || !bytes.Equal(b, m) {
		t.Fatalf("stored module: %v", err)
	}
}

func TestRelativeImageRefused(t *testing.T) {
	e := newModulesEnv(t, "")
	cs, err := kubernetes.NewForConfig(TCPConfig(e.srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pod := func(name, image string, ann map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}}
	}
	_, err = cs.CoreV1().Pods("default").Create(ctx, pod("rel", "go://./server", nil), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.containers[0].image: Invalid value: "go://./server": a relative image is resolved by the client`) {
		t.Fatalf("relative image: %v", err)
	}
	// With the manifest's directory, a store image, or an absolute path: admitted.
	for i, p := range []*corev1.Pod{
		pod("withdir", "./x.wasm", map[string]string{manifestDirAnnotation: "/srv/app"}),
		pod("store", "wasmpod.local/hello", nil),
		pod("abs", "/opt/x.wasm", nil),
	} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Errorf("pod %d: %v", i, err)
		}
	}
	// An update to a relative image is refused too.
	p, _ := cs.CoreV1().Pods("default").Get(ctx, "store", metav1.GetOptions{})
	p.Spec.Containers[0].Image = "hello.wasm"
	if _, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.containers[0].image: Invalid value: "hello.wasm"`) {
		t.Errorf("update to a relative image: %v", err)
	}

	// A workload's pod template too (its pods would all be refused).
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i", Image: "wasmpod.local/init"}}, Containers: []corev1.Container{{Name: "c", Image: "./server.wasm"}}}}}}
	_, err = cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `Deployment.apps "web" is invalid: spec.template.spec.containers[0].image: Invalid value: "./server.wasm": a relative image`) {
		t.Errorf("deployment with a relative image: %v", err)
	}
	dep.Spec.Template.Annotations = map[string]string{manifestDirAnnotation: "/srv/app"}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Errorf("deployment with the manifest's directory: %v", err)
	}
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "cj"}, Spec: batchv1.CronJobSpec{Schedule: "* * * * *",
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "go://../job"}}}}}}}}
	_, err = cs.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.jobTemplate.spec.template.spec.containers[0].image: Invalid value: "go://../job"`) {
		t.Errorf("cronjob with a relative image: %v", err)
	}

	// Real kubectl, default flags.
	k := newKubectl(t, e.srv.URL)
	dir := t.TempDir()
	f := filepath.Join(dir, "pod.yaml")
	os.WriteFile(f, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: server\n    image: go://./server\n"), 0o644)
	var stdout, stderr bytes.Buffer
	c := k.cmd("apply", "-f", f)
	c.Stdout, c.Stderr = &stdout, &stderr
	err = c.Run()
	want := fmt.Sprintf(`The Pod "web" is invalid: spec.containers[0].image: Invalid value: "go://./server": a relative image is resolved by the client that read the manifest, not the server: use wasmpod apply -f (which uploads the module), or wasmpod image import FILE|go://PKG NAME and name the image wasmpod.local/NAME`)
	if err == nil || c.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), want) {
		t.Errorf("kubectl apply: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	// kubectl run accepts the store's names (its reference check is the
	// distribution grammar).
	for _, img := range []string{"wasmpod.local/hello", "wasmpod.local/team/hello:v1", "wasmpod.local/hello@sha256:" + strings.Repeat("ab", 32)} {
		name := "run-" + fmt.Sprint(len(img))
		if out := k.run(t, "run", name, "--image="+img, "--restart=Never"); out != "pod/"+name+" created\n" {
			t.Errorf("kubectl run --image=%s: %q", img, out)
		}
	}
	stdout.Reset()
	stderr.Reset()
	c = k.cmd("run", "bad", "--image=./hello.wasm")
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err == nil || !strings.Contains(stderr.String(), `error: invalid image name "./hello.wasm": invalid reference format`) {
		t.Errorf("kubectl run of a path: %v %s", err, stderr.String())
	}
}
