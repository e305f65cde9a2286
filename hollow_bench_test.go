//go:build linux

package wasmpod

// BenchmarkHollowNodes (issue 15, kubemark-style control-plane scale): one
// control plane (the store, API server, scheduler and controllers of
// `serve --nodes 0`, built by New with NoLocalNodes) in a child process of
// its own, serving its authenticated handler over plain HTTP on loopback,
// and N hollow node agents in the benchmark's process: real Kubernetes
// clients (internal/kube's clientset) that register a Node, renew its Lease
// every heartbeat, watch the pods bound to them (a list-watch with
// fieldSelector spec.nodeName, as the kubelet's) and report each Running
// (a strategic-merge status patch with the kubelet's conditions, a
// containerStatus and an IP of the node's spec.podCIDR, which the node IPAM
// controller allocates) without running anything; a pod being deleted is
// finished with a DELETE of grace period 0, as the kubelet does.
//
// M pods are then created by 16 client workers; a watch observes when each
// is bound and when it is Running. Reported (b.ReportMetric):
//
//   - running-pods/s: M ÷ the time from the first create to the M-th pod
//     Running (scheduled, bound and reported Running, end to end);
//   - bound-pods/s: M ÷ the time until the M-th pod was bound;
//   - create-pods/s: the same-run yardstick, the same workers creating
//     min(M, 5,000) pods that no scheduler takes (schedulerName
//     "hollow-none"), measured on the same cluster with the nodes
//     registered, before the run (those pods are then deleted);
//   - x-create: running-pods/s ÷ create-pods/s (1 would be: the control
//     plane schedules, binds and records status as fast as it admits pods);
//   - mutating-p99-ms and list-p99-ms: client-side p99 latency (a
//     round-tripper wrapper) of every POST/PUT/PATCH/DELETE of the run
//     (pod creates, the hollow nodes' status patches, Lease renewals,
//     finishing deletes), and of LISTs (a LIST of every pod and of every
//     node every 5 s, and any relist of a hollow node's informer), body
//     read included (upstream's SLOs: 1 s and 30 s);
//   - serve-rss-MB and serve-peak-rss-MB: the control plane process's
//     VmRSS at the end and VmHWM;
//   - serve-cpu-ms/pod and serve-cores: the control plane process's CPU
//     time during the run a pod, and ÷ the run's wall time (on a shared
//     machine the CPU a pod is the figure that does not depend on the
//     load); hollow-cpu-ms/pod: the same of the benchmark's process (the
//     hollow nodes, the creating workers, the observer).
//
// Sizes: $WASMPOD_HOLLOW_NODES (default 500) and $WASMPOD_HOLLOW_PODS
// (default 10,000); upstream's scalability limits are 5,000 and 150,000.
// $WASMPOD_HOLLOW_STORE picks bbolt or etcd (default: both, as
// sub-benchmarks); etcd is embedded (store/etcd/etcdtest, fsync on) in the
// benchmark's process. $WASMPOD_HOLLOW_CPUPROFILE=FILE writes the control
// plane's CPU profile (of the pod phase only); $WASMPOD_HOLLOW_PPROF=ADDR
// serves the control plane's net/http/pprof on ADDR (any phase).
//
//	go test -run '^$' -bench BenchmarkHollowNodes -benchtime 1x -timeout 60m .

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

const (
	hollowToken     = "hollow-bench-token-0123456789abcdef"
	hollowNamespace = "hollow"
	hollowNoSched   = "hollow-none"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestHollowControlPlaneChild is the benchmark's control plane process; it
// only runs as BenchmarkHollowNodes' child.
func TestHollowControlPlaneChild(t *testing.T) {
	mode := os.Getenv("WASMPOD_HOLLOW_CHILD")
	if mode == "" {
		t.Skip("the control plane of BenchmarkHollowNodes, run by it")
	}
	cfg := Config{NoLocalNodes: true, DataDir: os.Getenv("WASMPOD_HOLLOW_DATA"), CacheDir: testwasm.CacheDir(),
		ClusterCIDR: "10.0.0.0/8", NodeCIDRMaskSize: 24}
	switch mode {
	case "bbolt":
		cfg.Store = StoreBbolt
	case "etcd":
		cfg.Etcd = EtcdConfig{Servers: strings.Split(os.Getenv("WASMPOD_HOLLOW_ETCD"), ",")}
	default:
		t.Fatalf("WASMPOD_HOLLOW_CHILD=%q", mode)
	}
	ctx := context.Background()
	c, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := apiserver.NewHTTPServer(c.Server().Handler(apiserver.HandlerOptions{Token: hollowToken}), apiserver.ServingOptions{})
	go srv.Serve(l)
	defer srv.Close()
	if addr := os.Getenv("WASMPOD_HOLLOW_PPROF"); addr != "" {
		// Profiles of any phase: go tool pprof http://ADDR/debug/pprof/profile.
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
		go http.ListenAndServe(addr, mux)
	}
	fmt.Printf("HOLLOW-LISTEN %s\n", l.Addr())
	// Commands on stdin: "profile FILE" starts the CPU profile, "stop"
	// ends it; EOF ends the process.
	sc := bufio.NewScanner(os.Stdin)
	var prof *os.File
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "profile":
			if prof, err = os.Create(f[1]); err == nil {
				err = pprof.StartCPUProfile(prof)
			}
			if err != nil {
				t.Fatal(err)
			}
		case len(f) == 1 && f[0] == "stop" && prof != nil:
			pprof.StopCPUProfile()
			prof.Close()
			prof = nil
		}
		fmt.Println("HOLLOW-OK")
	}
}

// latencies records client-side request latencies by kind.
type latencies struct {
	mu       sync.Mutex
	mutating []time.Duration
	list     []time.Duration
	errors   atomic.Int64
	on       atomic.Bool
}

// collections are the last path segments that make a GET a LIST.
var collections = map[string]bool{"pods": true, "nodes": true, "leases": true, "namespaces": true, "events": true}

type recordingRT struct {
	rt  http.RoundTripper
	lat *latencies
}

func (r recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := r.rt.RoundTrip(req)
	if !r.lat.on.Load() || req.URL.Query().Get("watch") != "" {
		return resp, err
	}
	if err != nil || resp.StatusCode >= 500 {
		r.lat.errors.Add(1)
	}
	d := time.Since(start)
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		r.lat.mu.Lock()
		r.lat.mutating = append(r.lat.mutating, d)
		r.lat.mu.Unlock()
	case http.MethodGet:
		segs := strings.Split(strings.TrimSuffix(req.URL.Path, "/"), "/")
		if collections[segs[len(segs)-1]] {
			// A LIST's time includes reading its body.
			if resp != nil && err == nil {
				resp.Body = &timedBody{ReadCloser: resp.Body, start: start, lat: r.lat}
				return resp, err
			}
		}
	}
	return resp, err
}

type timedBody struct {
	io.ReadCloser
	start time.Time
	lat   *latencies
	once  sync.Once
}

func (b *timedBody) Close() error {
	b.once.Do(func() {
		d := time.Since(b.start)
		b.lat.mu.Lock()
		b.lat.list = append(b.lat.list, d)
		b.lat.mu.Unlock()
	})
	return b.ReadCloser.Close()
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)*99)/100]
}

// hollowNode is a kubemark hollow kubelet.
type hollowNode struct {
	name   string
	cs     kubernetes.Interface
	hostIP string

	mu      sync.Mutex
	podCIDR netip.Prefix
	nextIP  netip.Addr
}

func (h *hollowNode) register(ctx context.Context) error {
	caps := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")}
	now := metav1.Now()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: h.name, Labels: map[string]string{corev1.LabelHostname: h.name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64"}},
		Status: corev1.NodeStatus{
			Capacity: caps, Allocatable: caps,
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: h.hostIP}, {Type: corev1.NodeHostName, Address: h.name}},
			NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-hollow", ContainerRuntimeVersion: "hollow://0", OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
	for _, c := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: c, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficient", LastHeartbeatTime: now, LastTransitionTime: now})
	}
	n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now})
	got, err := h.cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if len(got.Status.Conditions) == 0 {
		got.Status = n.Status
		if _, err := h.cs.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	renew := metav1.NewMicroTime(time.Now())
	_, err = h.cs.CoordinationV1().Leases("kube-node-lease").Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: h.name, Namespace: "kube-node-lease"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &h.name, LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &renew},
	}, metav1.CreateOptions{})
	return err
}

// heartbeat renews the Lease every period until ctx ends.
func (h *hollowNode) heartbeat(ctx context.Context, period time.Duration) {
	leases := h.cs.CoordinationV1().Leases("kube-node-lease")
	var l *coordinationv1.Lease
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if l == nil {
			var err error
			if l, err = leases.Get(ctx, h.name, metav1.GetOptions{}); err != nil {
				l = nil
				continue
			}
		}
		now := metav1.NewMicroTime(time.Now())
		l.Spec.RenewTime = &now
		var err error
		if l, err = leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
			l = nil
		}
	}
}

// podIP hands out the next address of the node's pod range.
func (h *hollowNode) podIP(ctx context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for !h.podCIDR.IsValid() {
		n, err := h.cs.CoreV1().Nodes().Get(ctx, h.name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if p, err := netip.ParsePrefix(n.Spec.PodCIDR); err == nil {
			h.podCIDR, h.nextIP = p, p.Addr().Next()
			break
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	ip := h.nextIP.Next()
	if !h.podCIDR.Contains(ip) {
		ip = h.podCIDR.Addr().Next().Next()
	}
	h.nextIP = ip
	return ip.String(), nil
}

// sync reports a new pod Running, or finishes a deleted one.
func (h *hollowNode) sync(ctx context.Context, p *corev1.Pod) error {
	pods := h.cs.CoreV1().Pods(p.Namespace)
	if p.DeletionTimestamp != nil {
		err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0), Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !strings.Contains(err.Error(), "not found") {
			return err
		}
		return nil
	}
	if p.Status.Phase == corev1.PodRunning {
		return nil
	}
	ip, err := h.podIP(ctx)
	if err != nil {
		return err
	}
	now := metav1.Now()
	st := corev1.PodStatus{Phase: corev1.PodRunning, HostIP: h.hostIP, HostIPs: []corev1.HostIP{{IP: h.hostIP}},
		PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &now, QOSClass: corev1.PodQOSBestEffort}
	for _, c := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled} {
		st.Conditions = append(st.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	for _, c := range p.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true, Started: ptr.To(true),
			ContainerID: "hollow://" + string(p.UID) + "/" + c.Name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": p.UID}, "status": st})
	if err != nil {
		return err
	}
	_, err = pods.Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// run watches the node's pods until ctx ends.
func (h *hollowNode) run(ctx context.Context) cache.SharedIndexInformer {
	sel := fields.OneTermEqualSelector("spec.nodeName", h.name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return h.cs.CoreV1().Pods("").List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return h.cs.CoreV1().Pods("").Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	handle := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
				if h.sync(ctx, p) == nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: handle, UpdateFunc: func(_, cur any) { handle(cur) }})
	go inf.Run(ctx.Done())
	return inf
}

// controlPlaneProc is the child process.
type controlPlaneProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	addr  string
}

func startHollowControlPlane(b *testing.B, mode, etcdServers string) *controlPlaneProc {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHollowControlPlaneChild$", "-test.v")
	cmd.Env = append(os.Environ(), "WASMPOD_HOLLOW_CHILD="+mode, "WASMPOD_HOLLOW_DATA="+b.TempDir(), "WASMPOD_HOLLOW_ETCD="+etcdServers)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &controlPlaneProc{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-done
		}
	})
	for line := range p.lines {
		if a, ok := strings.CutPrefix(line, "HOLLOW-LISTEN "); ok {
			p.addr = a
			return p
		}
	}
	b.Fatal("the control plane process ended before it listened")
	return nil
}

func (p *controlPlaneProc) command(b *testing.B, cmd string) {
	if _, err := fmt.Fprintln(p.stdin, cmd); err != nil {
		b.Fatal(err)
	}
	for line := range p.lines {
		if line == "HOLLOW-OK" {
			return
		}
	}
	b.Fatal("the control plane process ended")
}

// rssMB reads VmRSS and VmHWM of pid, in MB.
func rssMB(pid int) (rss, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmRSS:":
				rss = kb / 1024
			case "VmHWM:":
				peak = kb / 1024
			}
		}
	}
	return rss, peak
}

// cpuTime is the user+system CPU time of pid (/proc/PID/stat, in clock
// ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func BenchmarkHollowNodes(b *testing.B) {
	// The hollow nodes' reflectors log every watch the end of the run
	// breaks.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	stores := []string{"bbolt", "etcd"}
	if s := os.Getenv("WASMPOD_HOLLOW_STORE"); s != "" {
		stores = strings.Split(s, ",")
	}
	for _, s := range stores {
		b.Run(s, func(b *testing.B) {
			for range b.N {
				benchHollow(b, s)
			}
		})
	}
}

func benchHollow(b *testing.B, mode string) {
	nodes, podCount := envInt("WASMPOD_HOLLOW_NODES", 500), envInt("WASMPOD_HOLLOW_PODS", 10000)
	heartbeat := time.Duration(envInt("WASMPOD_HOLLOW_HEARTBEAT_S", 10)) * time.Second
	etcdServers := ""
	if mode == "etcd" {
		srv := etcdtest.Start(b, b.TempDir(), etcdtest.Options{Fsync: true})
		etcdServers = strings.Join(srv.Endpoints(), ",")
	}
	cp := startHollowControlPlane(b, mode, etcdServers)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	lat := &latencies{}
	// One transport for every client, as many connections as they need
	// (each node's watch holds one).
	base := &http.Transport{MaxIdleConnsPerHost: 4096, IdleConnTimeout: 90 * time.Second, DialContext: (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext}
	client := func(record bool) kubernetes.Interface {
		cfg := &rest.Config{Host: "http://" + cp.addr, BearerToken: hollowToken, QPS: -1,
			ContentConfig: rest.ContentConfig{ContentType: "application/json"}}
		var rt http.RoundTripper = base
		if record {
			rt = recordingRT{rt: base, lat: lat}
		}
		cfg.Transport = &bearerRT{rt: rt, token: hollowToken}
		cfg.BearerToken = ""
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return cs
	}
	admin := client(true)
	observer := client(false)
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hollowNamespace}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}

	// Register the hollow nodes, 32 at a time.
	start := time.Now()
	hollows := make([]*hollowNode, nodes)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var regErr atomic.Value
	for i := range hollows {
		h := &hollowNode{name: fmt.Sprintf("hollow-%05d", i), cs: client(true), hostIP: fmt.Sprintf("172.%d.%d.%d", 16+i>>16, (i>>8)&255, i&255)}
		hollows[i] = h
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.register(ctx); err != nil {
				regErr.Store(err)
				return
			}
			go h.heartbeat(ctx, heartbeat)
		}()
	}
	wg.Wait()
	if err, _ := regErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	var infs []cache.SharedIndexInformer
	for _, h := range hollows {
		infs = append(infs, h.run(ctx))
	}
	for _, inf := range infs {
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			b.Fatal("a hollow node's pod informer did not sync")
		}
	}
	// Every node Ready with a pod range.
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(time.Second) {
		nl, err := observer.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, n := range nl.Items {
				if n.Spec.PodCIDR != "" {
					ready++
				}
			}
		}
		if ready == nodes {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d nodes have a pod range after 10 minutes", ready, nodes)
		}
	}
	b.Logf("%s: %d hollow nodes registered with pod ranges in %v", mode, nodes, time.Since(start).Round(time.Millisecond))

	podTemplate := func(name, scheduler string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "hollow"}},
			Spec: corev1.PodSpec{SchedulerName: scheduler, TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "c", Image: "registry.example/pause:3.10",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}}}}
	}
	createAll := func(ns string, n int, prefix, scheduler string) error {
		const workers = 16
		var next atomic.Int64
		var first atomic.Value
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n || ctx.Err() != nil {
						return
					}
					if _, err := admin.CoreV1().Pods(ns).Create(ctx, podTemplate(fmt.Sprintf("%s-%06d", prefix, i), scheduler), metav1.CreateOptions{}); err != nil {
						first.CompareAndSwap(nil, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := first.Load().(error); err != nil {
			return err
		}
		return nil
	}

	// The yardstick: creates alone (no scheduler takes these pods).
	lat.on.Store(true)
	baseN := min(podCount, 5000)
	t0 := time.Now()
	if err := createAll("default", baseN, "yardstick", hollowNoSched); err != nil {
		b.Fatal(err)
	}
	createRate := float64(baseN) / time.Since(t0).Seconds()
	if err := admin.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}, metav1.ListOptions{LabelSelector: "app=hollow"}); err != nil {
		b.Fatal(err)
	}
	lat.mu.Lock()
	lat.mutating, lat.list = nil, nil
	lat.mu.Unlock()

	// The run: create, observe bound and Running.
	w, err := observer.CoreV1().Pods(hollowNamespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	if path := os.Getenv("WASMPOD_HOLLOW_CPUPROFILE"); path != "" {
		abs, _ := filepath.Abs(path)
		cp.command(b, "profile "+abs)
		defer cp.command(b, "stop")
	}
	var boundAt, runningAt time.Time
	observed := make(chan struct{})
	go func() {
		defer close(observed)
		bound, running := map[string]bool{}, map[string]bool{}
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if p.Spec.NodeName != "" && !bound[p.Name] {
				bound[p.Name] = true
				if len(bound) == podCount {
					boundAt = time.Now()
				}
			}
			if p.Status.Phase == corev1.PodRunning && !running[p.Name] {
				running[p.Name] = true
				if len(running) == podCount {
					runningAt = time.Now()
					return
				}
			}
		}
	}()
	listDone := make(chan struct{})
	go func() {
		defer close(listDone)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			admin.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			select {
			case <-observed:
				return
			case <-tick.C:
			}
		}
	}()
	serveCPU0, selfCPU0 := cpuTime(cp.cmd.Process.Pid), cpuTime(os.Getpid())
	t0 = time.Now()
	b.ResetTimer()
	if err := createAll(hollowNamespace, podCount, "pod", ""); err != nil {
		b.Fatal(err)
	}
	createdAt := time.Since(t0)
	select {
	case <-observed:
	case <-time.After(30 * time.Minute):
		b.Fatal("not every pod Running within 30 minutes")
	}
	b.StopTimer()
	<-listDone
	if runningAt.IsZero() {
		b.Fatal("the observer's watch ended before every pod was Running")
	}
	lat.on.Store(false)
	wall := runningAt.Sub(t0)
	serveCPU, selfCPU := cpuTime(cp.cmd.Process.Pid)-serveCPU0, cpuTime(os.Getpid())-selfCPU0
	rss, peak := rssMB(cp.cmd.Process.Pid)
	running := float64(podCount) / runningAt.Sub(t0).Seconds()
	bound := float64(podCount) / boundAt.Sub(t0).Seconds()
	lat.mu.Lock()
	mp, lp, nm, nl := p99(lat.mutating), p99(lat.list), len(lat.mutating), len(lat.list)
	lat.mu.Unlock()
	b.ReportMetric(running, "running-pods/s")
	b.ReportMetric(bound, "bound-pods/s")
	b.ReportMetric(createRate, "create-pods/s")
	b.ReportMetric(running/createRate, "x-create")
	b.ReportMetric(float64(mp.Microseconds())/1000, "mutating-p99-ms")
	b.ReportMetric(float64(lp.Microseconds())/1000, "list-p99-ms")
	b.ReportMetric(rss, "serve-rss-MB")
	b.ReportMetric(peak, "serve-peak-rss-MB")
	b.ReportMetric(float64(serveCPU.Microseconds())/1000/float64(podCount), "serve-cpu-ms/pod")
	b.ReportMetric(serveCPU.Seconds()/wall.Seconds(), "serve-cores")
	b.ReportMetric(float64(selfCPU.Microseconds())/1000/float64(podCount), "hollow-cpu-ms/pod")
	b.Logf("%s: %d nodes, %d pods: created in %v (%.0f/s), all bound after %v, all Running after %v; %d mutating calls (p99 %v), %d LISTs (p99 %v), %d 5xx/errors; serve RSS %.0f MB (peak %.0f MB), CPU %v (%.2f cores); hollow nodes and clients CPU %v",
		mode, nodes, podCount, createdAt.Round(time.Millisecond), float64(podCount)/createdAt.Seconds(), boundAt.Sub(t0).Round(time.Millisecond), runningAt.Sub(t0).Round(time.Millisecond),
		nm, mp.Round(time.Millisecond), nl, lp.Round(time.Millisecond), lat.errors.Load(), rss, peak,
		serveCPU.Round(time.Millisecond), serveCPU.Seconds()/wall.Seconds(), selfCPU.Round(time.Millisecond))
}

// bearerRT adds the token (rest.Config's BearerToken is ignored with a
// custom Transport).
type bearerRT struct {
	rt    http.RoundTripper
	token string
}

func (r *bearerRT) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+r.token)
	return r.rt.RoundTrip(req)
}
