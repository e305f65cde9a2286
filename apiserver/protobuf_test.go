package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/internal/testkubectl"
)

// protoClient is a clientset that sends and accepts only protobuf, as
// kubectl's and client-go's default configs do for typed clients.
func protoClient(t *testing.T, e *env) *kubernetes.Clientset {
	t.Helper()
	cfg := rest.CopyConfig(e.modes["proto"])
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// protoSeen records the Content-Type of every response, so the tests
// prove the server answered in protobuf (a JSON answer to a protobuf-only
// client would fail to decode anyway).
func protoEnv(t *testing.T) (*env, *[]string) {
	e := newEnv(t, HandlerOptions{})
	var cts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.h.ServeHTTP(w, r)
		e.mu.Lock()
		cts = append(cts, r.Method+" "+r.Header.Get("Content-Type")+" -> "+w.Header().Get("Content-Type"))
		e.mu.Unlock()
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	e.modes["proto"] = TCPConfig(srv.URL, "")
	return e, &cts
}

func TestProtobufClientGoCRUD(t *testing.T) {
	e, cts := protoEnv(t)
	cs := protoClient(t, e)
	ctx := context.Background()
	grace := int64(0)
	delOpts := metav1.DeleteOptions{GracePeriodSeconds: &grace}

	// namespaces (cluster-scoped)
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pb"}}, metav1.CreateOptions{})
	if err != nil || ns.Name != "pb" || ns.UID == "" {
		t.Fatalf("create namespace: %v %+v", err, ns)
	}
	if got, err := cs.CoreV1().Namespaces().Get(ctx, "pb", metav1.GetOptions{}); err != nil || got.UID != ns.UID {
		t.Fatalf("get namespace: %v", err)
	}

	// pods
	p, err := cs.CoreV1().Pods("pb").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "app.wasm", Args: []string{"a", "b"}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if p.Spec.Containers[0].Image != "app.wasm" || strings.Join(p.Spec.Containers[0].Args, ",") != "a,b" || p.Namespace != "pb" {
		t.Fatalf("created pod: %+v", p)
	}
	p.Labels["tier"] = "front"
	if p, err = cs.CoreV1().Pods("pb").Update(ctx, p, metav1.UpdateOptions{}); err != nil || p.Labels["tier"] != "front" {
		t.Fatalf("update pod: %v", err)
	}
	pl, err := cs.CoreV1().Pods("pb").List(ctx, metav1.ListOptions{LabelSelector: "tier=front"})
	if err != nil || len(pl.Items) != 1 || pl.Items[0].Name != "p1" {
		t.Fatalf("list pods: %v %+v", err, pl)
	}
	// A Status error comes back in protobuf and keeps its reason.
	_, err = cs.CoreV1().Pods("pb").Get(ctx, "nope", metav1.GetOptions{})
	wantStatus(t, err, 404, metav1.StatusReasonNotFound, `pods "nope" not found`)
	_, err = cs.CoreV1().Pods("pb").Create(ctx, p, metav1.CreateOptions{})
	wantStatus(t, err, 409, metav1.StatusReasonAlreadyExists, "")

	// configmaps, secrets, services, nodes, events
	if _, err := cs.CoreV1().ConfigMaps("pb").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create configmap: %v", err)
	}
	cm, err := cs.CoreV1().ConfigMaps("pb").Get(ctx, "cm", metav1.GetOptions{})
	if err != nil || cm.Data["a"] != "b" {
		t.Fatalf("get configmap: %v %+v", err, cm)
	}
	cm.Data["c"] = "d"
	if cm, err = cs.CoreV1().ConfigMaps("pb").Update(ctx, cm, metav1.UpdateOptions{}); err != nil || cm.Data["c"] != "d" {
		t.Fatalf("update configmap: %v", err)
	}
	sec, err := cs.CoreV1().Secrets("pb").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Data: map[string][]byte{"k": {0, 1, 'v'}}}, metav1.CreateOptions{})
	if err != nil || !bytes.Equal(sec.Data["k"], []byte{0, 1, 'v'}) {
		t.Fatalf("create secret: %v %+v", err, sec)
	}
	svc, err := cs.CoreV1().Services("pb").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if err != nil || svc.Spec.Ports[0].Port != 80 {
		t.Fatalf("create service: %v %+v", err, svc)
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node: %v", err)
	}
	if nl, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(nl.Items) == 0 {
		t.Fatalf("list nodes: %v", err)
	}
	if _, err := cs.CoreV1().Events("pb").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "ev1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "pb", Name: "p1"}, Reason: "Tested", Message: "hi"}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create core event: %v", err)
	}
	if el, err := cs.CoreV1().Events("pb").List(ctx, metav1.ListOptions{}); err != nil || len(el.Items) != 1 || el.Items[0].Message != "hi" {
		t.Fatalf("list events: %v %+v", err, el)
	}

	// deletes with protobuf DeleteOptions bodies
	if err := cs.CoreV1().ConfigMaps("pb").Delete(ctx, "cm", delOpts); err != nil {
		t.Fatalf("delete configmap: %v", err)
	}
	if err := cs.CoreV1().Secrets("pb").DeleteCollection(ctx, delOpts, metav1.ListOptions{}); err != nil {
		t.Fatalf("deletecollection secrets: %v", err)
	}
	if sl, err := cs.CoreV1().Secrets("pb").List(ctx, metav1.ListOptions{}); err != nil || len(sl.Items) != 0 {
		t.Fatalf("secrets after deletecollection: %v %+v", err, sl)
	}
	// DryRun in the protobuf body is seen (proof that the body was read).
	err = cs.CoreV1().Services("pb").Delete(ctx, "web", metav1.DeleteOptions{DryRun: []string{"Bogus"}})
	if err == nil || !strings.Contains(err.Error(), "Bogus") {
		t.Fatalf("dryRun Bogus in a protobuf DeleteOptions: %v", err)
	}
	if err := cs.CoreV1().Services("pb").Delete(ctx, "web", delOpts); err != nil {
		t.Fatalf("delete service: %v", err)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range *cts {
		if strings.HasPrefix(c, "POST") || strings.HasPrefix(c, "PUT") {
			if !strings.HasPrefix(c, "POST "+runtime.ContentTypeProtobuf) && !strings.HasPrefix(c, "PUT "+runtime.ContentTypeProtobuf) {
				t.Errorf("request not in protobuf: %s", c)
			}
		}
		if !strings.HasSuffix(c, "-> "+runtime.ContentTypeProtobuf) {
			t.Errorf("response not in protobuf: %s", c)
		}
	}
}

func TestProtobufWatch(t *testing.T) {
	e, cts := protoEnv(t)
	cs := protoClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w1"}, Data: map[string]string{"x": "y"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "w1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %v", got)
			}
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok {
				t.Fatalf("event object %T %+v", ev.Object, ev.Object)
			}
			got = append(got, fmt.Sprintf("%s %s %s", ev.Type, cm.Name, cm.Data["x"]))
		case <-ctx.Done():
			t.Fatalf("timed out; got %v", got)
		}
	}
	if want := []string{string(watch.Added) + " w1 y", string(watch.Deleted) + " w1 y"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events %v, want %v", got, want)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	w.Stop()
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(strings.Join(*cts, "\n"), "GET  -> "+runtime.ContentTypeProtobuf+";stream=watch") {
		if time.Now().After(deadline) {
			t.Fatalf("no protobuf watch response in %q", *cts)
		}
		e.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		e.mu.Lock()
	}
}

// A JSON-first Accept keeps JSON, and a protobuf Accept for a Table (as=)
// is answered with a JSON Table.
func TestProtobufNegotiation(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	for _, c := range []struct{ accept, want string }{
		{"", "application/json"},
		{"application/json, application/vnd.kubernetes.protobuf", "application/json"},
		{"application/vnd.kubernetes.protobuf, application/json", runtime.ContentTypeProtobuf},
		{"application/vnd.kubernetes.protobuf;as=Table;g=meta.k8s.io;v=v1, application/json;as=Table;g=meta.k8s.io;v=v1", "application/json"},
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/namespaces/default/pods", nil)
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != c.want {
			t.Errorf("Accept %q: Content-Type %q, want %q (%q)", c.accept, ct, c.want, body)
		}
		if c.want == runtime.ContentTypeProtobuf && !bytes.HasPrefix(body, []byte("k8s\x00")) {
			t.Errorf("Accept %q: body %q", c.accept, body)
		}
	}
	// A protobuf body of the wrong kind is refused, as a JSON one is.
	b, err := encodeProtobuf(&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.srv.URL+"/api/v1/namespaces/default/secrets", runtime.ContentTypeProtobuf, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "the kind in the data (ConfigMap) does not match the expected kind (Secret)") {
		t.Fatalf("wrong kind: %d %s", resp.StatusCode, body)
	}
}

// Real kubectl's create commands send protobuf bodies.
func TestProtobufKubectlCreate(t *testing.T) {
	kubectl := testkubectl.Path(t)
	e := newEnv(t, HandlerOptions{})
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: default\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n", e.srv.URL)
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kc}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "KUBECACHEDIR="+filepath.Join(dir, "cache"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "configmap", "x", "--from-literal=a=b"}, "configmap/x created\n"},
		{[]string{"create", "secret", "generic", "s", "--from-literal=k=v"}, "secret/s created\n"},
		{[]string{"create", "namespace", "n"}, "namespace/n created\n"},
		{[]string{"create", "service", "clusterip", "web", "--tcp=80:8080"}, "service/web created\n"},
		{[]string{"create", "deployment", "d", "--image=app.wasm"}, "deployment.apps/d created\n"},
		{[]string{"create", "job", "j", "--image=app.wasm"}, "job.batch/j created\n"},
	} {
		if got := run(c.args...); got != c.want {
			t.Errorf("kubectl %v: %q, want %q", c.args, got, c.want)
		}
	}
	ctx := context.Background()
	cs := e.client(t, "http")
	if cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "x", metav1.GetOptions{}); err != nil || cm.Data["a"] != "b" {
		t.Errorf("configmap: %v %+v", err, cm)
	}
	if s, err := cs.CoreV1().Secrets("default").Get(ctx, "s", metav1.GetOptions{}); err != nil || string(s.Data["k"]) != "v" {
		t.Errorf("secret: %v %+v", err, s)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "n", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace: %v", err)
	}
	if svc, err := cs.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{}); err != nil || svc.Spec.Ports[0].TargetPort.IntValue() != 8080 {
		t.Errorf("service: %v %+v", err, svc)
	}
	if d, err := cs.AppsV1().Deployments("default").Get(ctx, "d", metav1.GetOptions{}); err != nil || d.Spec.Template.Spec.Containers[0].Image != "app.wasm" {
		t.Errorf("deployment: %v %+v", err, d)
	}
	if j, err := cs.BatchV1().Jobs("default").Get(ctx, "j", metav1.GetOptions{}); err != nil || j.Spec.Template.Spec.Containers[0].Image != "app.wasm" {
		t.Errorf("job: %v %+v", err, j)
	}
	// kubectl delete sends its DeleteOptions in protobuf too.
	if got := run("delete", "configmap", "x"); got != "configmap \"x\" deleted\n" && got != "configmap \"x\" deleted from default namespace\n" {
		t.Errorf("kubectl delete: %q", got)
	}
}

// An informer (list, then watch) over protobuf sees objects created later.
func TestProtobufInformer(t *testing.T) {
	e, _ := protoEnv(t)
	cs := protoClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, httpPod("before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f := informers.NewSharedInformerFactory(cs, 0)
	lister := f.Core().V1().Pods().Lister()
	stop := make(chan struct{})
	f.Start(stop)
	defer f.Shutdown()
	defer close(stop)
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("%v did not sync", typ)
		}
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, httpPod("after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		pods, err := lister.Pods("default").List(labels.Everything())
		if err != nil {
			t.Fatal(err)
		}
		if len(pods) == 2 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("informer has %d pods", len(pods))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// FuzzProtobufBody: any bytes after the protobuf magic decode into a Pod or
// give a 400 or 415 Status; never a panic.
func FuzzProtobufBody(f *testing.F) {
	good, err := encodeProtobuf(httpPod("p"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[len(protobufMagic):])
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 'v', '1'})
	f.Fuzz(func(t *testing.T, data []byte) {
		body := append(append([]byte{}, protobufMagic...), data...)
		err := decodeProtobufInto(body, &corev1.Pod{}, corev1.SchemeGroupVersion.WithKind("Pod"))
		if err != nil {
			if c := statusOf(err).Code; c != http.StatusBadRequest && c != http.StatusUnsupportedMediaType {
				t.Fatalf("%x: %d %v", data, c, err)
			}
		}
	})
}
