package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/spf13/pflag"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/syncbuf"
	"github.com/wasmpod/wasmpod/pods"
	"github.com/wasmpod/wasmpod/store/memory"
)

// syncBuffer is safe for a writer and a poller.
type syncBuffer = syncbuf.Buffer

// env is a real API server on a Unix socket in a temp dir.
type env struct {
	t      *testing.T
	s      *apiserver.Server
	server string // --server value
	cs     kubernetes.Interface
	dir    string
	extra  []string // flags added to every command
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	sock := filepath.Join(dir, "wasmpod.sock")
	s, cs := serveUnix(t, ctx, sock)
	return &env{t: t, s: s, server: "unix://" + sock, cs: cs, dir: dir}
}

// serveUnix serves a real API server (memory store) on the Unix socket
// sock until ctx ends and the test is done, and returns it with a client.
func serveUnix(tb testing.TB, ctx context.Context, sock string) (*apiserver.Server, kubernetes.Interface) {
	tb.Helper()
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := apiserver.ListenUnix(sock)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler(apiserver.HandlerOptions{})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	cs, err := kubernetes.NewForConfig(apiserver.UnixSocketConfig(sock))
	if err != nil {
		tb.Fatal(err)
	}
	return s, cs
}

// run runs the CLI in-process with stdin and returns stdout, stderr and the exit code.
func (e *env) runIn(ctx context.Context, stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	var out, errb syncBuffer
	app := App(&out, &errb)
	app.Reader = strings.NewReader(stdin)
	// Connection flags go right after the command name (before any "--").
	full := append([]string{"wasmpod", args[0], "--server", e.server}, e.extra...)
	full = append(full, args[1:]...)
	code := runAppContext(ctx, app, full)
	return out.String(), errb.String(), code
}

func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	return e.runIn(context.Background(), "", args...)
}

// ok runs a command that must succeed and returns its stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("wasmpod %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fail runs a command that must fail with code and returns its stderr.
func (e *env) fail(code int, args ...string) string {
	e.t.Helper()
	out, errOut, got := e.run(args...)
	if got != code {
		e.t.Fatalf("wasmpod %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, errOut)
	}
	return errOut
}

func (e *env) write(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func podYAML(name string, labels string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels: {%s}\nspec:\n  containers:\n  - name: main\n    image: hello.wasm\n", name, labels)
}

// rows splits a table into trimmed lines of whitespace-separated fields
// (columns in kubectl tables are separated by at least 3 spaces).
func rows(out string) [][]string {
	var r [][]string
	for _, ln := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		r = append(r, regexp.MustCompile(`\s{3,}`).Split(strings.TrimSpace(ln), -1))
	}
	return r
}

func wantRow(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("row = %q, want %q", got, want)
	}
}

func TestApplyCreateConfigureUnchanged(t *testing.T) {
	e := newEnv(t)
	f := e.write("app/app.yaml", podYAML("web", "app: web")+"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: \"1\"}\n")
	if out := e.ok("apply", "-f", f); out != "pod/web created\nconfigmap/cfg created\n" {
		t.Fatalf("first apply: %q", out)
	}
	pod, err := e.cs.CoreV1().Pods("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pod.Annotations[pods.AnnotationManifestDir]; got != filepath.Join(e.dir, "app") {
		t.Errorf("manifest-dir annotation = %q, want %q", got, filepath.Join(e.dir, "app"))
	}
	if !strings.Contains(pod.Annotations[lastAppliedAnnotation], `"name":"web"`) {
		t.Errorf("last-applied annotation = %q", pod.Annotations[lastAppliedAnnotation])
	}
	if out := e.ok("apply", "-f", f); out != "pod/web unchanged\nconfigmap/cfg unchanged\n" {
		t.Fatalf("second apply: %q", out)
	}
	// Change a label and the config map's data; drop nothing else.
	e.write("app/app.yaml", podYAML("web", "app: web2")+"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {b: \"2\"}\n")
	if out := e.ok("apply", "-f", filepath.Join(e.dir, "app")); out != "pod/web configured\nconfigmap/cfg configured\n" {
		t.Fatalf("third apply: %q", out)
	}
	pod, _ = e.cs.CoreV1().Pods("default").Get(context.Background(), "web", metav1.GetOptions{})
	if pod.Labels["app"] != "web2" {
		t.Errorf("labels after apply = %v", pod.Labels)
	}
	cm, _ := e.cs.CoreV1().ConfigMaps("default").Get(context.Background(), "cfg", metav1.GetOptions{})
	if len(cm.Data) != 1 || cm.Data["b"] != "2" {
		t.Errorf("configmap data after apply = %v (the three-way merge must delete a and add b)", cm.Data)
	}
	// Standard input, in another namespace given by -n.
	out, errOut, code := e.runIn(context.Background(), podYAML("fromstdin", ""), "apply", "-n", "kube-system", "-f", "-")
	if code != 0 || out != "pod/fromstdin created\n" {
		t.Fatalf("apply -f -: %d %q %q", code, out, errOut)
	}
	if _, err := e.cs.CoreV1().Pods("kube-system").Get(context.Background(), "fromstdin", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateAlreadyExistsAndInvalid(t *testing.T) {
	e := newEnv(t)
	f := e.write("pod.yaml", podYAML("x", ""))
	if out := e.ok("create", "-f", f); out != "pod/x created\n" {
		t.Fatalf("create: %q", out)
	}
	want := fmt.Sprintf("Error from server (AlreadyExists): error when creating %q: pods \"x\" already exists\n", f)
	if got := e.fail(1, "create", "-f", f); got != want {
		t.Errorf("create again:\n got %q\nwant %q", got, want)
	}
	bad := e.write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - image: a.wasm\n")
	for _, verb := range []string{"create", "apply"} {
		if got := e.fail(1, verb, "-f", bad); got != "The Pod \"bad\" is invalid: spec.containers[0].name: Required value\n" {
			t.Errorf("%s invalid pod: %q", verb, got)
		}
	}
	// A file that does not exist, and an unknown field (caught client-side by api.Decode).
	if got := e.fail(1, "apply", "-f", filepath.Join(e.dir, "nope.yaml")); !strings.Contains(got, "does not exist") {
		t.Errorf("missing file: %q", got)
	}
	typo := e.write("typo.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: t}\nspec:\n  containerz: []\n")
	if got := e.fail(1, "apply", "-f", typo); !strings.Contains(got, "typo.yaml") || !strings.Contains(got, "containerz") {
		t.Errorf("unknown field: %q", got)
	}
	unknown := e.write("unknown.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
	if got := e.fail(1, "apply", "-f", unknown); !strings.Contains(got, `no matches for kind "Widget" in version "example.com/v1"`) {
		t.Errorf("unknown kind: %q", got)
	}
}

// seed creates nodes, pods with statuses and events for the get and describe tests.
func seed(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	for i, n := range []struct {
		name   string
		ready  corev1.ConditionStatus
		unsch  bool
		labels map[string]string
	}{
		{"node-1", corev1.ConditionTrue, false, map[string]string{"node-role.kubernetes.io/control-plane": "", "zone": "a"}},
		{"node-2", corev1.ConditionFalse, true, map[string]string{"zone": "b"}},
	} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: n.labels}, Spec: corev1.NodeSpec{Unschedulable: n.unsch,
			Taints: []corev1.Taint{{Key: "dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule}}}}
		created, err := e.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status = corev1.NodeStatus{
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: n.ready, Reason: "KubeletReady", Message: "wasmpod node agent is ready"}},
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.0.0.%d", i+1)}, {Type: corev1.NodeHostName, Address: n.name}},
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")},
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-wasmpod", OSImage: "wasmpod", KernelVersion: "6.1", ContainerRuntimeVersion: "wazero://v1.12.0", OperatingSystem: "wasip1", Architecture: "wasm"},
		}
		if _, err := e.cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(ns, name, node string, labels map[string]string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{{Name: "main", Image: "hello.wasm", Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi"}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}
		created, err := e.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	web := mk("default", "web", "node-1", map[string]string{"app": "web"})
	finished := metav1.NewTime(now.Add(-5 * time.Second))
	started := metav1.NewTime(now.Add(-time.Minute))
	web.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.5", PodIPs: []corev1.PodIP{{IP: "10.244.0.5"}}, HostIP: "10.0.0.1", StartTime: &started,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Ready: true, RestartCount: 2, Image: "hello.wasm", ImageID: "sha256:abc",
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: finished}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", StartedAt: started, FinishedAt: finished}}}}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	crash := mk("default", "crash", "node-2", map[string]string{"app": "crash"})
	crash.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "main", RestartCount: 0,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, crash, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mk("kube-system", "sys", "", nil)
	for i, ev := range []struct{ reason, msg string }{{"Scheduled", "Successfully assigned default/web to node-1"}, {"Started", "Started container main"}} {
		at := metav1.NewTime(now.Add(time.Duration(i-10) * time.Second))
		_, err := e.cs.CoreV1().Events("default").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web.%d", i)},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", UID: web.UID, APIVersion: "v1"},
			Reason:         ev.reason, Message: ev.msg, Type: corev1.EventTypeNormal, FirstTimestamp: at, LastTimestamp: at, Count: 1,
			Source: corev1.EventSource{Component: "default-scheduler"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestGet(t *testing.T) {
	e := newEnv(t)
	seed(t, e)

	r := rows(e.ok("get", "pods"))
	wantRow(t, r[0], "NAME", "READY", "STATUS", "RESTARTS", "AGE")
	if len(r) != 3 || r[1][0] != "crash" || r[2][0] != "web" {
		t.Fatalf("get pods rows: %q", r)
	}
	wantRow(t, r[1][:4], "crash", "0/1", "CrashLoopBackOff", "0")
	wantRow(t, r[2][:3], "web", "1/1", "Running")
	if !regexp.MustCompile(`^2 \(\d+s ago\)$`).MatchString(r[2][3]) {
		t.Errorf("RESTARTS = %q, want like 2 (5s ago)", r[2][3])
	}

	r = rows(e.ok("get", "po", "web", "-o", "wide"))
	wantRow(t, r[0], "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES")
	wantRow(t, r[1][5:], "10.244.0.5", "node-1", "<none>", "<none>")

	r = rows(e.ok("get", "pods", "-A", "--show-labels"))
	wantRow(t, r[0], "NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS")
	if len(r) != 4 || r[3][0] != "kube-system" || r[3][1] != "sys" || r[3][6] != "<none>" || r[2][6] != "app=web" {
		t.Errorf("get pods -A: %q", r)
	}

	if out := e.ok("get", "pods", "-l", "app=web", "-o", "name"); out != "pod/web\n" {
		t.Errorf("-l: %q", out)
	}
	if out := e.ok("get", "pods", "--field-selector", "spec.nodeName=node-2", "--no-headers"); !strings.HasPrefix(out, "crash ") || strings.Contains(out, "NAME") {
		t.Errorf("--field-selector --no-headers: %q", out)
	}

	r = rows(e.ok("get", "no", "-o", "wide"))
	wantRow(t, r[0], "NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME")
	wantRow(t, r[1][:3], "node-1", "Ready", "control-plane")
	wantRow(t, r[1][4:], "v1.37.2-wasmpod", "10.0.0.1", "<none>", "wasmpod", "6.1", "wazero://v1.12.0")
	wantRow(t, r[2][:3], "node-2", "NotReady,SchedulingDisabled", "<none>")

	r = rows(e.ok("get", "ns"))
	wantRow(t, r[0], "NAME", "STATUS", "AGE")
	if len(r) < 3 || r[1][0] != "default" || r[1][1] != "Active" {
		t.Errorf("get ns: %q", r)
	}

	r = rows(e.ok("get", "ev"))
	wantRow(t, r[0], "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	if len(r) != 3 || r[1][2] != "Scheduled" || r[2][2] != "Started" || r[1][3] != "pod/web" || !regexp.MustCompile(`^1[01]s$`).MatchString(r[1][0]) {
		t.Errorf("get events (oldest first): %q", r)
	}

	// Config maps: the server's Table (NAME DATA AGE).
	e.ok("apply", "-f", e.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1}\n"))
	r = rows(e.ok("get", "configmaps"))
	wantRow(t, r[0], "NAME", "DATA", "AGE")
	wantRow(t, r[1][:2], "c1", "0")

	// Several types: kind/name and a table per type.
	out := e.ok("get", "pods,nodes")
	if !strings.Contains(out, "pod/web") || !strings.Contains(out, "node/node-1") || !strings.Contains(out, "\n\nNAME ") {
		t.Errorf("get pods,nodes:\n%s", out)
	}

	// -o yaml of one object is the object; of a list, a List.
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(e.ok("get", "pod", "web", "-o", "yaml")), &obj); err != nil || obj["kind"] != "Pod" {
		t.Errorf("-o yaml single: kind %v, %v", obj["kind"], err)
	}
	obj = nil
	if err := json.Unmarshal([]byte(e.ok("get", "pods", "-o", "json")), &obj); err != nil || obj["kind"] != "List" || len(obj["items"].([]any)) != 2 {
		t.Errorf("-o json list: %v, %v", obj, err)
	}
	obj = nil
	if err := yaml.Unmarshal([]byte(e.ok("get", "pod/web", "pod/crash", "-o", "yaml")), &obj); err != nil || obj["kind"] != "List" {
		t.Errorf("-o yaml of two names: %v", err)
	}

	// Not found, partially found, empty, unknown type, bad output.
	if got := e.fail(1, "get", "pod", "nope"); got != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("not found: %q", got)
	}
	out, errOut, code := e.run("get", "pods", "web", "nope")
	if code != 1 || !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "web") || !strings.Contains(errOut, `pods "nope" not found`) {
		t.Errorf("partial: %d %q %q", code, out, errOut)
	}
	out, errOut, code = e.run("get", "pods", "-n", "kube-public")
	if code != 0 || out != "" || errOut != "No resources found in kube-public namespace.\n" {
		t.Errorf("empty: %d %q %q", code, out, errOut)
	}
	if got := e.fail(1, "get", "widgets"); got != "error: the server doesn't have a resource type \"widgets\"\n" {
		t.Errorf("unknown type: %q", got)
	}
	if got := e.fail(1, "get", "pods", "-o", "xml"); !strings.Contains(got, `output format "xml"`) {
		t.Errorf("bad -o: %q", got)
	}
	if got := e.fail(1, "get", "pods", "--field-selector", "spec.bogus=1"); !strings.Contains(got, "Error from server (BadRequest)") {
		t.Errorf("bad field selector: %q", got)
	}
}

func TestGetWatch(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		app := App(&out, &errb)
		done <- runAppContext(ctx, app, []string{"wasmpod", "get", "pods", "-w", "--server", e.server})
	}()
	// kubectl's get -w says nothing of an empty list: the pod shows up in
	// the initial list or as the first event.
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "w1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "a.wasm"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return regexp.MustCompile(`(?m)^w1\s+0/1\s+Pending\s+0`).MatchString(out.String()) })
	if !strings.HasPrefix(out.String(), "NAME") {
		t.Errorf("watch output has no header: %q", out.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 || errb.String() != "" {
			t.Errorf("watch exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("get -w did not end when its context was cancelled")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDescribe(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	out := e.ok("describe", "pod", "web")
	for _, re := range []string{
		`(?m)^Name:\s+web$`, `(?m)^Namespace:\s+default$`, `(?m)^Priority:\s+0$`, `(?m)^Node:\s+node-1/10.0.0.1$`,
		`(?m)^Start Time:\s+\w{3}, \d\d \w{3} \d{4}`, `(?m)^Labels:\s+app=web$`, `(?m)^Status:\s+Running$`,
		`(?m)^IP:\s+10.244.0.5$`, `(?m)^IPs:\n  IP:\s+10.244.0.5$`, `(?m)^Containers:\n  main:$`,
		`(?m)^    Image:\s+hello.wasm$`, `(?m)^    State:\s+Running$`, `(?m)^    Last State:\s+Terminated$`,
		`(?m)^      Reason:\s+Error$`, `(?m)^      Exit Code:\s+1$`, `(?m)^    Ready:\s+True$`, `(?m)^    Restart Count:\s+2$`,
		`(?m)^    Requests:\n      cpu:\s+100m$`, `(?m)^    Environment:\n      GREETING:\s+hi$`, `(?m)^    Mounts:\s+<none>$`,
		`(?m)^Conditions:\n  Type\s+Status\n  Ready\s+True`, `(?m)^QoS Class:\s+Burstable$`, `(?m)^Node-Selectors:\s+<none>$`,
		`(?m)^Events:\n  Type\s+Reason\s+Age\s+From\s+Message\n  ----\s+------\s+----\s+----\s+-------\n  Normal\s+Scheduled\s+1[01]s\s+default-scheduler\s+Successfully assigned default/web to node-1\n  Normal\s+Started\s+(9|10)s\s+default-scheduler\s+Started container main$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("describe pod: no match for %s\n%s", re, out)
		}
	}
	if out := e.ok("describe", "pod", "crash"); !strings.Contains(out, "Events:            <none>") && !regexp.MustCompile(`(?m)^Events:\s+<none>$`).MatchString(out) {
		t.Errorf("describe pod without events:\n%s", out)
	}
	out = e.ok("describe", "node", "node-1")
	for _, re := range []string{
		`(?m)^Name:\s+node-1$`, `(?m)^Roles:\s+control-plane$`, `(?m)^Labels:\s+node-role.kubernetes.io/control-plane=$`, `(?m)^\s+zone=a$`,
		`(?m)^Taints:\s+dedicated=edge:NoSchedule$`, `(?m)^Unschedulable:\s+false$`, `(?m)^Conditions:\n  Type\s+Status\s+LastHeartbeatTime`,
		`(?m)^  Ready\s+True`, `(?m)^Addresses:\n  InternalIP:\s+10.0.0.1\n  Hostname:\s+node-1$`, `(?m)^Capacity:\n  cpu:\s+4$`,
		`(?m)^Allocatable:\n`, `(?m)^System Info:\n`, `(?m)^  Kubelet Version:\s+v1.37.2-wasmpod$`,
		`(?m)^Non-terminated Pods:\s+\(1 in total\)$`, `(?m)^  default\s+web\s+100m \(2%\)\s+0 \(0%\)`,
		`(?m)^  cpu\s+100m \(2%\)\s+0 \(0%\)$`, `(?m)^Events:\s+<none>$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("describe node: no match for %s\n%s", re, out)
		}
	}
	if got := e.fail(1, "describe", "pod", "nope"); got != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("describe missing pod: %q", got)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c"} {
		e.ok("apply", "-f", e.write(n+".yaml", podYAML(n, "tier: '"+map[string]string{"a": "x", "b": "y", "c": "y"}[n]+"'")))
	}
	if out := e.ok("delete", "pod", "a"); out != "pod \"a\" deleted\n" {
		t.Errorf("delete by name: %q", out)
	}
	if out := e.ok("delete", "pods", "-l", "tier=y"); out != "pod \"b\" deleted\npod \"c\" deleted\n" {
		t.Errorf("delete -l: %q", out)
	}
	if out := e.ok("delete", "pods", "-l", "tier=y"); out != "No resources found\n" {
		t.Errorf("delete -l of nothing: %q", out)
	}
	f := e.write("d.yaml", podYAML("d", ""))
	e.ok("create", "-f", f)
	if out := e.ok("delete", "-f", f); out != "pod \"d\" deleted\n" {
		t.Errorf("delete -f: %q", out)
	}
	if got := e.fail(1, "delete", "pod", "a"); got != "Error from server (NotFound): pods \"a\" not found\n" {
		t.Errorf("delete missing: %q", got)
	}
	e.ok("delete", "pod", "a", "--ignore-not-found")

	// A bound pod with no node agent stays Terminating: --wait=false returns,
	// and --grace-period=0 --force removes it at once.
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bound"},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "a.wasm"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := e.ok("delete", "pod", "bound", "--wait=false", "--grace-period", "20"); out != "pod \"bound\" deleted\n" {
		t.Errorf("delete --wait=false: %q", out)
	}
	p, err := e.cs.CoreV1().Pods("default").Get(ctx, "bound", metav1.GetOptions{})
	if err != nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 20 {
		t.Fatalf("after graceful delete: %v %v", p, err)
	}
	if r := rows(e.ok("get", "pods")); r[1][2] != "Terminating" {
		t.Errorf("STATUS of a deleted bound pod: %q", r)
	}
	out, errOut, code := e.run("delete", "pod", "bound", "--grace-period=0", "--force")
	if code != 0 || out != "pod \"bound\" force deleted\n" ||
		errOut != "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n" {
		t.Errorf("force delete: %d %q %q", code, out, errOut)
	}
	if _, err := e.cs.CoreV1().Pods("default").Get(ctx, "bound", metav1.GetOptions{}); err == nil {
		t.Error("force-deleted pod still exists")
	}
	// --wait (the default) returns once a graceful deletion completes.
	if _, err := e.cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "slow"},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "a.wasm"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		// The "node agent": once the pod is marked for deletion, finish it.
		for i := 0; i < 200; i++ {
			p, err := e.cs.CoreV1().Pods("default").Get(ctx, "slow", metav1.GetOptions{})
			if err == nil && p.DeletionTimestamp != nil {
				// In-process: client-go's DeleteOptions body ("apiVersion: v1")
				// is refused by the HTTP API (see the report).
				zero := int64(0)
				r, _ := e.s.Resource("", "pods")
				if _, err := e.s.Delete(ctx, r, "default", "slow", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
					t.Error(err)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if out := e.ok("delete", "pod", "slow", "--timeout", "5s"); out != "pod \"slow\" deleted\n" {
		t.Errorf("delete --wait: %q", out)
	}
	if _, err := e.cs.CoreV1().Pods("default").Get(ctx, "slow", metav1.GetOptions{}); err == nil {
		t.Error("delete returned before the pod was gone")
	}
	if got := e.fail(1, "delete", "pods"); !strings.Contains(got, "no name was specified") {
		t.Errorf("delete without names: %q", got)
	}
}

func TestConnectionRefused(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "wasmpod.sock")
	for _, args := range [][]string{{"get", "pods"}, {"apply", "-f", "-"}, {"delete", "pod", "x"}, {"logs", "x"}, {"describe", "pod", "x"}} {
		var out, errb bytes.Buffer
		app := App(&out, &errb)
		app.Reader = strings.NewReader(podYAML("x", ""))
		code := runApp(app, append(append([]string{"wasmpod"}, args...), "--server", "unix://"+missing))
		want := fmt.Sprintf("The connection to the server unix://%s was refused - is \"wasmpod serve\" running?\n", missing)
		if code != 1 || errb.String() != want {
			t.Errorf("%v: exit %d, stderr %q, want %q", args, code, errb.String(), want)
		}
	}
	// --server as a global flag, before the command.
	var gout, gerr bytes.Buffer
	if code := Main([]string{"wasmpod", "--server", "unix://" + missing, "get", "pods"}, &gout, &gerr); code != 1 || !strings.Contains(gerr.String(), "unix://"+missing+" was refused") {
		t.Errorf("global --server: exit %d, %q", code, gerr.String())
	}
	// The default socket comes from WASMPOD_DATA_DIR; a stale socket file
	// refuses too, and the error says what was tried (no serve record
	// either: see discover_test.go).
	isolate(t)
	t.Setenv("WASMPOD_DATA_DIR", dir)
	t.Setenv("WASMPOD_SERVER", "")
	ln, err := net.Listen("unix", missing)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	var out, errb bytes.Buffer
	code := Main([]string{"wasmpod", "get", "pods"}, &out, &errb)
	if want := fmt.Sprintf("error: no wasmpod server found: tried unix://%s (connection refused); start one with 'wasmpod serve' or pass --server\n", missing); code != 1 || errb.String() != want {
		t.Errorf("default socket: exit %d, %q", code, errb.String())
	}
	if DefaultSocketPath() != missing {
		t.Errorf("DefaultSocketPath() = %q", DefaultSocketPath())
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Setenv("WASMPOD_DATA_DIR", "")
	t.Setenv("XDG_DATA_HOME", "/x/data")
	if got := DefaultDataDir(); got != "/x/data/wasmpod" {
		t.Errorf("with XDG_DATA_HOME: %q", got)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := DefaultDataDir(); got != "/home/u/.local/share/wasmpod" {
		t.Errorf("with HOME: %q", got)
	}
	t.Setenv("WASMPOD_DATA_DIR", "/d")
	if got := DefaultSocketPath(); got != "/d/wasmpod.sock" {
		t.Errorf("DefaultSocketPath: %q", got)
	}
}

func TestTCPWithToken(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.s.Handler(apiserver.HandlerOptions{Token: "s3cret"})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e.server = "http://" + ln.Addr().String()
	e.extra = []string{"--token", "s3cret"}
	if out := e.ok("apply", "-f", e.write("p.yaml", podYAML("p", ""))); out != "pod/p created\n" {
		t.Errorf("apply over TCP: %q", out)
	}
	if r := rows(e.ok("get", "pods")); len(r) != 2 || r[1][0] != "p" {
		t.Errorf("get over TCP: %q", r)
	}
	e.extra = []string{"--token", "wrong"}
	if got := e.fail(1, "get", "pods"); !strings.HasPrefix(got, "error: You must be logged in to the server") {
		t.Errorf("wrong token: %q", got)
	}
}

// fakeNode is a NodeConnector that serves canned logs and a few commands.
type fakeNode struct {
	mu       sync.Mutex
	lastLogs corev1.PodLogOptions
}

func (f *fakeNode) Logs(ctx context.Context, pod *corev1.Pod, opts *corev1.PodLogOptions, w io.Writer) error {
	f.mu.Lock()
	f.lastLogs = *opts
	f.mu.Unlock()
	fmt.Fprintf(w, "%s/%s line 1\n%s/%s line 2\n", pod.Name, opts.Container, pod.Name, opts.Container)
	return nil
}

func (f *fakeNode) Exec(ctx context.Context, pod *corev1.Pod, opts *corev1.PodExecOptions, s apiserver.ExecStreams) (int, error) {
	switch opts.Command[0] {
	case "echo":
		fmt.Fprintf(s.Stdout, "%s %s\n", opts.Container, strings.Join(opts.Command[1:], " "))
		return 0, nil
	case "cat":
		if s.Stdin != nil {
			io.Copy(s.Stdout, s.Stdin)
		}
		return 0, nil
	case "fail":
		fmt.Fprintln(s.Stderr, "failing")
		return 3, nil
	}
	return 127, nil
}

func TestLogsAndExec(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	fake := &fakeNode{}
	e.s.RegisterNode("node-1", fake)
	mk := func(name string, containers ...string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: "node-1"}}
		for _, c := range containers {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "a.wasm"})
		}
		if _, err := e.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("one", "main")
	mk("two", "a", "b")

	if out := e.ok("logs", "one", "--tail", "5", "--timestamps", "--since", "90s", "-p"); out != "one/main line 1\none/main line 2\n" {
		t.Errorf("logs: %q", out)
	}
	fake.mu.Lock()
	lo := fake.lastLogs
	fake.mu.Unlock()
	if lo.TailLines == nil || *lo.TailLines != 5 || !lo.Timestamps || lo.SinceSeconds == nil || *lo.SinceSeconds != 90 || !lo.Previous || lo.Follow {
		t.Errorf("log options reached the node as %+v", lo)
	}
	if out := e.ok("logs", "pod/two", "-c", "b", "-f"); out != "two/b line 1\ntwo/b line 2\n" {
		t.Errorf("logs -c: %q", out)
	}
	// Without -c, the first container, with kubectl's notice (see TestDefaultContainer).
	if out, errOut, code := e.run("logs", "two"); code != 0 || out != "two/a line 1\ntwo/a line 2\n" || errOut != "Defaulted container \"a\" out of: a, b\n" {
		t.Errorf("logs without -c: %d %q %q", code, out, errOut)
	}
	if got := e.fail(1, "logs", "nope"); got != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("logs missing pod: %q", got)
	}

	// exec over the Unix socket (through the CLI's CONNECT tunnel).
	if out := e.ok("exec", "one", "--", "echo", "hello", "world"); out != "main hello world\n" {
		t.Errorf("exec: %q", out)
	}
	if out := e.ok("exec", "two", "-c", "b", "--", "echo", "-n", "x"); out != "b -n x\n" {
		t.Errorf("exec -c (and flags after --): %q", out)
	}
	out, errOut, code := e.runIn(ctx, "piped input\n", "exec", "-i", "one", "--", "cat")
	if code != 0 || out != "piped input\n" {
		t.Errorf("exec -i: %d %q %q", code, out, errOut)
	}
	out, errOut, code = e.runIn(ctx, "", "exec", "-it", "one", "--", "echo", "tty")
	if code != 0 || out != "main tty\n" || !strings.Contains(errOut, "Unable to use a TTY") {
		t.Errorf("exec -it without a terminal: %d %q %q", code, out, errOut)
	}
	out, errOut, code = e.run("exec", "one", "--", "fail")
	if code != 3 || errOut != "failing\ncommand terminated with exit code 3\n" {
		t.Errorf("exec exit code: %d %q %q", code, out, errOut)
	}
	if got := e.fail(1, "exec", "one", "echo"); !strings.Contains(got, "Use exec [POD] -- [COMMAND]") {
		t.Errorf("exec without --: %q", got)
	}

	// The same over TCP with a token.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.s.Handler(apiserver.HandlerOptions{Token: "tok"})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e.server, e.extra = "http://"+ln.Addr().String(), []string{"--token", "tok"}
	out, _, code = e.run("exec", "one", "--", "fail")
	if code != 3 {
		t.Errorf("exec over TCP: exit %d %q", code, out)
	}
	if out := e.ok("logs", "one"); out != "one/main line 1\none/main line 2\n" {
		t.Errorf("logs over TCP: %q", out)
	}
}

// TestKubectlArgs: flags may follow the positional arguments, short
// booleans combine (-it), a short flag's value may be attached (-owide),
// global flags may precede the command, and "--" stays among exec's
// arguments.
func TestKubectlArgs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"get pods -n kube-system -owide", "[pods] namespace=kube-system output=wide"},
		{"--server unix:///s get po x -A", "[po x] all-namespaces=true server=unix:///s"},
		{"exec -it p -c c -- ls -l", "[p -- ls -l] container=c stdin=true tty=true"},
		{"apply -f - -n x", "[] filename=[-] namespace=x"},
		{"run pod.yaml --data-dir d", "[pod.yaml] data-dir=d"},
		{"delete pod x --grace-period=0 --force", "[pod x] force=true grace-period=0"},
		{"rollout status deployment/web --watch=false -n x", "[deployment/web] namespace=x watch=false"},
	} {
		app := App(io.Discard, io.Discard)
		var got string
		record := func(c *cmdline.Context) error {
			var set []string
			c.Cobra().Flags().Visit(func(f *pflag.Flag) { set = append(set, f.Name+"="+f.Value.String()) })
			sort.Strings(set)
			got = strings.TrimSpace(fmt.Sprintf("%v %s", c.Args().Slice(), strings.Join(set, " ")))
			return nil
		}
		var setAll func([]*cmdline.Command)
		setAll = func(cmds []*cmdline.Command) {
			for _, cmd := range cmds {
				if cmd.Action != nil {
					cmd.Action = record
				}
				setAll(cmd.Subcommands)
			}
		}
		setAll(app.Commands)
		if err := app.Run(append([]string{"wasmpod"}, strings.Fields(c.in)...)); err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"get", "describe", "apply", "create", "delete", "logs", "exec"} {
		var out, errb bytes.Buffer
		if code := Main([]string{"wasmpod", cmd, "--help"}, &out, &errb); code != 0 {
			t.Errorf("%s --help: exit %d %s", cmd, code, errb.String())
		}
		if !strings.Contains(out.String(), "Examples:") || !strings.Contains(out.String(), "wasmpod "+cmd) {
			t.Errorf("%s --help has no examples:\n%s", cmd, out.String())
		}
	}
}
