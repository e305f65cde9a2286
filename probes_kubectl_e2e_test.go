package wasmpod_test

// Probes and lifecycle hooks as real kubectl shows them (describe), and the
// httpGet and sleep hook handlers against real pods.

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/cli"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
)

// serveKubectl serves c over HTTP and returns a function running the real
// kubectl against it with default flags, returning its combined output and
// exit code, and the server's URL.
func serveKubectl(t *testing.T, c *wasmpod.Cluster) (func(args ...string) (string, int), string) {
	t.Helper()
	dir := t.TempDir()
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(testkubectl.Path(t), append([]string{"--kubeconfig", kc, "--cache-dir", filepath.Join(dir, "kcache")}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "KUBECONFIG="+kc)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
		}
		return out.String(), 0
	}, srv.URL
}

// TestKubectlDescribeProbes: kubectl describe pod shows the probes in
// upstream's format (describe.go's DescribeProbe) and the Unhealthy and
// Killing events of a failing liveness probe.
func TestKubectlDescribeProbes(t *testing.T) {
	image := probeGuest(t)
	c := newTestCluster(t)
	kubectl, url := serveKubectl(t, c)
	cs := c.Client()
	grace := int64(1)
	p := probePod("probed", image, func(c *corev1.Container) {
		c.LivenessProbe = &corev1.Probe{ProbeHandler: httpGet("/nope"), PeriodSeconds: 1, FailureThreshold: 2, TerminationGracePeriodSeconds: &grace}
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt(8080)}},
			InitialDelaySeconds: 2, TimeoutSeconds: 3, PeriodSeconds: 4, FailureThreshold: 5}
		c.StartupProbe = &corev1.Probe{ProbeHandler: execCmd("check", "/data"), PeriodSeconds: 1}
	})
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "liveness restart", 60*time.Second, func() bool {
		p := getPod(t, cs, "probed")
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	out, code := kubectl("describe", "pod", "probed")
	if code != 0 {
		t.Fatalf("kubectl describe pod: exit %d\n%s", code, out)
	}
	for _, re := range []string{
		`(?m)^    Liveness:\s+http-get http://:http/nope delay=0s timeout=1s period=1s successThreshold=1 failureThreshold=2$`,
		`(?m)^    Readiness:\s+http-get http://:8080/healthz delay=2s timeout=3s period=4s successThreshold=1 failureThreshold=5$`,
		`(?m)^    Startup:\s+exec \[probehttp check /data\] delay=0s timeout=1s period=1s successThreshold=1 failureThreshold=3$`,
		`(?m)^    Restart Count:\s+[1-9]`,
		`(?m)^  Warning\s+Unhealthy\s+.*Liveness probe failed: HTTP probe failed with statuscode: 404$`,
		`(?m)^  Normal\s+Killing\s+.*Container probehttp failed liveness probe, will be restarted$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("kubectl describe pod lacks %s:\n%s", re, out)
		}
	}
	// wasmpod's own describe prints the probes as kubectl does.
	var wout, werr bytes.Buffer
	if code := cli.Main([]string{"wasmpod", "describe", "--server", url, "pod", "probed"}, &wout, &werr); code != 0 {
		t.Fatalf("wasmpod describe pod: exit %d\n%s%s", code, wout.String(), werr.String())
	}
	probeLines := regexp.MustCompile(`(?m)^    (Liveness|Readiness|Startup):.*$`)
	if k, w := probeLines.FindAllString(out, -1), probeLines.FindAllString(wout.String(), -1); strings.Join(k, "\n") != strings.Join(w, "\n") || len(k) != 3 {
		t.Errorf("wasmpod describe probe lines differ from kubectl's:\nkubectl:\n%s\nwasmpod:\n%s", strings.Join(k, "\n"), strings.Join(w, "\n"))
	}
}

// TestHooksHTTPGetAndSleep — upstream e2e "Container Lifecycle Hook ...
// should execute poststart http hook properly" and "should execute prestop
// sleep hook": a postStart httpGet answered by a handler pod lets the
// container run; one the handler answers 404 fails with FailedPostStartHook
// and a restart; a preStop sleep holds TERM back for its seconds. As
// upstream's e2e, the postStart hooks target a separate handler pod (a
// container's own server may not listen yet when its postStart runs). A
// hook aimed at the host's loopback never reaches it: probes and hooks dial
// through the pod network only (pods/probe.go dialPod), so whoever may
// create pods cannot make the node call the server's own ports.
func TestHooksHTTPGetAndSleep(t *testing.T) {
	image := probeGuest(t)
	c := newTestCluster(t)
	cs := c.Client()
	ctx := context.Background()
	var hmu sync.Mutex
	var hits []string
	hostSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		hits = append(hits, r.Method+" "+r.URL.Path)
		hmu.Unlock()
	}))
	t.Cleanup(hostSrv.Close)
	hu, _ := url.Parse(hostSrv.URL)
	hostPort, _ := strconv.Atoi(hu.Port())

	if _, err := cs.CoreV1().Pods("default").Create(ctx, probePod("hook-handler", image, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hctx, hcancel := context.WithTimeout(ctx, time.Minute)
	defer hcancel()
	hp, err := c.WaitPod(hctx, "default", "hook-handler", wasmpod.PodRunning)
	if err != nil {
		t.Fatal(err)
	}
	handlerIP := hp.Status.PodIP
	waitFor(t, "the handler serving", 30*time.Second, func() bool {
		p := getPod(t, cs, "hook-handler")
		return strings.Contains(podLogs(t, c, p.Name, "probehttp"), "serving")
	})
	good := probePod("http-hook", image, func(c *corev1.Container) {
		c.Lifecycle = &corev1.Lifecycle{
			PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: handlerIP, Path: "/healthz", Port: intstr.FromInt(8080)}},
			PreStop:   &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 3}},
		}
	})
	bad := probePod("http-hook-404", image, func(c *corev1.Container) {
		c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: handlerIP, Path: "/nope", Port: intstr.FromInt(8080)}}}
	})
	toHost := probePod("http-hook-host", image, func(c *corev1.Container) {
		c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: "127.0.0.1", Path: "/secret", Port: intstr.FromInt(hostPort)}}}
	})
	for _, p := range []*corev1.Pod{good, bad, toHost} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "bad postStart restart", 60*time.Second, func() bool {
		p := getPod(t, cs, "http-hook-404")
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	// As the kubelet: the Event keeps the hook's message out (secrets).
	ev := podEvents(t, cs, "http-hook-404")
	if !strings.Contains(ev, "Warning FailedPostStartHook: PostStartHook failed\n") || !strings.Contains(ev, "Normal Killing: FailedPostStartHook\n") {
		t.Errorf("events lack FailedPostStartHook and Killing:\n%s", ev)
	}
	waitFor(t, "the host-aimed postStart failing", 60*time.Second, func() bool {
		return strings.Contains(podEvents(t, cs, "http-hook-host"), "FailedPostStartHook")
	})
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := c.WaitPod(wctx, "default", "http-hook", wasmpod.PodRunning); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if ev := podEvents(t, cs, "http-hook"); strings.Contains(ev, "FailedPostStartHook") {
		t.Errorf("the passing httpGet postStart failed:\n%s", ev)
	}
	hmu.Lock()
	if len(hits) != 0 {
		t.Errorf("a hook reached the host's loopback server: %q", hits)
	}
	hmu.Unlock()

	var mu sync.Mutex
	var logs bytes.Buffer
	var termAt time.Time
	done := make(chan error, 1)
	go func() {
		done <- c.Logs(ctx, "default", "http-hook", &corev1.PodLogOptions{Follow: true}, writerFunc(func(b []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			if termAt.IsZero() && bytes.Contains(b, []byte("term prestop=")) {
				termAt = time.Now()
			}
			return logs.Write(b)
		}))
	}()
	waitFor(t, "log follower", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(logs.String(), "serving") })
	start := time.Now()
	if err := cs.CoreV1().Pods("default").Delete(ctx, "http-hook", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("logs did not end after the delete")
	}
	mu.Lock()
	defer mu.Unlock()
	if termAt.IsZero() {
		t.Fatalf("no TERM seen; logs:\n%s", logs.String())
	}
	if d := termAt.Sub(start); d < 3*time.Second || d > 5*time.Second {
		t.Errorf("TERM %v after the delete; want the preStop sleep's 3 s (grace 5 s)", d)
	}
}
