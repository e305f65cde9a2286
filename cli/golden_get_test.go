package cli

// Golden tests of get: real kubectl (v0.37.2, built from the module proxy
// by internal/testkubectl) and the wasmpod CLI read the same objects from
// the same API server on loopback, and must print the same bytes.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/store/memory"
)

// goldenEnv is an API server on a loopback TCP port (no token: the
// handler then serves anyone, as kubectl's plain http:// kubeconfig needs)
// with a kubeconfig for kubectl.
type goldenEnv struct {
	*env
	kubectl       string
	kubeconfig    string
	home          string
	viaKubeconfig bool // wasmpod reads the kubeconfig too (else --server)
}

func newGoldenEnv(t *testing.T) *goldenEnv {
	t.Helper()
	return newGoldenEnvWith(t, nil)
}

// newGoldenEnvWith serves the API server's handler through wrap (when not
// nil).
func newGoldenEnvWith(t *testing.T, wrap func(http.Handler) http.Handler) *goldenEnv {
	t.Helper()
	kubectl := testkubectl.Path(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(apiserver.HandlerOptions{})
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cs, err := kubernetes.NewForConfig(apiserver.TCPConfig(srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: golden
  cluster:
    server: %s
contexts:
- name: golden
  context:
    cluster: golden
    user: golden
    namespace: default
current-context: golden
users:
- name: golden
  user: {}
`, srv.URL)
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return &goldenEnv{env: &env{t: t, s: s, server: srv.URL, cs: cs, dir: dir}, kubectl: kubectl, kubeconfig: kc, home: home}
}

// kubectlRun runs real kubectl with args against the server.
func (g *goldenEnv) kubectlRun(args ...string) (string, string, int) {
	g.t.Helper()
	full := append([]string{"--kubeconfig", g.kubeconfig, "--cache-dir", filepath.Join(g.home, "cache")}, args...)
	cmd := exec.Command(g.kubectl, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+g.kubeconfig, "HOME="+g.home, "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			g.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// wasmpodRun runs the wasmpod CLI in-process with args, pointed at the
// server by --server (or by the kubeconfig kubectl reads, with
// viaKubeconfig).
func (g *goldenEnv) wasmpodRun(args ...string) (string, string, int) {
	g.t.Helper()
	if !g.viaKubeconfig {
		return g.run(args...)
	}
	var out, errb syncBuffer
	full := append([]string{"wasmpod", args[0], "--kubeconfig", g.kubeconfig}, args[1:]...)
	code := runAppContext(context.Background(), App(&out, &errb), full)
	return out.String(), errb.String(), code
}

// same runs `kubectl ARGS` and `wasmpod ARGS` and fails the test unless
// both print the same standard output and exit with the same code; with
// sameErr, standard error too. The two runs are a few milliseconds apart:
// when an AGE (or another "5s"-style duration) ticks between them, the
// pair is run again (up to 5 times): what is compared is always a whole,
// exact output, never a normalised one.
func (g *goldenEnv) same(sameErr bool, args ...string) string {
	g.t.Helper()
	var kout, kerr, wout, werr string
	var kcode, wcode int
	for try := 0; try < 5; try++ {
		if try > 0 {
			// Ages tick on whole seconds of the clock (timestamps have
			// whole seconds): start the next pair just after one.
			now := time.Now()
			time.Sleep(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now))
		}
		start := time.Now()
		kout, kerr, kcode = g.kubectlRun(args...)
		wout, werr, wcode = g.wasmpodRun(args...)
		took := time.Since(start)
		// Messages name the program: kubectl's say kubectl.
		kerr = strings.ReplaceAll(kerr, "kubectl", "wasmpod")
		if kout == wout && kcode == wcode && (!sameErr || kerr == werr) {
			g.t.Logf("%s: exit %d, same output:\n%s%s", strings.Join(args, " "), wcode, wout, werr)
			return wout
		}
		if tickless(kout) != tickless(wout) {
			break // not a tick
		}
		// On a loaded machine the pair can take over a second every time:
		// then the last try may differ in its durations only, each by no
		// more than the time the pair took.
		if try == 4 && kcode == wcode && (!sameErr || kerr == werr) && ticksWithin(kout, wout, took) {
			g.t.Logf("%s: exit %d, same output but for durations within %v (the pair's time):\n%s", strings.Join(args, " "), wcode, took, wout)
			return wout
		}
	}
	g.t.Errorf("get %s:\nkubectl (exit %d):\n%s\nstderr: %s\nwasmpod (exit %d):\n%s\nstderr: %s",
		strings.Join(args, " "), kcode, kout, kerr, wcode, wout, werr)
	return wout
}

// durationRe matches kubectl's short durations ("5s", "3m2s", "2d3h").
var durationRe = regexp.MustCompile(`\b\d+[smhdy](\d+[smh])?\b`)

// tickless is a table with its durations blanked and its column padding
// collapsed: two outputs the same but for a clock tick between them (which
// can also widen a column: "99s" to "100s") are the same tickless.
func tickless(s string) string {
	return spacesRe.ReplaceAllString(durationRe.ReplaceAllString(s, "D"), " ")
}

var spacesRe = regexp.MustCompile(` +`)

// ticksWithin: the durations of a and b, in order, differ by at most d
// each (a's printed first, so b's are never smaller).
func ticksWithin(a, b string, d time.Duration) bool {
	da, db := durationRe.FindAllString(a, -1), durationRe.FindAllString(b, -1)
	if len(da) != len(db) {
		return false
	}
	for i := range da {
		x, y := shortDuration(da[i]), shortDuration(db[i])
		if y < x || y-x > d.Round(time.Second)+time.Second {
			return false
		}
	}
	return true
}

// shortDuration parses kubectl's short durations ("5s", "3m2s", "2d3h",
// "4y").
func shortDuration(s string) time.Duration {
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	var total, n time.Duration
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			n = n*10 + time.Duration(c-'0')
		} else {
			total += n * unit[c]
			n = 0
		}
	}
	return total
}

// seedGolden adds, to seed's nodes, pods and events, a pod of two
// containers that restarted, a service, a config map, a secret and a
// namespace with a labelled pod.
func seedGolden(t *testing.T, e *env) {
	t.Helper()
	seed(t, e)
	ctx := context.Background()
	now := time.Now()
	p, err := e.cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "duo", Labels: map[string]string{"app": "duo", "tier": "back"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "a", Image: "a.wasm"}, {Name: "b", Image: "b.wasm"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	finished := metav1.NewTime(now.Add(-90 * time.Second))
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.7", PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}, {Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{
			{Name: "a", Ready: true, RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: finished}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error", FinishedAt: finished}}},
			{Name: "b", Ready: false, RestartCount: 1, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: metav1.NewTime(now.Add(-3 * time.Minute))}}},
		}}
	if _, err := e.cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"},
		Data: map[string]string{"a": "1", "b": "2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "managed",
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "golden", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1"}}},
		Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token"},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"t": []byte("s3cret")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"team": "a"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().Pods("team-a").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "job-1", Labels: map[string]string{"app": "job"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "job.wasm", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenGetFormats compares the output formats that the client
// computes (jsonpath, go-template, custom-columns, name, json, yaml,
// --sort-by) with real kubectl's.
func TestGoldenGetFormats(t *testing.T) {
	g := newGoldenEnv(t)
	seedGolden(t, g.env)
	tmpl := filepath.Join(g.dir, "cols.txt")
	if err := os.WriteFile(tmpl, []byte("NAME          NODE\n.metadata.name .spec.nodeName\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jp := filepath.Join(g.dir, "names.jsonpath")
	if err := os.WriteFile(jp, []byte(`{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}`), 0o644); err != nil {
		t.Fatal(err)
	}
	gt := filepath.Join(g.dir, "names.tmpl")
	if err := os.WriteFile(gt, []byte(`{{range .items}}{{.metadata.name}} {{len .spec.containers}}{{"\n"}}{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"get", "pods", "-o", "name"},
		{"get", "pods,services", "-o", "name"},
		{"get", "pods", "-o", "jsonpath={.items[*].metadata.name}"},
		{"get", "pods", "-o", `jsonpath={range .items[*]}{.metadata.name}{"\t"}{.spec.containers[*].name}{"\n"}{end}`},
		{"get", "pod", "duo", "-o", "jsonpath={.status.containerStatuses[*].restartCount}"},
		{"get", "pods", "-o", "jsonpath-file=" + jp},
		{"get", "pods", "-o", "jsonpath-as-json={.items[*].metadata.name}"},
		{"get", "pods", "-o", "jsonpath", "--template", "{.items[0].metadata.name}"},
		{"get", "pods", "-o", "go-template={{range .items}}{{.metadata.name}}:{{.status.phase}} {{end}}"},
		{"get", "pods", "-o", "go-template-file=" + gt},
		{"get", "pods", "--template", "{{len .items}}"},
		{"get", "pods", "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,IMAGES:.spec.containers[*].image,MISSING:.status.nominatedNodeName"},
		{"get", "pods", "-o", "custom-columns=NAME:metadata.name,RESTARTS:{.status.containerStatuses[*].restartCount}", "--no-headers"},
		{"get", "pods", "-A", "-o", "custom-columns-file=" + tmpl},
		{"get", "pod", "web", "-o", "custom-columns=N:.metadata.name"},
		{"get", "pods", "-o", "name", "--sort-by=.metadata.name"},
		{"get", "pods", "-o", "name", "--sort-by={.spec.nodeName}"},
		{"get", "pods", "-A", "-o", "custom-columns=NAME:.metadata.name,NS:.metadata.namespace", "--sort-by=.metadata.namespace"},
		{"get", "pods", "-o", "jsonpath={.items[*].metadata.name}", "--sort-by=.status.containerStatuses[0].restartCount"},
		{"get", "pods", "-l", "app=web", "-o", "json"},
		{"get", "pod", "web", "-o", "yaml"},
		{"get", "pod", "web", "crash", "-o", "json"},
		{"get", "configmaps", "-o", "yaml"},
		{"get", "namespaces", "-o", "name"},
		{"get", "pods", "-n", "kube-public", "-o", "json"},
		{"get", "pods", "-o", "kyaml"},
		{"get", "pod", "web", "-o", "json", "--show-managed-fields"},
		{"get", "configmap", "managed", "-o", "yaml"},
		{"get", "configmap", "managed", "-o", "yaml", "--show-managed-fields"},
		{"get", "--raw", "/api/v1/namespaces/default/pods/web"},
		{"get", "--raw", "/api/v1/namespaces/default/configmaps"},
		{"get", "pods", "-A", "-o", "name", "--chunk-size=2"},
		{"get", "pods", "-A", "-o", "jsonpath={.items[*].metadata.name}", "--chunk-size=1"},
		{"get", "pods", "-o", "yaml", "--sort-by=.spec.nodeName"},
		{"get", "pods", "-o", "go-template={{range .items}}{{.nope}}{{end}}", "--allow-missing-template-keys=false"},
		{"get", "pods", "-o", "jsonpath={.items[0].nope}", "--allow-missing-template-keys=false"},
		{"get", "pods", "-o", "jsonpath={.items[0].nope}"},
		{"get", "secret", "token", "-o", "go-template={{.data.t | base64decode}}"},
		{"get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"},
	} {
		g.same(true, args...)
	}
}

// TestGoldenGetErrors compares get's messages for bad output flags with
// kubectl's. One deliberate difference is not compared: with the table
// output, kubectl ignores a --sort-by path that no object has (its get
// drops the table printer's error, prints nothing, says "No resources
// found" and exits 0, though the objects exist); wasmpod says "error:
// couldn't find any field with path ..." and exits 1, as kubectl does for
// every other output format (TestGetSortByMissingField).
func TestGoldenGetErrors(t *testing.T) {
	g := newGoldenEnv(t)
	seedGolden(t, g.env)
	oneLine := filepath.Join(g.dir, "one-line.txt")
	if err := os.WriteFile(oneLine, []byte("NAME NODE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mismatch := filepath.Join(g.dir, "mismatch.txt")
	if err := os.WriteFile(mismatch, []byte("NAME NODE\n.metadata.name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"get", "pods", "-o", "custom-columns-file=" + oneLine},
		{"get", "pods", "-o", "custom-columns-file=" + mismatch},
		{"get", "pods", "-o", "custom-columns-file=" + filepath.Join(g.dir, "nope")},
		{"get", "pods", "-o", "xml"},
		{"get", "pods", "-o", "jsonpath={.items[*].metadata.name"},
		{"get", "pods", "-o", "jsonpath="},
		{"get", "pods", "-o", "go-template={{.items"},
		{"get", "pods", "-o", "custom-columns="},
		{"get", "pods", "-o", "custom-columns=NAME"},
		{"get", "pods", "-o", "custom-columns=NAME:{{.x}}"},
		{"get", "pods", "-o", "jsonpath-file=" + filepath.Join(g.dir, "nope")},
		{"get", "pods", "-o", "name", "--sort-by=.spec.nope"},
		{"get", "pod", "nope", "-o", "name"},
		{"get", "pod", "nope", "-o", "json"},
		{"get", "pod", "nope1", "nope2", "-o", "json"},
		{"get", "pod", "web", "nope", "-o", "name"},
		{"get", "pod/web", "service/nope", "-o", "jsonpath={.items[*].metadata.name}"},
		{"get", "pod", "nope", "-o", "json", "--ignore-not-found"},
		{"get", "pods", "-n", "kube-public", "-o", "json", "--ignore-not-found"},
		{"get", "pods", "-n", "kube-public", "-o", "name"},
		{"get", "pods", "-o", "name", "--show-labels"},
		{"get", "pods", "-o", "custom-columns=N:.metadata.name", "-L", "app"},
		{"get", "pods", "--output-watch-events"},
		{"get", "pods", "--raw", "/api/v1/namespaces/default/pods/web"},
		{"get", "--raw", "/api/v1/namespaces/default/pods/nope"},
		{"get", "--raw", "/api/v1/namespaces/default/pods", "-o", "json"},
		{"get", "--raw", "/api/v1/namespaces/default/pods", "-w"},
		{"get", "--raw", "::"},
		{"get", "pods", "--chunk-size=-1"},
	} {
		g.same(true, args...)
	}
}

// TestGoldenGetTables compares get's human-readable tables (the server's
// Tables printed by cli-runtime's TablePrinter, with kubectl's flags) with
// real kubectl's, kind by kind.
func TestGoldenGetTables(t *testing.T) {
	g := newGoldenEnv(t)
	seedGolden(t, g.env)
	for _, args := range [][]string{
		{"get", "pods"},
		{"get", "pods", "-o", "wide"},
		{"get", "pods", "-A"},
		{"get", "pods", "-A", "-o", "wide", "--show-labels"},
		{"get", "pods", "--show-labels"},
		{"get", "pods", "-L", "app", "-L", "tier"},
		{"get", "pods", "-L", "app,tier", "--no-headers"},
		{"get", "pods", "--sort-by=.metadata.creationTimestamp"},
		{"get", "pods", "--sort-by=.spec.nodeName", "-o", "wide"},
		{"get", "pod", "duo"},
		{"get", "pod", "duo", "web"},
		{"get", "pod/duo", "pod/web"},
		{"get", "pods", "-l", "app=web"},
		{"get", "pods", "--field-selector", "spec.nodeName=node-2"},
		{"get", "nodes"},
		{"get", "nodes", "-o", "wide"},
		{"get", "nodes", "--show-labels"},
		{"get", "namespaces"},
		{"get", "ns", "team-a", "--show-labels"},
		{"get", "services"},
		{"get", "services", "-o", "wide"},
		{"get", "configmaps"},
		{"get", "secrets"},
		{"get", "events"},
		{"get", "events", "-o", "wide"},
		{"get", "pods,services"},
		{"get", "pods,services", "--no-headers"},
		{"get", "pods,nodes,configmaps", "-A"},
		{"get", "pod/web", "service/web", "configmap/settings"},
		{"get", "pods", "-n", "kube-public"},
		{"get", "nodes", "-l", "zone=c"},
		{"get", "pods", "web", "nope"},
		{"get", "pods", "nope", "--ignore-not-found"},
		{"get", "pods", "-o", "wide", "--sort-by=.metadata.name", "-n", "team-a"},
		{"get", "nodes,pods", "-A"},
		{"get", "pods", "-A", "--chunk-size=2"},
		{"get", "pods", "-A", "--chunk-size=1", "-o", "wide", "--sort-by=.metadata.name"},
		{"get", "events", "--sort-by=.lastTimestamp"},
		{"get", "events", "--sort-by=.metadata.name", "-A"},
		{"get", "configmaps", "-o", "wide"},
		{"get", "pods", "-L", "app", "--show-labels", "-A"},
		{"get", "pods", "--show-kind"},
		{"get", "pod", "web", "--show-kind", "-o", "wide"},
		{"get", "pods", "--sort-by=.status.containerStatuses[0].restartCount", "-A"},
		{"get", "deployments"},
		{"get", "serviceaccounts,configmaps", "-n", "team-a"},
	} {
		g.same(true, args...)
	}
}

// TestGoldenGetWatch runs `get pods -w` of kubectl and of wasmpod side by
// side while pods come, change and go, and compares what they printed:
// the initial table, one row per event with the widths of the first, no
// second header. AGE values may tick between the two processes' reads of
// an event: they are the only thing normalised here.
func TestGoldenGetWatch(t *testing.T) {
	g := newGoldenEnv(t)
	ctx := context.Background()
	mk := func(name string) *corev1.Pod {
		p, err := g.cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "a.wasm"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, args := range [][]string{{"get", "pods", "-w"}, {"get", "pods", "-w", "-o", "wide"}, {"get", "pods", "-w", "-o", "name"}, {"get", "pods", "--watch-only"},
		{"get", "pods", "-w", "--output-watch-events"}, {"get", "pods", "-w", "--show-kind", "-A"},
		{"get", "pods", "-w", "-o", "json", "--output-watch-events"}, {"get", "pods", "-w", "-o", "yaml"},
		{"get", "pods", "-w", "-o", `jsonpath={.metadata.name}{"\t"}{.status.phase}{"\n"}`},
		{"get", "pods", "-w", "-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase"},
		{"get", "pods", "-w", "--sort-by=.metadata.name"}, {"get", "pod", "first", "-w"}, {"get", "pod", "first", "-w", "-o", "name"}} {
		// A watch of one pod by name sees only that pod's events.
		other := 1
		if args[1] == "pod" {
			other = 0
		}
		t.Run(strings.Join(args[1:], ""), func(t *testing.T) {
			first := mk("first")
			// kubectl in its own process, wasmpod in this one.
			kctx, kcancel := context.WithCancel(ctx)
			defer kcancel()
			cmd := exec.CommandContext(kctx, g.kubectl, append([]string{"--kubeconfig", g.kubeconfig, "--cache-dir", filepath.Join(g.home, "cache")}, args...)...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+g.kubeconfig, "HOME="+g.home)
			var kout, kerr syncBuffer
			cmd.Stdout, cmd.Stderr = &kout, &kerr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			wctx, wcancel := context.WithCancel(ctx)
			defer wcancel()
			var wout, werr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- runAppContext(wctx, App(&wout, &werr), append([]string{"wasmpod", args[0], "--server", g.server}, args[1:]...))
			}()
			watchOnly := args[len(args)-1] == "--watch-only"
			wait := func(what string, cond func(s string) bool) {
				t.Helper()
				deadline := time.Now().Add(20 * time.Second)
				for !(cond(kout.String()) && cond(wout.String())) {
					if time.Now().After(deadline) {
						t.Fatalf("waiting for %s:\nkubectl:\n%s\nstderr: %s\nwasmpod:\n%s\nstderr: %s", what, kout.String(), kerr.String(), wout.String(), werr.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			lines := func(n int) func(string) bool {
				return func(s string) bool { return strings.Count(s, "\n") >= n }
			}
			if !watchOnly {
				wait("the initial list", func(s string) bool { return strings.Contains(s, "first") })
			} else {
				time.Sleep(2 * time.Second) // no output to wait for: give both time to start watching
			}
			n := strings.Count(wout.String(), "\n")
			second := mk("second")
			wait("second's ADDED", lines(n+other))
			first.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.9", ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
			if _, err := g.cs.CoreV1().Pods("default").UpdateStatus(ctx, first, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			wait("first's MODIFIED", lines(n+other+1))
			if err := g.cs.CoreV1().Pods("default").Delete(ctx, second.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			wait("second's deletion", lines(n+2*other+1))
			time.Sleep(200 * time.Millisecond)
			kcancel()
			cmd.Wait()
			wcancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("wasmpod %s: exit %d: %s", strings.Join(args, " "), code, werr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("wasmpod get -w did not end when its context was cancelled")
			}
			k, w := kout.String(), wout.String()
			if k != w && tickless(k) != tickless(w) {
				t.Errorf("%s:\nkubectl:\n%s\nwasmpod:\n%s", strings.Join(args, " "), k, w)
			} else {
				t.Logf("%s: same output:\n%s", strings.Join(args, " "), w)
			}
			if kerr.String() != werr.String() {
				t.Errorf("%s: stderr: kubectl %q, wasmpod %q", strings.Join(args, " "), kerr.String(), werr.String())
			}
			for _, name := range []string{"first"} {
				if err := g.cs.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestGoldenGetWithoutServerTables: against a server that sends no Tables
// (the handler here never sees the Table media type, as an older or
// minimal server would not know it), kubectl prints the objects' NAME and
// AGE; so must wasmpod.
func TestGoldenGetWithoutServerTables(t *testing.T) {
	g := newGoldenEnvWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.Header.Get("Accept"), "as=Table") {
				r.Header.Set("Accept", "application/json")
			}
			h.ServeHTTP(w, r)
		})
	})
	seedGolden(t, g.env)
	for _, args := range [][]string{
		{"get", "pods"},
		{"get", "pods", "-o", "wide"},
		{"get", "pods", "-A", "--show-labels"},
		{"get", "pods", "-L", "app"},
		{"get", "pod", "web"},
		{"get", "pods,nodes"},
		{"get", "nodes", "--no-headers"},
		{"get", "pods", "--sort-by=.metadata.name"},
		{"get", "pods", "-n", "kube-public"},
	} {
		g.same(true, args...)
	}
}

// TestGoldenGetOverTLSWithToken: the API server behind TLS with a bearer
// token, as a remote server is reached; kubectl and wasmpod both read the
// server, its CA and the token from the same kubeconfig file.
func TestGoldenGetOverTLSWithToken(t *testing.T) {
	kubectl := testkubectl.Path(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const token = "golden-token"
	srv := httptest.NewTLSServer(s.Handler(apiserver.HandlerOptions{Token: token}))
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: tls
  cluster:
    server: %s
    certificate-authority-data: %s
contexts:
- name: tls
  context: {cluster: tls, user: tls, namespace: default}
- name: team
  context: {cluster: tls, user: tls, namespace: team-a}
current-context: tls
users:
- name: tls
  user: {token: %s}
`, srv.URL, base64.StdEncoding.EncodeToString(ca), token)
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := apiserver.TCPConfig(srv.URL, token)
	rc.TLSClientConfig.CAData = ca
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	g := &goldenEnv{env: &env{t: t, s: s, server: srv.URL, cs: cs, dir: dir}, kubectl: kubectl, kubeconfig: kc, home: home, viaKubeconfig: true}
	seedGolden(t, g.env)
	for _, args := range [][]string{
		{"get", "pods"},
		{"get", "pods,services", "-A", "-o", "wide"},
		{"get", "nodes", "-o", "custom-columns=NAME:.metadata.name,READY:.status.conditions[?(@.type==\"Ready\")].status"},
		{"get", "pod", "duo", "-o", "jsonpath={.status.containerStatuses[*].restartCount}"},
		// A context's namespace is the default of -n, as kubectl takes it.
		{"get", "pods", "--context", "team"},
		{"get", "pod", "job-1", "--context", "team", "-o", "name"},
		{"get", "pods", "--context", "team", "-n", "default"},
		{"get", "pods", "--context", "team", "-A"},
	} {
		g.same(true, args...)
	}
}

// paginate serves lists in pages of ?limit= objects (Table rows or list
// items) with an offset as the continue token, as kube-apiserver pages
// them: the handler under it answers whole lists.
func paginate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		if r.Method != http.MethodGet || limit <= 0 || q.Get("watch") != "" {
			h.ServeHTTP(w, r)
			return
		}
		offset, _ := strconv.Atoi(q.Get("continue"))
		q.Del("limit")
		q.Del("continue")
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = q.Encode()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r2)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			copyResponse(w, rec, rec.Body.Bytes())
			return
		}
		key := "items"
		if body["kind"] == "Table" {
			key = "rows"
		}
		all, _ := body[key].([]any)
		end := min(offset+limit, len(all))
		body[key] = all[min(offset, len(all)):end]
		md, _ := body["metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
			body["metadata"] = md
		}
		if end < len(all) {
			md["continue"] = strconv.Itoa(end)
		}
		b, err := json.Marshal(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		copyResponse(w, rec, b)
	})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	w.Write(body)
}

// TestGoldenGetChunked: lists that come in pages (--chunk-size) print as
// kubectl prints them, page after page through one table printer.
func TestGoldenGetChunked(t *testing.T) {
	g := newGoldenEnvWith(t, paginate)
	seedGolden(t, g.env)
	// Enough pods that a later page has wider cells than the first.
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("p%d", i)
		if i > 8 {
			name = fmt.Sprintf("pod-with-a-much-longer-name-%d", i)
		}
		if _, err := g.cs.CoreV1().Pods("team-a").Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "a.wasm"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"get", "pods", "-A", "--chunk-size=2"},
		{"get", "pods", "-n", "team-a", "--chunk-size=3", "-o", "wide"},
		{"get", "pods", "-n", "team-a", "--chunk-size=5", "--no-headers"},
		{"get", "pods,nodes", "-A", "--chunk-size=4"},
		{"get", "pods", "-A", "--chunk-size=2", "-o", "name"},
		{"get", "pods", "-A", "--chunk-size=3", "-o", "custom-columns=N:.metadata.name,NS:.metadata.namespace"},
		{"get", "pods", "-A", "--chunk-size=2", "--sort-by=.metadata.name"},
	} {
		g.same(true, args...)
	}
}

// TestGoldenGetResourceArgs compares how resource arguments (short names,
// kinds, groups, TYPE/NAME, categories) and selectors resolve.
func TestGoldenGetResourceArgs(t *testing.T) {
	g := newGoldenEnv(t)
	seedGolden(t, g.env)
	for _, args := range [][]string{
		{"get", "po"},
		{"get", "Pod"},
		{"get", "pods/web", "pod/crash"},
		{"get", "svc,cm", "-A"},
		{"get", "no", "node-1", "-o", "wide"},
		{"get", "ev", "--field-selector", "involvedObject.name=web"},
		{"get", "po,svc", "-l", "app=web"},
		{"get", "pods", "-A", "--field-selector", "status.phase=Pending"},
		{"get", "pods", "-A", "-l", "app in (web, job)", "-o", "name"},
		{"get", "ns", "default", "-o", "jsonpath={.status.phase}"},
		{"get", "deployments.apps"},
		{"get", "deploy,rs,sts,ds,jobs,cronjobs", "-A"},
		{"get", "leases", "-A"},
		{"get", "all"},
		{"get", "all", "-A"},
		{"get", "widgets"},
		{"get", "pods", "web", "-A"},
		{"get", "pod/web", "crash"},
	} {
		g.same(true, args...)
	}
}

// TestGoldenGetFromFiles compares get -f: the objects a manifest names,
// fetched from the server.
func TestGoldenGetFromFiles(t *testing.T) {
	g := newGoldenEnv(t)
	seedGolden(t, g.env)
	write := func(name, content string) string {
		p := filepath.Join(g.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pod := write("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: main, image: hello.wasm}]\n")
	multi := write("multi.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: main, image: hello.wasm}]\n---\n"+
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n---\n"+
		"apiVersion: v1\nkind: Pod\nmetadata: {name: duo}\nspec:\n  containers: [{name: a, image: a.wasm}]\n---\n"+
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
	other := write("other.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: job-1, namespace: team-a}\nspec:\n  containers: [{name: main, image: job.wasm}]\n")
	write("dir/a.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: crash}\nspec:\n  containers: [{name: main, image: hello.wasm}]\n")
	write("dir/b.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: node-2}\n")
	missing := write("missing.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: nope}\nspec:\n  containers: [{name: main, image: hello.wasm}]\n")
	for _, args := range [][]string{
		{"get", "-f", pod},
		{"get", "-f", pod, "-o", "wide"},
		{"get", "-f", pod, "-o", "name"},
		{"get", "-f", pod, "-o", "jsonpath={.metadata.name}"},
		{"get", "-f", multi},
		{"get", "-f", multi, "-o", "name"},
		{"get", "-f", multi, "-o", "custom-columns=KIND:.kind,NAME:.metadata.name"},
		{"get", "-f", other},
		{"get", "-f", other, "-n", "team-a"},
		{"get", "-f", other, "-n", "default"},
		{"get", "-f", filepath.Join(g.dir, "dir")},
		{"get", "-f", pod, "-f", other},
		{"get", "-f", missing},
		{"get", "-f", missing, "-o", "json"},
		{"get", "-f", pod, "-f", missing},
		{"get", "pods", "-f", pod},
	} {
		g.same(true, args...)
	}
}
