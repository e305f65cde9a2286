package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wasmpod/wasmpod/internal/proctest"
	"github.com/wasmpod/wasmpod/internal/syncbuf"
)

// agentFootprintPods is how many idle pods (wasm-examples/web's HTTP
// server, waiting for requests) the agent runs for the second RSS figure.
const agentFootprintPods = 5

// BenchmarkAgentFootprint reports issue 15's agent figures: the resident
// set of an idle agent (target ≤ 30 MB) joined to `serve --nodes 0`, with
// no pods (agent_idle_RSS_MB, agent_idle_RssAnon_MB) and with
// agentFootprintPods idle pods (agent_pods_RSS_MB), run from
// cmd/wasmpod-agent (the agent's packages only); and the size of that
// binary (agent_MB) against the full release binary (release_MB), both
// built as `just release` builds. The same figures of `wasmpod agent` run
// from the full binary are the same-run baseline (the *_x_full ratios).
// VmRSS and RssAnon are read from /proc/PID/status 5 s after the agent
// serves its kubelet API (and 5 s after its pods are Running). Figures, not
// assertions: run it with -benchtime 1x.
//
//	go test -run '^$' -bench AgentFootprint -benchtime 1x ./cli/wasmpod/
func BenchmarkAgentFootprint(b *testing.B) {
	dir := b.TempDir()
	full, agent := filepath.Join(dir, "wasmpod"), filepath.Join(dir, "wasmpod-agent")
	for bin, pkg := range map[string]string{full: ".", agent: "../../cmd/wasmpod-agent"} {
		tags := releaseTags
		if bin == agent {
			tags += ",wasmpod_node" // as `just agent` builds it
		}
		build := exec.Command("go", "build", "-tags", tags, "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("building %s: %v\n%s", pkg, err, out)
		}
	}
	size := func(bin string) float64 {
		st, err := os.Stat(bin)
		if err != nil {
			b.Fatal(err)
		}
		return float64(st.Size())
	}

	// The control plane, from the full binary, with no nodes of its own.
	data := filepath.Join(dir, "serve")
	var out syncbuf.Buffer
	serve := exec.Command(full, "serve", "--nodes", "0", "--data-dir", data, "--socket", filepath.Join(dir, "s.sock"),
		"--listen", "127.0.0.1:0", "--cache-dir", cacheDir)
	serve.Stdout, serve.Stderr = &out, &out
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = serve.Process.Kill()
		_ = serve.Wait()
	}()
	kc := filepath.Join(data, "kubeconfig")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(kc); err == nil && strings.Contains(out.String(), "no nodes of its own") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("serve did not come up within a minute:\n%s", out.String())
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		b.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}

	// Alternating the two binaries, a fresh node each time.
	var sum [2]agentRSS
	for i := 0; i < b.N; i++ {
		for j, bin := range []string{full, agent} {
			r := idleAgentRSS(b, cs, bin, kc, fmt.Sprintf("fp-%d-%d", i, j), dir)
			sum[j].idle += r.idle
			sum[j].anon += r.anon
			sum[j].pods += r.pods
		}
	}
	n := float64(b.N) * 1e6
	b.ReportMetric(size(full)/1e6, "release_MB")
	b.ReportMetric(size(agent)/1e6, "agent_MB")
	b.ReportMetric(size(agent)/size(full), "agent_MB_x_full")
	b.ReportMetric(sum[1].idle/n, "agent_idle_RSS_MB")
	b.ReportMetric(sum[1].anon/n, "agent_idle_RssAnon_MB")
	b.ReportMetric(sum[1].pods/n, "agent_pods_RSS_MB")
	b.ReportMetric(sum[0].idle/n, "full_idle_RSS_MB")
	b.ReportMetric(sum[0].pods/n, "full_pods_RSS_MB")
	b.ReportMetric(sum[1].idle/sum[0].idle, "agent_idle_RSS_x_full")
	b.ReportMetric(sum[1].pods/sum[0].pods, "agent_pods_RSS_x_full")
}

type agentRSS struct{ idle, anon, pods float64 }

// idleAgentRSS starts bin's agent as node name against kubeconfig kc, reads
// its idle VmRSS and RssAnon, starts agentFootprintPods idle pods on it and
// reads its VmRSS again; it deletes the pods and stops the agent.
func idleAgentRSS(b *testing.B, cs kubernetes.Interface, bin, kc, name, dir string) agentRSS {
	b.Helper()
	var out syncbuf.Buffer
	args := []string{"--kubeconfig", kc, "--node-name", name, "--data-dir", filepath.Join(dir, name),
		"--cache-dir", cacheDir, "--kubelet-port", "0", "--address", "127.0.0.1"}
	if filepath.Base(bin) == "wasmpod" {
		args = append([]string{"agent"}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(out.String(), "kubelet API on https://"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%s: the agent did not come up within a minute:\n%s", bin, out.String())
		}
	}
	pid := cmd.Process.Pid
	rss := func() float64 {
		u, err := proctest.Read(pid)
		if err != nil {
			b.Fatal(err)
		}
		return float64(u.RSS)
	}
	time.Sleep(5 * time.Second)
	r := agentRSS{idle: rss(), anon: float64(rssAnon(b, pid))}

	ctx := context.Background()
	for k := 0; k < agentFootprintPods; k++ {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", name, k)},
			Spec: corev1.PodSpec{
				NodeSelector:                  map[string]string{"kubernetes.io/hostname": name},
				TerminationGracePeriodSeconds: new(int64),
				Containers:                    []corev1.Container{{Name: "c", Image: "go://" + filepath.Join(repoRoot, "wasm-examples", "web", "server")}},
			},
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = cs.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{}) }()
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		running, states := 0, ""
		if l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name}); err == nil {
			for _, p := range l.Items {
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
				for _, c := range p.Status.ContainerStatuses {
					if w := c.State.Waiting; w != nil {
						states += fmt.Sprintf("%s: %s: %s\n", p.Name, w.Reason, w.Message)
					}
				}
			}
		}
		if running == agentFootprintPods {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d of %d pods Running within 2 minutes:\n%s%s", bin, running, agentFootprintPods, states, out.String())
		}
	}
	time.Sleep(5 * time.Second)
	r.pods = rss()
	return r
}
