package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/store/memory"
)

// kubectlTableAccept is the Accept header kubectl get sends.
const kubectlTableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

// tableEnv is a server on loopback whose clock is fake, with a client-go
// clientset and a REST client for the core group.
type tableEnv struct {
	clock *testingclock.FakeClock
	url   string
	cs    *kubernetes.Clientset
	rc    *rest.RESTClient
}

func newTableEnv(t *testing.T) *tableEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	clk := testingclock.NewFakeClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	s, err := New(ctx, memory.New(), Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler(HandlerOptions{}))
	t.Cleanup(func() { cancel(); srv.CloseClientConnections(); srv.Close() })
	cfg := TCPConfig(srv.URL, "")
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rcfg := rest.CopyConfig(cfg)
	rcfg.GroupVersion = &corev1.SchemeGroupVersion
	rcfg.APIPath = "/api"
	rcfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	return &tableEnv{clock: clk, url: srv.URL, cs: cs, rc: rc}
}

// decodeTable decodes a Table as kubectl get does: through unstructured,
// then each row's object into an unstructured object.
func decodeTable(t *testing.T, raw []byte) *metav1.Table {
	t.Helper()
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, raw)
	if err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || u.GetKind() != "Table" || u.GetAPIVersion() != "meta.k8s.io/v1" {
		t.Fatalf("not a meta.k8s.io/v1 Table: %s", raw)
	}
	table := &metav1.Table{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, table); err != nil {
		t.Fatal(err)
	}
	for i := range table.Rows {
		row := &table.Rows[i]
		if row.Object.Raw == nil {
			continue
		}
		if row.Object.Object, err = runtime.Decode(unstructured.UnstructuredJSONScheme, row.Object.Raw); err != nil {
			t.Fatalf("row %d object: %v", i, err)
		}
	}
	return table
}

// getTable asks for a Table as kubectl does.
func (e *tableEnv) getTable(t *testing.T, req *rest.Request) *metav1.Table {
	t.Helper()
	raw, err := req.SetHeader("Accept", kubectlTableAccept).Do(context.Background()).Raw()
	if err != nil {
		t.Fatalf("table request: %v", err)
	}
	return decodeTable(t, raw)
}

func printTable(t *testing.T, table *metav1.Table, opts printers.PrintOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := printers.NewTablePrinter(opts).PrintObj(table, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func columns(table *metav1.Table) string {
	var names []string
	for _, c := range table.ColumnDefinitions {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// TestTablePodsKubectlOutput: kubectl get pods prints the server's Table;
// the printed text is kubectl's for the same pods (the header, the
// column spacing, AGE as 5s, 3m2s, 2d3h, RESTARTS as "5 (10s ago)").
func TestTablePodsKubectlOutput(t *testing.T) {
	e := newTableEnv(t)
	ctx := context.Background()
	create := func(name string) *corev1.Pod {
		p, err := e.cs.CoreV1().Pods("default").Create(ctx, httpPod(name), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	create("old")
	e.clock.Step(51*time.Hour - (3*time.Minute + 2*time.Second))
	crashing := create("mid")
	e.clock.Step(3*time.Minute + 2*time.Second - 5*time.Second)
	running := create("new")
	e.clock.Step(5 * time.Second)
	now := e.clock.Now()

	crashing.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}}, PodIP: "10.244.0.7",
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", RestartCount: 5,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(now.Add(-10 * time.Second))}}}}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, crashing, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	running.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.244.0.8"}}, PodIP: "10.244.0.8",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now)}}}}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, running, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	list := e.getTable(t, e.rc.Get().Namespace("default").Resource("pods"))
	if got := columns(list); got != "Name,Ready,Status,Restarts,Age,IP,Node,Nominated Node,Readiness Gates" {
		t.Fatalf("pod columns: %s", got)
	}
	if list.ResourceVersion == "" {
		t.Errorf("the Table of a list has no resourceVersion")
	}
	want := "" +
		"NAME   READY   STATUS             RESTARTS      AGE\n" +
		"mid    0/1     CrashLoopBackOff   5 (10s ago)   3m2s\n" +
		"new    1/1     Running            0             5s\n" +
		"old    0/1     Pending            0             2d3h\n"
	if got := printTable(t, list, printers.PrintOptions{}); got != want {
		t.Errorf("kubectl get pods:\n%s\nwant:\n%s", got, want)
	}
	// Rows carry PartialObjectMetadata (kubectl's default includeObject).
	if u := list.Rows[0].Object.Object.(*unstructured.Unstructured); u.GetKind() != "PartialObjectMetadata" || u.GetName() != "mid" || u.GetNamespace() != "default" {
		t.Errorf("row object: %v", u.Object)
	}
	wantWide := "" +
		"NAME   READY   STATUS             RESTARTS      AGE    IP           NODE     NOMINATED NODE   READINESS GATES\n" +
		"mid    0/1     CrashLoopBackOff   5 (10s ago)   3m2s   10.244.0.7   <none>   <none>           <none>\n" +
		"new    1/1     Running            0             5s     10.244.0.8   <none>   <none>           <none>\n" +
		"old    0/1     Pending            0             2d3h   <none>       <none>   <none>           <none>\n"
	if got := printTable(t, list, printers.PrintOptions{Wide: true}); got != wantWide {
		t.Errorf("kubectl get pods -o wide:\n%s\nwant:\n%s", got, wantWide)
	}
	wantNS := "" +
		"NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE   LABELS\n" +
		"default     new    1/1     Running   0          5s    app=web\n"
	one := e.getTable(t, e.rc.Get().Namespace("default").Resource("pods").Name("new"))
	if got := printTable(t, one, printers.PrintOptions{WithNamespace: true, ShowLabels: true}); got != wantNS {
		t.Errorf("kubectl get pod new -A --show-labels:\n%s\nwant:\n%s", got, wantNS)
	}

	// The clock moves on: AGE is computed at request time.
	e.clock.Step(time.Minute)
	again := e.getTable(t, e.rc.Get().Namespace("default").Resource("pods").Name("new"))
	if age := again.Rows[0].Cells[4]; age != "65s" {
		t.Errorf("AGE a minute later = %v, want 65s", age)
	}
}

// TestTableServicesAndNodes: the Tables of services and nodes carry
// upstream's columns and cells.
func TestTableServicesAndNodes(t *testing.T) {
	e := newTableEnv(t)
	ctx := context.Background()
	svc, err := e.cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node, _ := e.cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	node.Status = corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-wasmpod", OSImage: "wasip1", KernelVersion: "6.1", ContainerRuntimeVersion: "wazero://1.12.0"},
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
	}
	if _, err := e.cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Step(3*time.Minute + 2*time.Second)

	svcs := e.getTable(t, e.rc.Get().Namespace("default").Resource("services"))
	if got := columns(svcs); got != "Name,Type,Cluster-IP,External-IP,Port(s),Age,Selector" {
		t.Fatalf("service columns: %s", got)
	}
	ip := svc.Spec.ClusterIP
	if ip == "" {
		t.Fatal("the service got no cluster IP")
	}
	// The CLUSTER-IP column is as wide as the longer of its header and
	// the allocated address.
	width := max(len(ip), len("CLUSTER-IP"))
	want := "" +
		"NAME   TYPE        " + fmt.Sprintf("%-*s", width, "CLUSTER-IP") + "   EXTERNAL-IP   PORT(S)   AGE    SELECTOR\n" +
		"web    ClusterIP   " + fmt.Sprintf("%-*s", width, ip) + "   <none>        80/TCP    3m2s   app=web\n"
	if got := printTable(t, svcs, printers.PrintOptions{Wide: true}); got != want {
		t.Errorf("kubectl get svc -o wide:\n%s\nwant:\n%s", got, want)
	}

	nodes := e.getTable(t, e.rc.Get().Resource("nodes"))
	wantNodes := "" +
		"NAME     STATUS   ROLES           AGE    VERSION\n" +
		"node-1   Ready    control-plane   3m2s   v1.37.2-wasmpod\n"
	if got := printTable(t, nodes, printers.PrintOptions{}); got != wantNodes {
		t.Errorf("kubectl get nodes:\n%s\nwant:\n%s", got, wantNodes)
	}
	wantWide := "" +
		"NAME     STATUS   ROLES           AGE    VERSION           INTERNAL-IP   EXTERNAL-IP   OS-IMAGE   KERNEL-VERSION   CONTAINER-RUNTIME\n" +
		"node-1   Ready    control-plane   3m2s   v1.37.2-wasmpod   127.0.0.1     <none>        wasip1     6.1              wazero://1.12.0\n"
	if got := printTable(t, nodes, printers.PrintOptions{Wide: true}); got != wantWide {
		t.Errorf("kubectl get nodes -o wide:\n%s\nwant:\n%s", got, wantWide)
	}

	// A kind without an upstream printer: the default table.
	lr := e.getTable(t, e.rc.Get().Namespace("kube-system").Resource("limitranges"))
	if got := columns(lr); got != "Name,Created At" || len(lr.Rows) != 0 {
		t.Errorf("limitrange table: columns %s, %d rows", got, len(lr.Rows))
	}
}

// TestTableWatch: kubectl get -w's watch answers one Table per event,
// with one row; only the first carries the column definitions.
func TestTableWatch(t *testing.T) {
	e := newTableEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, httpPod("a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list := e.getTable(t, e.rc.Get().Namespace("default").Resource("pods"))
	stream, err := e.rc.Get().Namespace("default").Resource("pods").
		Param("watch", "1").Param("resourceVersion", list.ResourceVersion).
		SetHeader("Accept", kubectlTableAccept).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	for _, name := range []string{"b", "c"} {
		if _, err := e.cs.CoreV1().Pods("default").Create(ctx, httpPod(name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.cs.CoreV1().Pods("default").Delete(ctx, "a", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	type event struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	sc := bufio.NewScanner(stream)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var got []string
	for i := 0; i < 3 && sc.Scan(); i++ {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, sc.Bytes())
		}
		table := decodeTable(t, ev.Object)
		if len(table.Rows) != 1 {
			t.Fatalf("event %d: %d rows", i, len(table.Rows))
		}
		if (i == 0) != (len(table.ColumnDefinitions) > 0) {
			t.Errorf("event %d: %d column definitions (only the first event has them)", i, len(table.ColumnDefinitions))
		}
		got = append(got, ev.Type+" "+table.Rows[0].Cells[0].(string))
	}
	if strings.Join(got, ",") != "ADDED b,ADDED c,DELETED a" {
		t.Errorf("watch events: %v", got)
	}
}

// TestTableNegotiation: the Accept rules and includeObject, as
// kube-apiserver's.
func TestTableNegotiation(t *testing.T) {
	e := newTableEnv(t)
	ctx := context.Background()
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, httpPod("p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func(path, accept string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String(), resp.Header
	}
	kindOf := func(body string) schema.GroupVersionKind {
		var tm metav1.TypeMeta
		json.Unmarshal([]byte(body), &tm)
		return tm.GroupVersionKind()
	}

	// Only an unknown Table version is acceptable: 406.
	code, body, _ := get("/api/v1/namespaces/default/pods", "application/json;as=Table;v=v2;g=meta.k8s.io")
	if code != http.StatusNotAcceptable || !strings.Contains(body, `"reason":"NotAcceptable"`) || !strings.Contains(body, "only the following media types are accepted") {
		t.Errorf("as=Table;v=v2: %d %s", code, body)
	}
	code, body, _ = get("/api/v1/namespaces/default/pods/p", "application/json;as=Table;v=v1;g=example.com")
	if code != http.StatusNotAcceptable {
		t.Errorf("as=Table;g=example.com: %d %s", code, body)
	}
	// ... unless a later clause is: the plain object.
	code, body, _ = get("/api/v1/namespaces/default/pods", "application/json;as=Table;v=v2;g=meta.k8s.io, application/json")
	if code != http.StatusOK || kindOf(body).Kind != "PodList" {
		t.Errorf("fallback to the object: %d %v", code, kindOf(body))
	}
	// q values order the clauses.
	code, body, _ = get("/api/v1/namespaces/default/pods", "application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io")
	if code != http.StatusOK || kindOf(body).Kind != "Table" {
		t.Errorf("q order: %d %v", code, kindOf(body))
	}
	// v1beta1, still served upstream.
	code, body, hdr := get("/api/v1/namespaces/default/pods/p", "application/json;as=Table;v=v1beta1;g=meta.k8s.io")
	if code != http.StatusOK || kindOf(body) != (schema.GroupVersionKind{Group: "meta.k8s.io", Version: "v1beta1", Kind: "Table"}) || hdr.Get("Content-Type") != "application/json" {
		t.Errorf("v1beta1 Table: %d %v %s", code, kindOf(body), hdr.Get("Content-Type"))
	}
	// includeObject.
	rowObject := func(query string) string {
		t.Helper()
		code, body, _ := get("/api/v1/namespaces/default/pods"+query, kubectlTableAccept)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", query, code, body)
		}
		var tbl struct {
			Rows []struct {
				Object json.RawMessage `json:"object"`
			} `json:"rows"`
		}
		if err := json.Unmarshal([]byte(body), &tbl); err != nil || len(tbl.Rows) != 1 {
			t.Fatalf("%s: %v %s", query, err, body)
		}
		return string(tbl.Rows[0].Object)
	}
	if o := rowObject("?includeObject=Object"); !strings.Contains(o, `"kind":"Pod"`) || !strings.Contains(o, `"apiVersion":"v1"`) || !strings.Contains(o, `"spec"`) {
		t.Errorf("includeObject=Object: %s", o)
	}
	if o := rowObject("?includeObject=None"); o != "null" {
		t.Errorf("includeObject=None: %s", o)
	}
	if o := rowObject(""); !strings.Contains(o, `"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1"`) || strings.Contains(o, `"spec"`) {
		t.Errorf("default includeObject: %s", o)
	}
	code, body, _ = get("/api/v1/namespaces/default/pods?includeObject=Everything", kubectlTableAccept)
	if code != http.StatusBadRequest || !strings.Contains(body, `includeObject: Unsupported value: \"Everything\"`) {
		t.Errorf("includeObject=Everything: %d %s", code, body)
	}
	// PartialObjectMetadata(List), what client-go's metadata client asks.
	code, body, _ = get("/api/v1/namespaces/default/pods", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")
	if code != http.StatusOK || kindOf(body).Kind != "PartialObjectMetadataList" || !strings.Contains(body, `"name":"p"`) {
		t.Errorf("PartialObjectMetadataList: %d %s", code, body)
	}
	code, body, _ = get("/api/v1/namespaces/default/pods/p", "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io")
	if code != http.StatusOK || kindOf(body).Kind != "PartialObjectMetadata" {
		t.Errorf("PartialObjectMetadata: %d %s", code, body)
	}
	code, body, _ = get("/api/v1/namespaces/default/pods", "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io")
	if code != http.StatusNotAcceptable || !strings.Contains(body, "requested object is a list") {
		t.Errorf("PartialObjectMetadata of a list: %d %s", code, body)
	}
	// Errors stay Statuses; other requests are unchanged.
	code, body, _ = get("/api/v1/namespaces/default/pods/missing", kubectlTableAccept)
	if code != http.StatusNotFound || kindOf(body).Kind != "Status" {
		t.Errorf("missing pod as Table: %d %s", code, body)
	}
	// (protobuf first would answer protobuf: protobuf_test.go)
	code, body, _ = get("/api/v1/namespaces/default/pods/p", "application/vnd.kubernetes.protobuf;q=0.5, */*")
	if code != http.StatusOK || kindOf(body).Kind != "Pod" {
		t.Errorf("plain get: %d %v", code, kindOf(body))
	}
	// An empty list's Table has rows: [] and the columns.
	code, body, _ = get("/api/v1/namespaces/kube-system/pods", kubectlTableAccept)
	if code != http.StatusOK || !strings.Contains(body, `"rows":[]`) || !strings.Contains(body, `"name":"Restarts"`) {
		t.Errorf("empty list table: %d %s", code, body)
	}
}

// FuzzNegotiateRead: any Accept header and includeObject value gives the
// object itself, a Table or PartialObjectMetadata(List) of meta.k8s.io v1
// or v1beta1, or a 400 or 406 Status; never a panic.
func FuzzNegotiateRead(f *testing.F) {
	for _, seed := range [][2]string{
		{kubectlTableAccept, ""},
		{kubectlTableAccept, "Object"},
		{"application/json;as=Table;v=v2;g=meta.k8s.io", ""},
		{"application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io", "None"},
		{"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", ""},
		{"application/vnd.kubernetes.protobuf, */*", ""},
		{"application/json;as=Table;v=v1;g=meta.k8s.io;q=x", "Everything"},
		{`*/*;as="Table";g=meta.k8s.io;v=v1beta1`, ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, accept, include string) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil)
		req.Header.Set("Accept", accept)
		q := req.URL.Query()
		q.Set("includeObject", include)
		req.URL.RawQuery = q.Encode()
		target, err := negotiateRead(req)
		if err != nil {
			st := statusOf(err)
			if st.Code != http.StatusBadRequest && st.Code != http.StatusNotAcceptable {
				t.Fatalf("Accept %q includeObject %q: %d %s", accept, include, st.Code, st.Message)
			}
			return
		}
		if target == nil {
			return
		}
		switch target.kind {
		case "Table", "PartialObjectMetadata", "PartialObjectMetadataList":
		default:
			t.Fatalf("Accept %q: target kind %q", accept, target.kind)
		}
		if target.gv.Group != "meta.k8s.io" || (target.gv.Version != "v1" && target.gv.Version != "v1beta1") {
			t.Fatalf("Accept %q: target %v", accept, target.gv)
		}
	})
}

// TestTableEveryServedKind: every resource the server serves answers a
// Table list, with its upstream printer's columns (-o wide's included) or,
// for kinds upstream has no printer for, the default Name/Created At.
func TestTableEveryServedKind(t *testing.T) {
	e := newTableEnv(t)
	want := map[string]string{
		"Pod":            "Name,Ready,Status,Restarts,Age,IP,Node,Nominated Node,Readiness Gates",
		"Node":           "Name,Status,Roles,Age,Version,Internal-IP,External-IP,OS-Image,Kernel-Version,Container-Runtime",
		"Namespace":      "Name,Status,Age",
		"Event":          "Last Seen,Type,Reason,Object,Subobject,Source,Message,First Seen,Count,Name",
		"Service":        "Name,Type,Cluster-IP,External-IP,Port(s),Age,Selector",
		"Endpoints":      "Name,Endpoints,Age",
		"ConfigMap":      "Name,Data,Age",
		"Secret":         "Name,Type,Data,Age",
		"LimitRange":     "Name,Created At",
		"ServiceAccount": "Name,Age",
		"Lease":          "Name,Holder,Age",
		"EndpointSlice":  "Name,AddressType,Ports,Endpoints,Age",
		"ReplicaSet":     "Name,Desired,Current,Ready,Age,Containers,Images,Selector",
		"Deployment":     "Name,Ready,Up-to-date,Available,Age,Containers,Images,Selector",
		"DaemonSet":      "Name,Desired,Current,Ready,Up-to-date,Available,Node Selector,Age,Containers,Images,Selector",
		"Job":            "Name,Status,Completions,Duration,Age,Containers,Images,Selector",
		"CronJob":        "Name,Schedule,Timezone,Suspend,Active,Last Schedule,Age,Containers,Images,Selector",
		// apps/v1 ControllerRevision (the DaemonSet's history)
		"ControllerRevision": "Name,Controller,Revision,Age",
		// policy (printers/policy.go)
		"PodDisruptionBudget":       "Name,Min Available,Max Unavailable,Allowed Disruptions,Age",
		"RuntimeClass":              "Name,Handler,Age",                                          // printers/node.go
		"CertificateSigningRequest": "Name,Age,SignerName,Requestor,RequestedDuration,Condition", // printers/certificates.go
		// autoscaling/v2 (printers/autoscaling.go)
		"HorizontalPodAutoscaler": "Name,Reference,Targets,MinPods,MaxPods,Replicas,Age",
		// RBAC (printers/rbac.go): upstream prints no columns of its own for roles
		"Role":               "Name,Created At",
		"ClusterRole":        "Name,Created At",
		"RoleBinding":        "Name,Role,Age,Users,Groups,ServiceAccounts",
		"ClusterRoleBinding": "Name,Role,Age,Users,Groups,ServiceAccounts",
		// listonly.go's kinds (kubectl's default prune allowlist), whose lists
		// are always empty: upstream's columns where the printer has them
		// (printers/storage.go, apps.go), the default ones otherwise.
		"PersistentVolumeClaim": "Name,Status,Volume,Capacity,Access Modes,StorageClass,VolumeAttributesClass,Age,VolumeMode",
		"StatefulSet":           "Name,Ready,Age,Containers,Images",
		"PersistentVolume":      "Name,Created At",
		"ReplicationController": "Name,Created At",
		"Ingress":               "Name,Created At",
	}
	srv, err := New(context.Background(), memory.New(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Resources() {
		path := "/api/" + r.GVR.Version + "/" + r.GVR.Resource
		if r.GVR.Group != "" {
			path = "/apis/" + r.GVR.Group + "/" + r.GVR.Version + "/" + r.GVR.Resource
		}
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		req.Header.Set("Accept", kubectlTableAccept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", path, resp.StatusCode, buf.String())
			continue
		}
		table := decodeTable(t, buf.Bytes())
		w, ok := want[r.Kind]
		if !ok {
			t.Errorf("%s: kind %s is served but this test does not know its columns (%s)", path, r.Kind, columns(table))
			continue
		}
		if got := columns(table); got != w {
			t.Errorf("%s columns:\n got %s\nwant %s", r.Kind, got, w)
		}
	}
}

// TestTableMetadataClient: client-go's metadata client (what metadata
// informers and garbage collectors use) gets PartialObjectMetadata and
// PartialObjectMetadataList answers for get, list and watch.
func TestTableMetadataClient(t *testing.T) {
	e := newTableEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, httpPod("p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mc, err := metadata.NewForConfig(TCPConfig(e.url, ""))
	if err != nil {
		t.Fatal(err)
	}
	pods := mc.Resource(corev1.SchemeGroupVersion.WithResource("pods")).Namespace("default")
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "p" || list.Items[0].Labels["app"] != "web" || list.ResourceVersion == "" {
		t.Fatalf("metadata list: %+v", list)
	}
	one, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil || one.Name != "p" || one.UID == "" {
		t.Fatalf("metadata get: %v %+v", err, one)
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, httpPod("q"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		m, ok := ev.Object.(*metav1.PartialObjectMetadata)
		if !ok || ev.Type != "ADDED" || m.Name != "q" {
			t.Fatalf("metadata watch event: %s %#v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no metadata watch event")
	}
}

// TestMetadataWatchProtobuf: a watch whose Accept prefers
// PartialObjectMetadata in protobuf (client-go's metadata client's) streams
// protobuf frames, as upstream's, and the metadata client reads from it
// what the JSON stream gave: each event's type, name, labels, uid and
// resourceVersion, deletions included; an Accept that prefers JSON gets
// JSON.
func TestMetadataWatchProtobuf(t *testing.T) {
	e := newTableEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for accept, want := range map[string]string{
		"application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json": "application/vnd.kubernetes.protobuf;stream=watch",
		"application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1":                  "application/json",
		"application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1":             "application/json",
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/api/v1/namespaces/default/pods?watch=1", nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); got != want {
			t.Errorf("Accept %s: Content-Type %q, want %q", accept, got, want)
		}
	}

	mc, err := metadata.NewForConfig(TCPConfig(e.url, ""))
	if err != nil {
		t.Fatal(err)
	}
	pods := mc.Resource(corev1.SchemeGroupVersion.WithResource("pods")).Namespace("default")
	w, err := pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	p, err := e.cs.CoreV1().Pods("default").Create(ctx, httpPod("q"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cs.CoreV1().Pods("default").Delete(ctx, "q", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"ADDED", "DELETED"} {
		select {
		case ev := <-w.ResultChan():
			m, ok := ev.Object.(*metav1.PartialObjectMetadata)
			if !ok || string(ev.Type) != typ || m.Name != "q" || m.UID != p.UID || m.Labels["app"] != "web" || m.ResourceVersion == "" {
				t.Fatalf("metadata watch event: %s %#v, want %s of q", ev.Type, ev.Object, typ)
			}
			if typ == "ADDED" && m.ResourceVersion != p.ResourceVersion {
				t.Errorf("ADDED at resourceVersion %s, created at %s", m.ResourceVersion, p.ResourceVersion)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s metadata watch event", typ)
		}
	}
}
