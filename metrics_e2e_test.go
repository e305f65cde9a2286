package wasmpod_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/cli"
	"github.com/wasmpod/wasmpod/internal/metrics/promtest"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// metricsEnv is a Cluster with n idle pods Running (graceful, 64Mi
// limit), served over HTTP with a kubeconfig.
type metricsEnv struct {
	c       *wasmpod.Cluster
	dir, kc string
	module  int // the pods' module's size
}

func newMetricsEnv(t *testing.T, n int) *metricsEnv {
	t.Helper()
	ctx := context.Background()
	mod := exampleModule(t, "graceful")
	// A module file: each pod's worker reads it, a pull of its own (a
	// wasmpod.local module already in the node's store is no pull, as an
	// image already present on a kubelet's node).
	modPath := filepath.Join(t.TempDir(), "graceful.wasm")
	if err := os.WriteFile(modPath, mod, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(),
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cs := c.Client()
	zero := int64(0)
	for i := range n {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("idle-%d", i), Namespace: "default", Labels: map[string]string{"app": "idle"}},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero, Containers: []corev1.Container{{Name: "main", Image: modPath,
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, fmt.Sprintf("%d pods Running", n), 120*time.Second, func() bool {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		running := 0
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == n
	})
	dir := t.TempDir()
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &metricsEnv{c: c, dir: dir, kc: kc, module: len(mod)}
}

// raw GETs an API path (the control plane's /metrics, a node proxy path).
func (e *metricsEnv) raw(t *testing.T, path string) string {
	t.Helper()
	b, err := e.c.Client().CoreV1().RESTClient().Get().AbsPath(path).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
	return string(b)
}

func (e *metricsEnv) kubectl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testkubectl.Path(t), append([]string{"--kubeconfig", e.kc, "--cache-dir", filepath.Join(e.dir, "kcache")}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+e.dir, "KUBECONFIG="+e.kc)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (e *metricsEnv) wasmpod(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := cli.Main(append([]string{"wasmpod", "--kubeconfig", e.kc}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// TestMetricsAfterKnownWork: with N pods started on the node, the node
// agent's /metrics (through the API server's node proxy, as Prometheus'
// kubernetes_sd scrapes it) says N running pods and containers, N starts
// and N start durations; the control plane's /metrics says N pods
// scheduled, none pending, and the controllers' workqueues at work. Both
// expositions parse cleanly (HELP and TYPE on every family, no series
// twice).
func TestMetricsAfterKnownWork(t *testing.T) {
	const N = 3
	e := newMetricsEnv(t, N)
	node := promtest.Parse(t, e.raw(t, "/api/v1/nodes/node-1/proxy/metrics"))
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"kubelet_running_pods", nil, N},
		{"kubelet_running_containers", map[string]string{"container_state": "running"}, N},
		{"kubelet_started_pods_total", nil, N},
		{"kubelet_pod_start_duration_seconds", nil, N}, // the histogram's count
	} {
		if v, ok := node.Value(c.name, c.labels); !ok || v != c.want {
			t.Errorf("node /metrics %s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	// One module for N pods: compiled at least once, then found in the
	// engine's cache (the process's figures: other tests' modules too).
	if v, _ := node.Value("wasmpod_module_compile_duration_seconds", map[string]string{"result": "success"}); v < 1 {
		t.Errorf("wasmpod_module_compile_duration_seconds{result=success} count %v, want at least 1", v)
	}
	if v, _ := node.Value("wasmpod_module_cache_hits_total", nil); v < N-1 {
		t.Errorf("wasmpod_module_cache_hits_total %v, want at least %d", v, N-1)
	}
	if v, _ := node.Value("kubelet_pod_worker_duration_seconds", map[string]string{"operation": "sync"}); v < N {
		t.Errorf("kubelet_pod_worker_duration_seconds{operation=sync} count %v, want at least one status write a pod", v)
	}
	// Each pod pulled the module once: N pulls of its size, all under
	// upstream's smallest size range.
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wasmpod_image_pulls_total", map[string]string{"result": "success"}, N},
		{"wasmpod_image_pulls_total", map[string]string{"result": "failure"}, 0},
		{"wasmpod_image_pull_bytes_total", nil, float64(N * e.module)},
		{"kubelet_image_pull_duration_seconds", map[string]string{"image_size_in_bytes": "0-10MB"}, N},
	} {
		if v, ok := node.Value(c.name, c.labels); !ok || v != c.want {
			t.Errorf("node /metrics %s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}

	plane := promtest.Parse(t, e.raw(t, "/metrics"))
	if v, _ := plane.Value("scheduler_schedule_attempts_total", map[string]string{"result": "scheduled", "profile": "default-scheduler"}); v != N {
		t.Errorf("scheduler_schedule_attempts_total{result=scheduled} = %v, want %d", v, N)
	}
	if v, _ := plane.Value("scheduler_scheduling_attempt_duration_seconds", map[string]string{"result": "scheduled"}); v != N {
		t.Errorf("scheduler_scheduling_attempt_duration_seconds{result=scheduled} count = %v, want %d", v, N)
	}
	for _, q := range []string{"active", "backoff", "unschedulable"} {
		if v, ok := plane.Value("scheduler_pending_pods", map[string]string{"queue": q}); !ok || v != 0 {
			t.Errorf("scheduler_pending_pods{queue=%s} = %v (present %v), want 0", q, v, ok)
		}
	}
	// The pods' creation went through the API server: N POSTs answered 201.
	if v, _ := plane.Value("apiserver_request_total", map[string]string{"verb": "POST", "resource": "pods", "subresource": "", "code": "201"}); v < N {
		t.Errorf("apiserver_request_total{POST pods 201} = %v, want at least %d", v, N)
	}
	// The binding of each pod is a POST of pods/binding.
	if v, _ := plane.Value("apiserver_request_total", map[string]string{"verb": "POST", "resource": "pods", "subresource": "binding", "code": "201"}); v != N {
		t.Errorf("apiserver_request_total{POST pods/binding 201} = %v, want %d", v, N)
	}
	// The store holds exactly the N pods, and the namespaces made at
	// start; apiserver_storage_objects counts them as the cache has them.
	if v, ok := plane.Value("apiserver_storage_objects", map[string]string{"resource": "pods"}); !ok || v != N {
		t.Errorf("apiserver_storage_objects{resource=pods} = %v (present %v), want %d", v, ok, N)
	}
	nss, err := e.c.Client().CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := plane.Value("apiserver_storage_objects", map[string]string{"resource": "namespaces"}); v != float64(len(nss.Items)) {
		t.Errorf("apiserver_storage_objects{resource=namespaces} = %v, want %d", v, len(nss.Items))
	}
	if _, ok := plane.Value("apiserver_storage_objects", map[string]string{"resource": "deployments.apps"}); !ok {
		t.Errorf("apiserver_storage_objects has no deployments.apps series")
	}
	// The controllers' queues: the service account controller synced the
	// default namespace at least.
	if v, ok := plane.Value("workqueue_adds_total", nil); !ok || v < 1 {
		t.Errorf("workqueue_adds_total = %v (present %v), want the controllers' adds", v, ok)
	}
}

// TestKubectlTop: an unmodified kubectl finds the resource metrics API in
// discovery and `kubectl top pods|nodes` print the pods' and the node's
// usage; `wasmpod top` prints the same columns and rows (the figures move
// between two reads, so the rows are compared by name and shape). The
// metrics API also answers a single pod and node, 404 for an unknown pod,
// and 405 for a watch.
func TestKubectlTop(t *testing.T) {
	const N = 2
	e := newMetricsEnv(t, N)
	shape := regexp.MustCompile(`^\S+\s+\d+m\s+\d+Mi\s*$`)
	check := func(who, out string) {
		t.Helper()
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != N+1 || !regexp.MustCompile(`^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\s*$`).MatchString(lines[0]) {
			t.Fatalf("%s top pods:\n%s", who, out)
		}
		for i, l := range lines[1:] {
			if !shape.MatchString(l) || !strings.HasPrefix(l, fmt.Sprintf("idle-%d ", i)) {
				t.Errorf("%s top pods line %q", who, l)
			}
		}
	}
	kout, kerr, code := e.kubectl(t, "top", "pods")
	if code != 0 {
		t.Fatalf("kubectl top pods: exit %d\n%s%s", code, kout, kerr)
	}
	check("kubectl", kout)
	wout, werr, code := e.wasmpod("top", "pods")
	if code != 0 {
		t.Fatalf("wasmpod top pods: exit %d\n%s%s", code, wout, werr)
	}
	check("wasmpod", wout)
	if kw, ww := columnWidths(kout), columnWidths(wout); kw != ww {
		t.Errorf("column layout differs: kubectl %q, wasmpod %q", kw, ww)
	}

	nodeShape := regexp.MustCompile(`^node-1\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%\s*$`)
	for who, run := range map[string]func(...string) (string, string, int){
		"kubectl": func(a ...string) (string, string, int) { return e.kubectl(t, a...) },
		"wasmpod": e.wasmpod,
	} {
		out, errOut, code := run("top", "nodes")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if code != 0 || len(lines) != 2 || !regexp.MustCompile(`^NAME\s+CPU\(cores\)\s+CPU\(%\)\s+MEMORY\(bytes\)\s+MEMORY\(%\)\s*$`).MatchString(lines[0]) || !nodeShape.MatchString(lines[1]) {
			t.Errorf("%s top nodes: exit %d\n%s%s", who, code, out, errOut)
		}
		out, errOut, code = run("top", "pod", "idle-1", "--containers")
		if code != 0 || !regexp.MustCompile(`(?m)^POD\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\s*\nidle-1\s+main\s+\d+m\s+\d+Mi\s*$`).MatchString(out) {
			t.Errorf("%s top pod idle-1 --containers: exit %d\n%s%s", who, code, out, errOut)
		}
		out, errOut, code = run("top", "pod", "nope")
		if code == 0 || !strings.Contains(errOut, `podmetrics.metrics.k8s.io "nope" not found`) && !strings.Contains(errOut, `pods.metrics.k8s.io "nope" not found`) {
			t.Errorf("%s top pod nope: exit %d\n%s%s", who, code, out, errOut)
		}
	}
	// Memory: each pod's working set is its guest's linear memory, more
	// than nothing.
	cs := e.c.Client()
	b, err := cs.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/idle-0").SetHeader("Accept", "application/json").DoRaw(context.Background())
	if err != nil || !strings.Contains(string(b), `"kind":"PodMetrics"`) || !strings.Contains(string(b), `"name":"main"`) {
		t.Errorf("GET PodMetrics idle-0: %v\n%s", err, b)
	}
	_, err = cs.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/pods").Param("watch", "true").DoRaw(context.Background())
	if !apierrors.IsMethodNotSupported(err) {
		t.Errorf("a watch of PodMetrics: %v, want 405", err)
	}
}

// columnWidths is where each column of a table's header starts.
func columnWidths(table string) string {
	header, _, _ := strings.Cut(table, "\n")
	var starts []string
	for i := 0; i < len(header); i++ {
		if header[i] != ' ' && (i == 0 || header[i-1] == ' ') {
			starts = append(starts, fmt.Sprint(i))
		}
	}
	return strings.Join(starts, ",")
}

// TestPodNetworkMetrics: a client pod fetches a file of known size from a
// server pod over the pod network (the toolbox's wget and httpd, the file
// a ConfigMap's); the node's /metrics says the server sent and the client
// received at least its bytes, over at least one connection each way, and
// the Summary's pod network stats agree.
func TestPodNetworkMetrics(t *testing.T) {
	e := newToolboxEnv(t)
	cs := e.c.Client()
	ctx := context.Background()
	const size = 200_000
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "www"},
		Data: map[string]string{"big": strings.Repeat("x", size)}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	srv := httpdPod("srv", "8080")
	srv.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "www"}}}
	srv.Spec.Containers[0].ReadinessProbe, srv.Spec.Containers[0].StartupProbe = nil, nil
	if _, err := cs.CoreV1().Pods("default").Create(ctx, srv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	waitFor(t, "pod srv Running with an IP", 180*time.Second, func() bool {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "srv", metav1.GetOptions{})
		ip = ""
		if err == nil && p.Status.Phase == corev1.PodRunning {
			ip = p.Status.PodIP
		}
		return ip != ""
	})
	zero := int64(0)
	client := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client"}, Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, TerminationGracePeriodSeconds: &zero,
		Containers: []corev1.Container{{Name: "wget", Image: "busybox:1.36",
			Command: []string{"sh", "-c", "wget -q -O - http://" + ip + ":8080/big | wc -c"}}}}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod client Succeeded", 180*time.Second, func() bool {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "client", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodSucceeded
	})
	if out := e.must(t, "logs", "client"); strings.TrimSpace(out) != fmt.Sprint(size) {
		t.Fatalf("the client read %q bytes, want %d", out, size)
	}
	b, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/node-1/proxy/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := promtest.Parse(t, string(b))
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"wasmpod_pod_network_transmit_bytes_total", map[string]string{"namespace": "default", "pod": "srv"}, size},
		{"wasmpod_pod_network_receive_bytes_total", map[string]string{"namespace": "default", "pod": "client"}, size},
		{"wasmpod_pod_network_connections_total", map[string]string{"namespace": "default", "pod": "srv", "direction": "inbound"}, 1},
		{"wasmpod_pod_network_connections_total", map[string]string{"namespace": "default", "pod": "client", "direction": "outbound"}, 1},
		{"wasmpod_pod_network_receive_bytes_total", map[string]string{"namespace": "default", "pod": "srv"}, 1}, // the request
	} {
		if v, ok := m.Value(c.name, c.labels); !ok || v < c.min {
			t.Errorf("%s%v = %v (present %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}
	// The server sent the file, not received it; the client the other way.
	if v, _ := m.Value("wasmpod_pod_network_receive_bytes_total", map[string]string{"pod": "srv"}); v >= size {
		t.Errorf("srv received %v bytes, more than the file it sent", v)
	}
	if v, _ := m.Value("wasmpod_pod_network_connections_total", map[string]string{"pod": "client", "direction": "inbound"}); v != 0 {
		t.Errorf("client accepted %v connections, want 0", v)
	}
	// The client exited: its connection is closed.
	if v, ok := m.Value("wasmpod_pod_network_open_connections", map[string]string{"pod": "client"}); !ok || v != 0 {
		t.Errorf("client's open connections = %v (present %v), want 0", v, ok)
	}
	// The Summary reports the same counters as the pods' eth0.
	b, err = cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/node-1/proxy/stats/summary").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum statsv1alpha1.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range sum.Pods {
		if p.PodRef.Name == "srv" {
			found = true
			if p.Network == nil || p.Network.Name != "eth0" || p.Network.TxBytes == nil || *p.Network.TxBytes < size {
				t.Errorf("Summary network of srv: %+v", p.Network)
			}
		}
	}
	if !found {
		t.Errorf("no pod srv in the Summary")
	}
}
