package apiserver

// hostile_issue11_test.go: attacks on what issue 11 added (authentication
// by token, RBAC, the host-image rule, server-side apply, fieldValidation,
// the module store's API), by a non-admin user over real HTTP on loopback.
// Each test pins a bound that held when it was written.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/store/memory"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

const hostileAdminToken = "admin-token-0123456789abcdef"

// hostileEnv is a server with a module store, reached over loopback, with
// the admin token and the users alice (bound to the ClusterRole role in
// namespace "default" when role is not empty) and mallory (no bindings).
type hostileEnv struct {
	s   *Server
	srv *httptest.Server
	st  *images.Store
}

func newHostileEnv(t *testing.T, role string) *hostileEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := images.OpenStore(filepath.Join(t.TempDir(), "modules"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, memory.New(), Options{Modules: st})
	if err != nil {
		t.Fatal(err)
	}
	users := staticUsers(map[string]*user.DefaultInfo{
		"alice-token":   {Name: "alice"},
		"mallory-token": {Name: "mallory"},
	})
	srv := httptest.NewServer(s.Handler(HandlerOptions{Token: hostileAdminToken, Users: users}))
	t.Cleanup(func() { cancel(); srv.CloseClientConnections(); srv.Close() })
	if role != "" {
		if _, err := s.Create(ctx, s.rbacResource("rolebindings"), "default", &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-" + role},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}}}); err != nil {
			t.Fatal(err)
		}
	}
	return &hostileEnv{s: s, srv: srv, st: st}
}

type hostileResp struct {
	code int
	hdr  http.Header
	body string
}

func (e *hostileEnv) do(t *testing.T, method, path, token, ctype string, body []byte, hdr ...string) hostileResp {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return hostileResp{resp.StatusCode, resp.Header, string(b)}
}

func hostilePod(name, image string) []byte {
	return []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q},"spec":{"containers":[{"name":"c","image":%q}]}}`, name, image))
}

// hostImageRefs are image strings that read the server's host, in the
// shapes an attacker would try to slip past the classifier.
func hostImageRefs(dir string) []string {
	return []string{
		"/etc/passwd",
		dir + "/x.wasm",
		" " + dir + "/x.wasm",
		"\t" + dir + "/x.wasm",
		"./x.wasm",
		"./",
		".",
		"..",
		"../../etc",
		"x.WASM",
		"file:" + dir + "/x.wasm", // no "//": a relative path ending in .wasm
		"file://" + dir + "/x.wasm",
		"file://localhost" + dir + "/x.wasm",
		"file:///%2e%2e/etc/x.wasm",
		"go://./cmd/server",
		" go://./cmd/server",
		"go:///abs/pkg",
		"wasmpod.local/x.wasm", // a store reference, refused as a path to be safe
		"\uff0fetc\uff0fx.wasm",
		strings.Repeat("a/", 2000) + "x.wasm",
	}
}

// TestHostileHostImagesNonAdmin: a user with edit in "default" cannot run
// an image of the server's host by any route: create, dryRun, server-side
// apply (creating or updating), JSON, merge and strategic patches, PUT,
// and the pod templates of every workload kind. Each is 403 naming the
// field; nothing is stored.
func TestHostileHostImagesNonAdmin(t *testing.T) {
	e := newHostileEnv(t, "edit")
	dir := t.TempDir()
	const alice = "alice-token"
	forbidden := func(what string, r hostileResp, field string) {
		t.Helper()
		switch {
		case r.code == http.StatusForbidden && strings.Contains(r.body, field) && strings.Contains(r.body, "only an admin (system:masters)"):
		case r.code == http.StatusUnprocessableEntity && strings.Contains(r.body, field) &&
			(strings.Contains(r.body, "whitespace") || strings.Contains(r.body, "pod updates may not change fields")):
			// refused by validation first (leading spaces; a merge patch that
			// replaces the whole container)
		default:
			t.Errorf("%s: %d %.300s", what, r.code, r.body)
		}
	}
	for i, img := range hostImageRefs(dir) {
		if !images.ClassifyRef(img).Host() {
			t.Fatalf("%q: classified %v", img, images.ClassifyRef(img))
		}
		name := fmt.Sprintf("p%d", i)
		forbidden("create "+img, e.do(t, "POST", "/api/v1/namespaces/default/pods", alice, "application/json", hostilePod(name, img)), "spec.containers[0].image")
		forbidden("dryRun "+img, e.do(t, "POST", "/api/v1/namespaces/default/pods?dryRun=All", alice, "application/json", hostilePod(name, img)), "spec.containers[0].image")
		forbidden("apply "+img, e.do(t, "PATCH", "/api/v1/namespaces/default/pods/"+name+"?fieldManager=m", alice, "application/apply-patch+yaml", hostilePod(name, img)), "spec.containers[0].image")
	}
	img := "go://./cmd/server"
	// Workload templates, created and applied.
	for _, w := range []struct{ path, body, field string }{
		{"/apis/apps/v1/namespaces/default/deployments", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"IMG"}]}}}}`, "spec.template.spec.containers[0].image"},
		{"/apis/apps/v1/namespaces/default/replicasets", `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"w"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"IMG"}]}}}}`, "spec.template.spec.containers[0].image"},
		{"/apis/apps/v1/namespaces/default/daemonsets", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"w"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"IMG"}]}}}}`, "spec.template.spec.containers[0].image"},
		{"/apis/batch/v1/namespaces/default/jobs", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"w"},"spec":{"template":{"spec":{"restartPolicy":"Never","initContainers":[{"name":"i","image":"IMG"}],"containers":[{"name":"c","image":"wasmpod.local/ok"}]}}}}`, "spec.template.spec.initContainers[0].image"},
		{"/apis/batch/v1/namespaces/default/cronjobs", `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"w"},"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"IMG"}]}}}}}}`, "spec.jobTemplate.spec.template.spec.containers[0].image"},
	} {
		body := []byte(strings.ReplaceAll(w.body, "IMG", img))
		forbidden("create "+w.path, e.do(t, "POST", w.path, alice, "application/json", body), w.field)
		forbidden("apply "+w.path, e.do(t, "PATCH", w.path+"/w?fieldManager=m&force=true", alice, "application/apply-patch+yaml", body), w.field)
	}
	// Alice's own pod and Deployment, with a store image: every kind of
	// update to a host image is refused.
	if r := e.do(t, "POST", "/api/v1/namespaces/default/pods", alice, "application/json", hostilePod("mine", "wasmpod.local/ok")); r.code != http.StatusCreated {
		t.Fatalf("alice's pod: %d %s", r.code, r.body)
	}
	forbidden("json patch", e.do(t, "PATCH", "/api/v1/namespaces/default/pods/mine", alice, "application/json-patch+json",
		[]byte(`[{"op":"replace","path":"/spec/containers/0/image","value":"`+img+`"}]`)), "spec.containers[0].image")
	forbidden("merge patch", e.do(t, "PATCH", "/api/v1/namespaces/default/pods/mine", alice, "application/merge-patch+json",
		[]byte(`{"spec":{"containers":[{"name":"c","image":"`+img+`"}]}}`)), "spec")
	forbidden("strategic patch", e.do(t, "PATCH", "/api/v1/namespaces/default/pods/mine", alice, "application/strategic-merge-patch+json",
		[]byte(`{"spec":{"containers":[{"name":"c","image":"`+img+`"}]}}`)), "spec.containers[0].image")
	forbidden("apply update", e.do(t, "PATCH", "/api/v1/namespaces/default/pods/mine?fieldManager=m&force=true", alice, "application/apply-patch+yaml",
		hostilePod("mine", img)), "spec.containers[0].image")
	forbidden("apply update, dryRun", e.do(t, "PATCH", "/api/v1/namespaces/default/pods/mine?fieldManager=m&force=true&dryRun=All", alice, "application/apply-patch+yaml",
		hostilePod("mine", img)), "spec.containers[0].image")
	dep := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"wasmpod.local/ok"}]}}}}`
	if r := e.do(t, "POST", "/apis/apps/v1/namespaces/default/deployments", alice, "application/json", []byte(dep)); r.code != http.StatusCreated {
		t.Fatalf("alice's deployment: %d %s", r.code, r.body)
	}
	forbidden("deployment patch", e.do(t, "PATCH", "/apis/apps/v1/namespaces/default/deployments/d", alice, "application/strategic-merge-patch+json",
		[]byte(`{"spec":{"template":{"spec":{"initContainers":[{"name":"i","image":"`+img+`"}]}}}}`)), "spec.template.spec.initContainers[0].image")
	// The status subresource cannot carry a spec change.
	r := e.do(t, "PATCH", "/apis/apps/v1/namespaces/default/deployments/d/status", hostileAdminToken, "application/merge-patch+json",
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"`+img+`"}]}}}}`))
	if strings.Contains(r.body, img) {
		t.Errorf("a status patch changed the spec: %d %.300s", r.code, r.body)
	}
	// Nothing of the above was stored.
	if r := e.do(t, "GET", "/api/v1/namespaces/default/pods", hostileAdminToken, "", nil); strings.Contains(r.body, "go://") || strings.Contains(r.body, dir) {
		t.Errorf("a host image was stored: %.500s", r.body)
	}
}

// TestHostileImageRefsThatAreNotHost: strings that look like a host image
// but classify as "other" (so a user may write them) are refused by
// Resolve without reading the host: a planted module next to each is
// never returned.
func TestHostileImageRefsThatAreNotHost(t *testing.T) {
	dir := t.TempDir()
	mod := append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, 1, 2, 3)
	for _, f := range []string{"x.wasm", "x", "x.wasm\u200b"} {
		if err := os.WriteFile(filepath.Join(dir, f), mod, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st := images.NewMemoryStore()
	res := &images.Resolver{Store: st, Opaque: true}
	for _, ref := range []string{
		"GO://" + dir,
		"Go://./x",
		"FILE://" + dir + "/x.wasm",
		"File://" + dir + "/x",
		"file:" + dir + "/x",
		"file:/" + dir + "/x",
		"x.wasm\u200b",
		dir + "/x.wasm\u200b",
		"wasmpod.local/../.." + dir + "/x",
		"wasmpod.local/..%2f..%2fx",
		"wasmpod.local/x@sha256:../../../x",
		"wasmpod.local/X",
		"WASMPOD.LOCAL/x",
		"http://" + dir + "/x.wasm",
		"oci://x",
		"docker.io/library/busybox",
		"x:latest",
		strings.Repeat("y", 1<<16),
	} {
		if k := images.ClassifyRef(ref); k.Host() {
			continue // refused by the API for non-admins: see TestHostileHostImagesNonAdmin
		}
		img, err := res.Resolve(context.Background(), ref, dir)
		if err == nil {
			t.Errorf("%.80q (classified other) resolved to %s (%d bytes)", ref, img.Path, len(img.Bytes))
		}
	}
}

// TestHostileImpersonationAndEscalation: impersonation needs the
// impersonate verb for the user and every group; a namespace admin can
// neither bind cluster-admin nor write a Role with rules it lacks, nor
// use an aggregationRule; self-subject reviews tell alice the truth.
func TestHostileImpersonationAndEscalation(t *testing.T) {
	e := newHostileEnv(t, "admin")
	const alice = "alice-token"
	for _, h := range [][]string{
		{"Impersonate-User", "admin"},
		{"Impersonate-User", "alice", "Impersonate-Group", GroupMasters},
		{"Impersonate-User", "system:serviceaccount:kube-system:default"},
		{"Impersonate-Group", GroupMasters},
		{"Impersonate-Uid", "0"},
		{"Impersonate-User", "alice", "Impersonate-Extra-Scopes", "x"},
	} {
		r := e.do(t, "GET", "/api/v1/namespaces/kube-system/secrets", alice, "", nil, h...)
		if r.code != http.StatusForbidden && r.code != http.StatusBadRequest {
			t.Errorf("impersonation %v: %d %.200s", h, r.code, r.body)
		}
	}
	// edit (in admin) may impersonate ServiceAccounts of its namespace
	// only, and they get nothing more.
	if r := e.do(t, "GET", "/api/v1/namespaces/default/secrets", alice, "", nil, "Impersonate-User", "system:serviceaccount:default:x"); r.code != http.StatusForbidden ||
		!strings.Contains(r.body, `User \"system:serviceaccount:default:x\" cannot list`) {
		t.Errorf("impersonating a ServiceAccount: %d %.300s", r.code, r.body)
	}
	esc := func(what, path, body string) {
		t.Helper()
		r := e.do(t, "POST", path, alice, "application/json", []byte(body))
		if r.code != http.StatusForbidden {
			t.Errorf("%s: %d %.300s", what, r.code, r.body)
		}
	}
	esc("bind cluster-admin", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
		`{"metadata":{"name":"x"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}]}`)
	esc("bind the tagger", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
		`{"metadata":{"name":"y"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"wasmpod:module-tagger"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}]}`)
	esc("role with *", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
		`{"metadata":{"name":"x"},"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}`)
	esc("role with pods/status", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
		`{"metadata":{"name":"x"},"rules":[{"apiGroups":[""],"resources":["pods/status"],"verbs":["update"]}]}`)
	esc("clusterrole", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
		`{"metadata":{"name":"x","labels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}},"rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}]}`)
	esc("clusterrolebinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
		`{"metadata":{"name":"x"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}]}`)
	// Editing the admin ClusterRole (aggregated) from a namespace admin.
	if r := e.do(t, "PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterroles/edit", alice, "application/merge-patch+json",
		[]byte(`{"aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"kubernetes.io/bootstrapping":"rbac-defaults"}}]}}`)); r.code != http.StatusForbidden {
		t.Errorf("patching the edit ClusterRole's aggregation: %d %.300s", r.code, r.body)
	}
	// Self-subject access review answers alice's truth.
	r := e.do(t, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", alice, "application/json",
		[]byte(`{"spec":{"resourceAttributes":{"verb":"escalate","group":"rbac.authorization.k8s.io","resource":"clusterroles"}}}`))
	if r.code != http.StatusCreated || !strings.Contains(r.body, `"allowed":false`) {
		t.Errorf("SSAR escalate: %d %.300s", r.code, r.body)
	}
	// A review cannot be asked for another user.
	r = e.do(t, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "mallory-token", "application/json",
		[]byte(`{"spec":{"resourceAttributes":{"verb":"get","resource":"secrets","namespace":"default"}},"user":"admin","groups":["system:masters"]}`))
	if r.code != http.StatusCreated || !strings.Contains(r.body, `"allowed":false`) {
		t.Errorf("SSAR with a user field: %d %.300s", r.code, r.body)
	}
	// Mallory (no bindings) sees discovery and openapi but no object, nor
	// a watch, nor a deletecollection.
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/apis", 200},
		{"GET", "/openapi/v2", 200},
		{"GET", "/openapi/v3", 200},
		{"GET", "/api/v1/pods?watch=1&timeoutSeconds=1", 403},
		{"GET", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1", 403},
		{"DELETE", "/api/v1/namespaces/default/pods", 403},
		{"DELETE", "/api/v1/namespaces/default/pods?dryRun=All", 403},
		{"GET", "/api/v1/namespaces/default/pods/p/log", 403},
		{"POST", "/api/v1/namespaces/default/pods/p/eviction", 403},
		{"POST", "/api/v1/namespaces/default/pods/p/binding", 403},
		{"POST", "/api/v1/namespaces/default/pods/p/exec?command=sh&stdout=1", 403},
		{"GET", "/api/v1/namespaces/default/pods/p/portforward?ports=80", 403},
		{"PUT", "/api/v1/namespaces/default/pods/p/status", 403},
		{"GET", "/backup", 403},
		{"PUT", TagsPath + "hello:1", 403},
	} {
		if r := e.do(t, c.method, c.path, "mallory-token", "application/json", []byte(`{}`)); r.code != c.want {
			t.Errorf("mallory %s %s: %d %.200s", c.method, c.path, r.code, r.body)
		}
	}
}

// TestHostileModuleAPI: the module store's API under a non-admin: paths
// that try to leave the store, lying and non-wasm bodies, a declared
// oversize, a body cut short — none leaves anything visible.
func TestHostileModuleAPI(t *testing.T) {
	e := newHostileEnv(t, "")
	const bob = "mallory-token"
	mod := append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, bytes.Repeat([]byte{9}, 100)...)
	digest := images.Digest(mod)
	for _, p := range []string{
		ModulesPath + "sha256:../../tags.json",
		ModulesPath + "sha256:" + strings.Repeat("A", 64),
		ModulesPath + "sha256:" + strings.Repeat("a", 63),
		ModulesPath + "sha512:" + strings.Repeat("a", 64),
		ModulesPath + "..%2f..%2ftags.json",
		ModulesPath + digest + "/x",
	} {
		if r := e.do(t, "PUT", p, bob, "", mod); r.code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %.200s", p, r.code, r.body)
		}
	}
	for _, p := range []string{"../x:1", "..%2fx:1", "x/..:1", "X:1", "x:.1", "x:" + strings.Repeat("t", 129), ":1", "x", strings.Repeat("a", 250) + ":1"} {
		if r := e.do(t, "GET", TagsPath+p, bob, "", nil); r.code != http.StatusBadRequest {
			t.Errorf("GET tag %s: %d %.200s", p, r.code, r.body)
		}
	}
	lie := images.Digest(append(mod, 0))
	if r := e.do(t, "PUT", ModulesPath+lie, bob, "", mod); r.code != http.StatusBadRequest || !strings.Contains(r.body, "digest") {
		t.Errorf("lying digest: %d %.200s", r.code, r.body)
	}
	notWasm := []byte("#!/bin/sh\nrm -rf /\n")
	if r := e.do(t, "PUT", ModulesPath+images.Digest(notWasm), bob, "", notWasm); r.code != http.StatusBadRequest || !strings.Contains(r.body, "WebAssembly") {
		t.Errorf("non-wasm: %d %.200s", r.code, r.body)
	}
	// An oversize declared by Content-Length is 413 before a byte is read.
	big, _ := http.NewRequest("PUT", e.srv.URL+ModulesPath+digest, io.LimitReader(zeroReader{}, 0))
	big.ContentLength = e.st.MaxSize() + 1
	big.Header.Set("Authorization", "Bearer "+bob)
	big.Body = io.NopCloser(strings.NewReader(""))
	if resp, err := http.DefaultClient.Do(big); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("declared oversize: %d %.200s", resp.StatusCode, b)
		}
	}
	// A body cut short (the client goes away mid-upload).
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "PUT %s%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", ModulesPath, digest, bob, len(mod))
	c.Write(mod[:len(mod)/2])
	time.Sleep(100 * time.Millisecond)
	c.Close()
	time.Sleep(100 * time.Millisecond)
	for _, d := range []string{digest, lie, images.Digest(notWasm)} {
		if r := e.do(t, "HEAD", ModulesPath+d, bob, "", nil); r.code != http.StatusNotFound {
			t.Errorf("HEAD %s after refused uploads: %d", d, r.code)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.st.Dir(), "tmp")); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
	// Mallory may upload (content-addressed) but not tag, nor tag through
	// a path that cleans to the tags.
	if r := e.do(t, "PUT", ModulesPath+digest, bob, "", mod); r.code != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	tag, _ := json.Marshal(map[string]string{"digest": digest})
	for _, p := range []string{TagsPath + "hello:1", ModulesPath + "../tags/hello:1", "/wasmpod/modules/%2e%2e/tags/hello:1", "/wasmpod//tags/hello:1"} {
		if r := e.do(t, "PUT", p, bob, "application/json", tag); r.code == http.StatusOK {
			t.Errorf("mallory tagged through %s: %d %.200s", p, r.code, r.body)
		}
	}
	if tags := e.st.Tags(); len(tags) != 0 {
		t.Errorf("tags after mallory: %v", tags)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestHostileFieldValidationWarnings: thousands of unknown fields under
// fieldValidation=Warn (kubectl's default) give a bounded Warning header.
func TestHostileFieldValidationWarnings(t *testing.T) {
	e := newHostileEnv(t, "edit")
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}`)
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, `,"unknownField%06d":1`, i)
	}
	b.WriteString(`}`)
	r := e.do(t, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Warn", "alice-token", "application/json", []byte(b.String()))
	total := 0
	for _, w := range r.hdr.Values("Warning") {
		total += len(w)
	}
	t.Logf("body %d bytes, %d unknown fields: %d, %d Warning headers, %d bytes", b.Len(), 20000, r.code, len(r.hdr.Values("Warning")), total)
	if r.code != http.StatusCreated {
		t.Fatalf("create: %d %.300s", r.code, r.body)
	}
	if total == 0 || total > 256<<10 {
		t.Errorf("Warning headers: %d bytes", total)
	}
}

// TestHostileApplyBombs: deeply nested and oversized apply patches are
// refused with a Status, quickly.
func TestHostileApplyBombs(t *testing.T) {
	e := newHostileEnv(t, "edit")
	deep := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","annotations":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000) + `}}`
	start := time.Now()
	if r := e.do(t, "PATCH", "/api/v1/namespaces/default/configmaps/cm?fieldManager=m", "alice-token", "application/apply-patch+yaml", []byte(deep)); r.code != http.StatusBadRequest && r.code != http.StatusUnprocessableEntity {
		t.Errorf("deep apply: %d %.200s", r.code, r.body)
	}
	yamlDeep := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n"
	if r := e.do(t, "PATCH", "/api/v1/namespaces/default/configmaps/cm?fieldManager=m", "alice-token", "application/apply-patch+yaml", []byte(yamlDeep)); r.code < 400 || r.code >= 500 {
		t.Errorf("deep YAML apply: %d %.200s", r.code, r.body)
	}
	// YAML aliases (a billion laughs) expand past the body bound.
	laughs := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for i := 0; i < 9; i++ {
		n := fmt.Sprintf("b%d", i)
		laughs += fmt.Sprintf("    %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	if r := e.do(t, "PATCH", "/api/v1/namespaces/default/configmaps/cm?fieldManager=m", "alice-token", "application/apply-patch+yaml", []byte(laughs)); r.code < 400 || r.code >= 500 {
		t.Errorf("billion laughs apply: %d %.200s", r.code, r.body)
	}
	big := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"k":"` + strings.Repeat("x", 4<<20) + `"}}`
	if r := e.do(t, "PATCH", "/api/v1/namespaces/default/configmaps/cm?fieldManager=m", "alice-token", "application/apply-patch+yaml", []byte(big)); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("4 MiB apply: %d %.200s", r.code, r.body)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the bombs took %s", d)
	}
	t.Logf("bombs answered in %s", time.Since(start))
}

// TestHostileModuleStoreFull: any authenticated user may upload, so the
// store's total bound (images.Store.MaxTotal) is what stops one from
// filling the server's disk or memory: 507 Insufficient Storage, told by
// Content-Length before a byte is read, or while a chunked body streams;
// nothing is left of the refused upload.
func TestHostileModuleStoreFull(t *testing.T) {
	e := newHostileEnv(t, "")
	const bob = "mallory-token"
	e.st.SetMaxTotal(1 << 20)
	var stored int
	for i := 0; ; i++ {
		mod := append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, bytes.Repeat([]byte{byte(i)}, 300<<10)...)
		r := e.do(t, "PUT", ModulesPath+images.Digest(mod), bob, "", mod)
		if r.code == http.StatusInsufficientStorage {
			if i != 3 || !strings.Contains(r.body, `"reason":"InsufficientStorage"`) || !strings.Contains(r.body, "of at most 1048576") {
				t.Errorf("full after %d: %.300s", i, r.body)
			}
			break
		}
		if r.code != http.StatusCreated || i > 3 {
			t.Fatalf("upload %d: %d %.300s", i, r.code, r.body)
		}
		stored += len(mod)
	}
	// A chunked body (no Content-Length) is cut off while it streams.
	mod := append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, bytes.Repeat([]byte{99}, 600<<10)...)
	req, _ := http.NewRequest("PUT", e.srv.URL+ModulesPath+images.Digest(mod), io.MultiReader(bytes.NewReader(mod)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+bob)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Errorf("chunked upload over the bound: %d %.300s", resp.StatusCode, b)
	}
	if u := e.st.Usage(); u != int64(stored) {
		t.Errorf("usage %d, want %d", u, stored)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.st.Dir(), "tmp")); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// discardWriter is a ResponseWriter that only counts.
type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// TestHostileOpenAPIAllocations: /openapi and discovery in a loop do not
// rebuild their documents: a request allocates a small fraction of the
// body it sends (measured: ~40 KB for a 0.9-1.1 MB document), with or
// without Accept-Encoding: gzip.
func TestHostileOpenAPIAllocations(t *testing.T) {
	e := newHostileEnv(t, "")
	h := e.srv.Config.Handler
	for _, p := range []string{"/openapi/v2", "/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1", "/apis", "/api/v1"} {
		do := func() int {
			req := httptest.NewRequest("GET", p, nil)
			req.Header.Set("Authorization", "Bearer mallory-token")
			req.Header.Set("Accept-Encoding", "gzip")
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			return w.n
		}
		n := do()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		const runs = 20
		for i := 0; i < runs; i++ {
			do()
		}
		runtime.ReadMemStats(&m1)
		per := int((m1.TotalAlloc - m0.TotalAlloc) / runs)
		t.Logf("%s: %d-byte body, %d bytes allocated per request", p, n, per)
		if n < 1000 || per > 256<<10 && per > n/4 {
			t.Errorf("%s: %d-byte body, %d bytes allocated per request", p, n, per)
		}
	}
}

// TestHostileManagedFieldsBomb: managedFields cannot grow without bound,
// neither by 60 field managers updating an object in turn nor by a client
// that sends 2,000 entries of its own: Update managers are capped (10, and
// the rest merged into "ancient-changes", as upstream), and the object
// stays readable.
func TestHostileManagedFieldsBomb(t *testing.T) {
	e := newHostileEnv(t, "edit")
	const alice = "alice-token"
	if r := e.do(t, "POST", "/api/v1/namespaces/default/configmaps", alice, "application/json", []byte(`{"metadata":{"name":"cm"},"data":{"k0":"v"}}`)); r.code != http.StatusCreated {
		t.Fatalf("create: %d %.300s", r.code, r.body)
	}
	for i := 0; i < 60; i++ {
		r := e.do(t, "PATCH", fmt.Sprintf("/api/v1/namespaces/default/configmaps/cm?fieldManager=m%d", i), alice, "application/merge-patch+json",
			[]byte(fmt.Sprintf(`{"data":{"k%d":"v"}}`, i+1)))
		if r.code != http.StatusOK {
			t.Fatalf("patch %d: %d %.300s", i, r.code, r.body)
		}
	}
	var cm struct {
		Metadata struct {
			ManagedFields []map[string]any `json:"managedFields"`
		} `json:"metadata"`
	}
	r := e.do(t, "GET", "/api/v1/namespaces/default/configmaps/cm", alice, "", nil)
	if err := json.Unmarshal([]byte(r.body), &cm); err != nil {
		t.Fatal(err)
	}
	t.Logf("after 60 managers: %d managedFields entries", len(cm.Metadata.ManagedFields))
	if n := len(cm.Metadata.ManagedFields); n == 0 || n > 12 {
		t.Errorf("managedFields after 60 managers: %d entries", n)
	}
	// A client's own 2,000 entries on create.
	var b strings.Builder
	b.WriteString(`{"metadata":{"name":"bomb","managedFields":[`)
	for i := 0; i < 2000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"manager":"x%d","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:k%d":{}}}}`, i, i)
	}
	b.WriteString(`]},"data":{"a":"b"}}`)
	r = e.do(t, "POST", "/api/v1/namespaces/default/configmaps", alice, "application/json", []byte(b.String()))
	if r.code != http.StatusCreated && r.code != http.StatusBadRequest && r.code != http.StatusUnprocessableEntity {
		t.Fatalf("create with 2,000 managedFields: %d %.300s", r.code, r.body)
	}
	cm.Metadata.ManagedFields = nil
	json.Unmarshal([]byte(r.body), &cm)
	t.Logf("create with 2,000 entries (%d bytes): %d, %d stored", b.Len(), r.code, len(cm.Metadata.ManagedFields))
	if n := len(cm.Metadata.ManagedFields); n > 12 {
		t.Errorf("stored %d managedFields entries from the client", n)
	}
}

// TestHostileSlowUploadsOneUser: a user's uploads that trickle (each
// read within the idle bound) hold at most maxUploadsPerUser of the
// maxUploads slots; another user still uploads. Before the per-user
// bound, mallory's four trickles kept everyone out for uploadTimeout.
func TestHostileSlowUploadsOneUser(t *testing.T) {
	e := newHostileEnv(t, "")
	mod := append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, bytes.Repeat([]byte{5}, 1000)...)
	digest := images.Digest(mod)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < maxUploads; i++ {
		c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "PUT %s%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mallory-token\r\nContent-Length: %d\r\n\r\n", ModulesPath, digest, len(mod))
		c.Write(mod[:10])
	}
	time.Sleep(300 * time.Millisecond)
	// Mallory's two first trickles hold their slots; a whole upload of
	// hers is refused by name (her later trickles were refused too, but a
	// Go server sends that answer only once it has the body it announced).
	third := append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, bytes.Repeat([]byte{7}, 1000)...)
	if r := e.do(t, "PUT", ModulesPath+images.Digest(third), "mallory-token", "", third); r.code != http.StatusTooManyRequests ||
		!strings.Contains(r.body, `too many module uploads at once by user \"mallory\" (at most 2)`) || r.hdr.Get("Retry-After") != "1" {
		t.Errorf("mallory's upload while she trickles: %d %.300s", r.code, r.body)
	}
	other := append([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, bytes.Repeat([]byte{6}, 1000)...)
	if r := e.do(t, "PUT", ModulesPath+images.Digest(other), "alice-token", "", other); r.code != http.StatusCreated {
		t.Errorf("alice's upload while mallory trickles: %d %.300s", r.code, r.body)
	}
}

// TestHostilePortForwardManyPairs: one SPDY port-forward connection holds
// at most streaming.MaxPendingPortForwardPairs (256) forwarded connections at once,
// complete or not (the kubelet sets no such bound): the next is refused
// with a message, the open ones still echo, a pair fits again once one
// ends, and closing the connection releases every goroutine.
func TestHostilePortForwardManyPairs(t *testing.T) {
	_, u, _ := pfRunningServer(t, &pfNode{})
	warm := spdyConn(t, u)
	warm.Close()
	time.Sleep(200 * time.Millisecond)
	base := runtime.NumGoroutine()
	conn := spdyConn(t, u)
	const pairs = streaming.MaxPendingPortForwardPairs
	var datas []io.ReadWriteCloser
	// Every pair answers (the pod side writes "8080:" first, then echoes);
	// it is read at once, as spdystream's client blocks its connection on
	// an unread frame.
	for i := 0; i < pairs; i++ {
		_, d := pfStreams(t, conn, "8080", fmt.Sprint(i), true)
		datas = append(datas, d)
		b := make([]byte, 5)
		if _, err := io.ReadFull(d, b); err != nil || string(b) != "8080:" {
			t.Fatalf("pair %d: %q %v", i, b, err)
		}
	}
	// The first pair still echoes with all of them open.
	datas[0].Write([]byte("ping"))
	if b := make([]byte, 4); func() error { _, err := io.ReadFull(datas[0], b); return err }() != nil || string(b) != "ping" {
		t.Errorf("the first pair's echo: %q", b)
	}
	_, over := pfStreams(t, conn, "8080", "over", true)
	if b, _ := io.ReadAll(over); !strings.Contains(string(b), "too many port-forward requests in progress on this connection (at most 256)") {
		t.Errorf("pair %d: %q", pairs+1, b)
	}
	datas[1].Close()
	time.Sleep(200 * time.Millisecond)
	_, last := pfStreams(t, conn, "8080", "last", true)
	b := make([]byte, 5)
	if _, err := io.ReadFull(last, b); err != nil || string(b) != "8080:" {
		t.Fatalf("a pair after one ended: %q %v", b, err)
	}
	during := runtime.NumGoroutine()
	t.Logf("%d open pairs: %d goroutines (%.1f per pair, client and server together)", pairs, during-base, float64(during-base)/pairs)
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+5 {
		t.Errorf("%d goroutines after closing the connection, %d before", n, base)
	}
}

// TestHostileViewerExecSmuggling: a user with view (get pods, no
// pods/exec) cannot reach exec, attach or port-forward over WebSocket (a
// GET) by any spelling of the path: pods/p//exec was authorized as "get
// pods" and served as exec until f2ae659 (a path with an empty segment is
// 404 before authorization).
func TestHostileViewerExecSmuggling(t *testing.T) {
	e := newHostileEnv(t, "view")
	if r := e.do(t, "POST", "/api/v1/namespaces/default/pods", hostileAdminToken, "application/json", hostilePod("p", "wasmpod.local/ok")); r.code != http.StatusCreated {
		t.Fatalf("pod: %d %s", r.code, r.body)
	}
	ws := []string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol", "v5.channel.k8s.io"}
	for _, p := range []string{
		"/api/v1/namespaces/default/pods/p/exec?command=sh&stdout=1",
		"/api/v1/namespaces/default/pods/p//exec?command=sh&stdout=1",
		"/api/v1/namespaces/default/pods/p/./exec?command=sh&stdout=1",
		"/api/v1/namespaces/default/pods//p/exec?command=sh&stdout=1",
		"/api/v1//namespaces/default/pods/p/exec?command=sh&stdout=1",
		"/api/v1/namespaces/default/pods/p//attach?stdout=1",
		"/api/v1/namespaces/default/pods/p//portforward?ports=80",
		"/api/v1/namespaces/default/pods/p/exec/?command=sh&stdout=1",
	} {
		r := e.do(t, "GET", p, "alice-token", "", nil, ws...)
		if r.code != http.StatusForbidden && r.code != http.StatusNotFound {
			t.Errorf("viewer GET %s: %d %.300s", p, r.code, r.body)
		}
	}
}
