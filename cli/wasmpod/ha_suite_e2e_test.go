package main

// Issue 15 §4 and its Tests section: the HA suite. Three `wasmpod serve
// --nodes 0` replicas on one embedded etcd, three `wasmpod agent`
// processes joined with one token, each through another replica and given
// the other two as --failover-server. A long-running pod is pinned to each
// agent; a Deployment of 6 rolls out a new revision, and once its first new
// pod is bound the replica leading both the scheduler's and the controller
// manager's Leases is killed with SIGKILL. Through the surviving replicas,
// with client-go and the real kubectl:
//   - another replica takes each Lease over;
//   - the rollout completes with exactly 6 pods of the new revision and
//     none of the old; a watch through a replica that was never killed saw
//     exactly 6 pods created a revision (none lost and replaced, none
//     created twice by the old and the new leader) and no pod scheduled
//     twice;
//   - every agent, including the one that joined through the killed
//     replica, renews its node Lease after the kill, stays Ready, and its
//     pinned pod keeps running (same container, no restart, its log
//     counting on);
//   - logs and exec reach the pinned pod on every agent through a
//     surviving replica.

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

// haSuiteDeployment is ha_e2e_test.go's Deployment at 6 replicas.
var haSuiteDeployment = strings.Replace(haDeployment, "replicas: 4", "replicas: 6", 1)

// haSuitePinned is a pod pinned to node NODE that counts a line a second.
const haSuitePinned = `apiVersion: v1
kind: Pod
metadata: {name: pinned-NODE, labels: {app: pinned}}
spec:
  nodeSelector: {kubernetes.io/hostname: NODE}
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"]
`

// lastTick is the last "tick N" of a pinned pod's log (-1 if none), and
// whether the log starts at tick 0 and counts without a gap or repeat.
func lastTick(log string) (int, bool) {
	last := -1
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		n, err := strconv.Atoi(strings.TrimPrefix(l, "tick "))
		if err != nil || n != last+1 {
			return last, false
		}
		last = n
	}
	return last, last >= 0
}

func TestHASuiteThreeReplicasKill9Leader(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, t.TempDir(), etcdtest.Options{})
	servers := strings.Join(etcd.Endpoints(), ",")
	leases := []string{wasmpod.SchedulerLease, wasmpod.ControllerManagerLease}
	// Shorter Leases than upstream's 15 s so the suite stays short; the
	// same code paths (TestHAServeKill9Leader uses the defaults).
	const leaseDuration = 4 * time.Second
	election := []string{"--etcd-servers", servers, "--leader-elect-lease-duration", leaseDuration.String(),
		"--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s"}

	names := []string{"A", "B", "C"}
	dirs, addrs := map[string]string{}, map[string]string{}
	for _, n := range names {
		dirs[n], addrs[n] = t.TempDir(), freeAddr(t)
	}
	// A starts first and leads both Leases.
	srv := map[string]*server{"A": serveControlPlane(t, dirs["A"], addrs["A"], election...)}
	var leader string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		h0, h1 := leaseHolder(srv["A"].client, leases[0]), leaseHolder(srv["A"].client, leases[1])
		if h0 != "" && h0 == h1 && strings.Count(srv["A"].stderr.String(), "leader election: "+h0+" acquired lease") == 2 {
			leader = h0
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica A does not lead both Leases (%q, %q)\nstderr:\n%s", h0, h1, srv["A"].stderr)
		}
	}
	srv["B"] = serveControlPlane(t, dirs["B"], addrs["B"], election...)
	srv["C"] = serveControlPlane(t, dirs["C"], addrs["C"], election...)

	// One token, created through B; agent edge-X joins through replica X
	// and knows the other two as failover servers.
	join := strings.Fields(mustClient(t, cleanEnv(t, filepath.Join(dirs["B"], "kubeconfig")), binPath, "token", "create", "--print-join-command"))
	if len(join) != 8 || join[3] != "https://"+addrs["B"] {
		t.Fatalf("token create --print-join-command through replica B: %q", join)
	}
	agents := map[string]*proc{}
	for _, n := range names {
		args := append([]string(nil), join[1:]...)
		args[2] = "https://" + addrs[n]
		var failover []string
		for _, o := range names {
			if o != n {
				failover = append(failover, "https://"+addrs[o])
			}
		}
		node := "edge-" + strings.ToLower(n)
		agents[n] = start(t, "", append(args, "--node-name", node, "--data-dir", filepath.Join(t.TempDir(), node), "--cache-dir", cacheDir,
			"--kubelet-port", "0", "--address", "127.0.0.1", "--heartbeat-interval", "1s", "--failover-server", strings.Join(failover, ","))...)
	}
	for _, n := range names {
		node := "edge-" + strings.ToLower(n)
		agents[n].waitFor(`node `+node+`: kubelet API on https://.*API server https://`+regexp.QuoteMeta(addrs[n]), time.Minute)
		waitNode(t, srv["C"].client, node, "Ready with a pod range", func(n *corev1.Node) bool {
			return nodeReady(n) == corev1.ConditionTrue && n.Spec.PodCIDR != ""
		})
	}

	// Every pod of the Deployment, as a watch through C (never killed)
	// sees them created.
	var mu sync.Mutex
	seen := map[string]*corev1.Pod{} // by UID
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := informers.NewSharedInformerFactoryWithOptions(srv["C"].client, 0, informers.WithNamespace("default"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app=web" }))
	record := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			mu.Lock()
			seen[string(p.UID)] = p
			mu.Unlock()
		}
	}
	f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, o any) { record(o) }})
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())

	kB := newKubectlUser(t, filepath.Join(dirs["B"], "kubeconfig"))
	for _, n := range names {
		pod := strings.ReplaceAll(haSuitePinned, "NODE", "edge-"+strings.ToLower(n))
		if out, errOut, code := runClientStdin(t, kB, pod, "apply", "-f", "-"); code != 0 {
			t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
		}
	}
	if out, errOut, code := runClientStdin(t, kB, haSuiteDeployment, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	kB.must(t, "rollout", "status", "deployment/web", "--timeout=3m")
	pinned := map[string]*corev1.Pod{}
	for _, n := range names {
		name := "pinned-edge-" + strings.ToLower(n)
		pinned[n] = srv["B"].waitPod(t, name, "Running", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
		})
	}
	// How far each pinned pod has counted before the kill.
	ticks := map[string]int{}
	for _, n := range names {
		out, errOut, code := kB.run(t, "logs", pinned[n].Name)
		last, ok := lastTick(out)
		if code != 0 || !ok {
			t.Fatalf("kubectl logs %s: exit %d, %q %q", pinned[n].Name, code, out, errOut)
		}
		ticks[n] = last
	}
	for _, n := range []string{"B", "C"} {
		if strings.Contains(srv[n].stderr.String(), "leader election: ") {
			t.Fatalf("replica %s led while A held the Leases:\n%s", n, srv[n].stderr)
		}
	}

	// The new revision; once its first pod is bound, the leader dies.
	kB.must(t, "set", "env", "deployment/web", "REVISION=2")
	revision := func(p *corev1.Pod) int { return 1 + len(p.Spec.Containers[0].Env) }
	boundNew := func() int {
		pl, err := srv["C"].client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return 0
		}
		n := 0
		for _, p := range pl.Items {
			if revision(&p) == 2 && p.Spec.NodeName != "" {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(2 * time.Minute); boundNew() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the rollout made no new pod")
		}
	}
	srv["A"].signal(syscall.SIGKILL)
	killed := time.Now()
	srv["A"].wait(time.Minute)
	if n := boundNew(); n >= 6 {
		t.Fatalf("the rollout was over (%d new pods) before the kill", n)
	}

	// Each Lease is taken over by B or C.
	took := map[string]string{}
	for deadline := killed.Add(time.Minute); len(took) < len(leases); time.Sleep(100 * time.Millisecond) {
		for _, l := range leases {
			if h := leaseHolder(srv["C"].client, l); h != "" && h != leader && took[l] == "" {
				took[l] = h
				t.Logf("%s taken over by %s %v after kill -9 (lease duration %v)", l, h, time.Since(killed).Round(10*time.Millisecond), leaseDuration)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no takeover a minute after the leader's kill -9 (%v)\nB:\n%s\nC:\n%s", took, srv["B"].stderr, srv["C"].stderr)
		}
	}
	for _, l := range leases {
		n := 0
		for _, r := range []string{"B", "C"} {
			n += strings.Count(srv[r].stderr.String(), "leader election: "+took[l]+" acquired lease "+"kube-system/"+l)
		}
		if n != 1 {
			t.Errorf("Lease %s: its holder %s is not a surviving replica that logged acquiring it once (%d)\nB:\n%s\nC:\n%s", l, took[l], n, srv["B"].stderr, srv["C"].stderr)
		}
	}

	// The rollout completes through B.
	kB.must(t, "rollout", "status", "deployment/web", "--timeout=3m")
	var pods []corev1.Pod
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		pl, err := srv["B"].client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err == nil && len(pl.Items) == 6 {
			pods = pl.Items
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods after the rollout: %v", pl)
		}
	}
	for _, p := range pods {
		if !strings.HasPrefix(p.Spec.NodeName, "edge-") || revision(&p) != 2 || !podRunningReady(&p) || p.Status.PodIP == "" ||
			len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("pod %s: node %q, env %v, status %+v", p.Name, p.Spec.NodeName, p.Spec.Containers[0].Env, p.Status)
		}
	}
	d, err := srv["C"].client.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Status; s.Replicas != 6 || s.UpdatedReplicas != 6 || s.ReadyReplicas != 6 || s.AvailableReplicas != 6 || s.UnavailableReplicas != 0 || s.ObservedGeneration != d.Generation {
		t.Errorf("deployment web: status %+v (generation %d)", s, d.Generation)
	}
	rss, err := srv["C"].client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Errorf("%d ReplicaSets, want 2 (one a revision)", len(rss.Items))
	}
	for _, rs := range rss.Items {
		want := int32(0)
		if len(rs.Spec.Template.Spec.Containers[0].Env) == 1 {
			want = 6
		}
		if *rs.Spec.Replicas != want || rs.Status.Replicas != want || rs.Status.ReadyReplicas != want {
			t.Errorf("ReplicaSet %s: spec %d, status %+v; want %d", rs.Name, *rs.Spec.Replicas, rs.Status, want)
		}
	}
	// Every pod of either revision the watch through C saw: 6 a revision,
	// each bound to one node (none replaced after a loss, none created
	// twice across the change of leader).
	mu.Lock()
	byRevision := map[int]int{}
	for _, p := range seen {
		byRevision[revision(p)]++
	}
	mu.Unlock()
	if byRevision[1] != 6 || byRevision[2] != 6 {
		t.Errorf("pods created a revision: %v, want 6 each", byRevision)
	}
	evs, err := srv["C"].client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "reason=Scheduled"})
	if err != nil {
		t.Fatal(err)
	}
	scheduled := map[string]int32{}
	for _, e := range evs.Items {
		scheduled[string(e.InvolvedObject.UID)] += e.Count
	}
	for uid, n := range scheduled {
		if n != 1 {
			t.Errorf("pod %s scheduled %d times", uid, n)
		}
	}

	// The agents: each renewed its node Lease through a surviving replica
	// after the leader's kill (by then every connection to A had broken),
	// its Node is Ready, and its pinned pod kept running.
	renewedAfter := time.Now()
	for _, n := range names {
		node := "edge-" + strings.ToLower(n)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
			l, err := srv["C"].client.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), node, metav1.GetOptions{})
			if err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(renewedAfter) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's Lease not renewed through B or C (%v)\nagent:\n%s", node, err, agents[n].stderr)
			}
		}
		waitNode(t, srv["C"].client, node, "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })
		p, err := srv["C"].client.CoreV1().Pods("default").Get(context.Background(), pinned[n].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before, now := pinned[n].Status.ContainerStatuses[0], p.Status.ContainerStatuses
		if p.UID != pinned[n].UID || p.Status.Phase != corev1.PodRunning || len(now) != 1 || now[0].RestartCount != 0 ||
			now[0].ContainerID != before.ContainerID || now[0].State.Running == nil || !now[0].State.Running.StartedAt.Equal(&before.State.Running.StartedAt) {
			t.Errorf("pod %s after the kill: %+v\nbefore: %+v", p.Name, p.Status, pinned[n].Status)
		}
	}
	// Logs and exec through each surviving replica reach the pinned pod
	// on every agent: its log counts on from 0 without a gap or a
	// restart, past where it was before the kill.
	for _, r := range []string{"B", "C"} {
		k := newKubectlUser(t, filepath.Join(dirs[r], "kubeconfig"))
		for _, n := range names {
			name := pinned[n].Name
			out, errOut, code := k.run(t, "logs", name)
			if last, ok := lastTick(out); code != 0 || !ok || last <= ticks[n] {
				t.Errorf("kubectl logs %s through replica %s: exit %d, last tick %d (want a gapless count from 0 past %d)\n%s%s", name, r, code, last, ticks[n], out, errOut)
			}
			want := fmt.Sprintf("exec in %s through %s\n", name, r)
			if out, errOut, code := k.run(t, "exec", name, "--", "sh", "-c", "printf 'exec in %s through %s\\n' "+name+" "+r+"; exit 7"); out != want || code != 7 {
				t.Errorf("kubectl exec %s through replica %s: exit %d, %q %q", name, r, code, out, errOut)
			}
		}
	}
	for _, r := range []string{"B", "C"} {
		if regexp.MustCompile(`(?i)panic|fatal`).MatchString(srv[r].stderr.String()) {
			t.Errorf("replica %s's stderr:\n%s", r, srv[r].stderr)
		}
	}
}
