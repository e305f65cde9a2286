package realkube_test

// wasmpod agents joined to an unmodified kube-apiserver as virtual nodes
// (the Krustlet model), with wasmpod's scheduler and controllers as its
// kube-scheduler and kube-controller-manager.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/controllers/endpoints"
	"github.com/wasmpod/wasmpod/controllers/job"
	"github.com/wasmpod/wasmpod/controllers/nodelifecycle"
	"github.com/wasmpod/wasmpod/controllers/rootcacertpublisher"
	"github.com/wasmpod/wasmpod/controllers/serviceaccount"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	typedcorev1 "github.com/wasmpod/wasmpod/internal/kube/kubernetes/typed/core/v1"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/internal/realkube"
	"github.com/wasmpod/wasmpod/internal/syncbuf"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/internal/testwasm"
	"github.com/wasmpod/wasmpod/scheduler"
)

var wasmNodes = []string{"wasm-a", "wasm-b"}

// TestAgentsJoinRealAPIServer joins two wasmpod agents, each with its own
// node credential (system:node:NAME), to kube-apiserver v1.37.2 running
// with --authorization-mode=Node,RBAC and NodeRestriction, and proves:
//   - the Nodes register by the Krustlet convention (label and NoSchedule
//     and NoExecute taints kubernetes.io/arch=wasm32-wasi), Ready, with
//     their addresses, kubelet port and pod range;
//   - wasmpod's scheduler places a pod that selects and tolerates them and
//     leaves one that does not Unschedulable; a pod with spec.nodeName
//     set runs without a scheduler;
//   - pods run and report status, IPs and the kubelet's Events, with their
//     service account token and kube-root-ca.crt mounted;
//   - a Service gets EndpointSlices from wasmpod's endpoints controller
//     and a pod reaches it by name;
//   - a Job completes under wasmpod's job controller;
//   - kubectl logs, exec, port-forward and attach (kubectl run -i --rm)
//     reach the agents through the real API server's kubelet client;
//   - the kubelet API authorizes other certificate users by a
//     SubjectAccessReview that the node's credential may make.
func TestAgentsJoinRealAPIServer(t *testing.T) {
	srv := realkube.Start(t, realkube.Options{Nodes: wasmNodes})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	admin := kubernetes.NewForConfigOrDie(srv.AdminConfig())
	if rss, err := srv.RSS(); err == nil {
		t.Logf("kube-apiserver ready, RSS %d MB", rss>>20)
	}
	runControllers(t, ctx, admin, srv.CA)
	// An agent's service proxy reads EndpointSlices, which the Node
	// authorizer does not grant a node: the nodes get kube-proxy's
	// ClusterRole, as a cluster admin would bind it.
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "wasmpod-node-proxier"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-proxier"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:nodes"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	agentDone := map[string]chan error{}
	for i, name := range wasmNodes {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		agentDone[name] = done
		opts := wasmpod.AgentOptions{
			API:               srv.NodeConfig(name),
			NodeName:          name,
			DataDir:           filepath.Join(t.TempDir(), name),
			CacheDir:          testwasm.CacheDir(),
			NodeIP:            netip.MustParseAddr("127.0.0.1"),
			KubeletListener:   l,
			PodCIDR:           fmt.Sprintf("10.244.%d.0/24", i+1),
			WasmArch:          true,
			HeartbeatInterval: 2 * time.Second,
			Progress:          testWriter{t},
		}
		go func() { done <- wasmpod.RunAgent(ctx, opts) }()
	}
	t.Cleanup(func() {
		cancel()
		for name, done := range agentDone {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("agent %s: %v", name, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("agent %s did not stop within 30s", name)
			}
		}
	})

	// The Nodes, as registered under NodeRestriction.
	for i, name := range wasmNodes {
		n := waitFor(t, ctx, agentDone, "Node "+name+" Ready", func() (*corev1.Node, bool) {
			n, err := admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			return n, err == nil && ready(n.Status.Conditions, corev1.NodeReady)
		})
		if n.Labels[corev1.LabelArchStable] != wasmpod.WasmArch || n.Labels[corev1.LabelHostname] != name {
			t.Errorf("node %s labels %v", name, n.Labels)
		}
		for _, want := range wasmpod.WasmArchTaints() {
			if !slices.ContainsFunc(n.Spec.Taints, func(x corev1.Taint) bool { return x.MatchTaint(&want) && x.Value == want.Value }) {
				t.Errorf("node %s taints %v lack %v", name, n.Spec.Taints, want)
			}
		}
		if len(n.Status.Addresses) == 0 || n.Status.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}) ||
			n.Status.DaemonEndpoints.KubeletEndpoint.Port == 0 || n.Spec.PodCIDR != fmt.Sprintf("10.244.%d.0/24", i+1) {
			t.Errorf("node %s: addresses %v, kubelet port %d, podCIDR %q", name, n.Status.Addresses, n.Status.DaemonEndpoints.KubeletEndpoint.Port, n.Spec.PodCIDR)
		}
		waitFor(t, ctx, agentDone, "Lease kube-node-lease/"+name, func() (error, bool) {
			_, err := admin.CoordinationV1().Leases("kube-node-lease").Get(ctx, name, metav1.GetOptions{})
			return err, err == nil
		})
	}
	// NodeRestriction holds: a node may not touch another node.
	other := kubernetes.NewForConfigOrDie(srv.NodeConfig("wasm-a"))
	if _, err := other.CoreV1().Nodes().Patch(ctx, "wasm-b", "application/merge-patch+json", []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("wasm-a patching Node wasm-b: %v, want 403", err)
	}

	// The kubelet API authorizes a certificate user outside system:masters
	// with a SubjectAccessReview (made with the node's credential) of
	// nodes/proxy: RBAC grants it to readers, not to others.
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "node-proxy-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes/proxy"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "node-proxy-readers"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "node-proxy-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "readers"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nodeA, err := admin.CoreV1().Nodes().Get(ctx, "wasm-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubeletURL := fmt.Sprintf("https://127.0.0.1:%d/pods", nodeA.Status.DaemonEndpoints.KubeletEndpoint.Port)
	for _, c := range []struct {
		user, group string
		code        int
	}{{"reader", "readers", http.StatusOK}, {"stranger", "others", http.StatusForbidden}} {
		cert := srv.ClientCertificate(t, c.user, c.group)
		// As kube-apiserver without --kubelet-certificate-authority, the
		// agent's self-signed serving certificate is not verified.
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}}}
		resp, err := hc.Get(kubeletURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("kubelet API /pods as %s (%s): %s %s, want %d", c.user, c.group, resp.Status, body, c.code)
		}
	}

	// The default ServiceAccount (wasmpod's serviceaccount controller):
	// without it the ServiceAccount admission plugin refuses every pod.
	waitFor(t, ctx, agentDone, "ServiceAccount default/default", func() (*corev1.ServiceAccount, bool) {
		sa, err := admin.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return sa, err == nil
	})

	wasm := func(p *corev1.PodSpec) {
		p.NodeSelector = map[string]string{corev1.LabelArchStable: wasmpod.WasmArch}
		for _, t := range wasmpod.WasmArchTaints() {
			p.Tolerations = append(p.Tolerations, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOpEqual, Value: t.Value, Effect: t.Effect})
		}
	}
	pod := func(name, node string, cmd string, labels map[string]string) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
			Spec: corev1.PodSpec{
				NodeName:      node,
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", cmd}}},
			},
		}
		wasm(&p.Spec)
		return p
	}
	create := func(p *corev1.Pod) {
		t.Helper()
		if _, err := admin.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating pod %s: %v", p.Name, err)
		}
	}
	// web: bound by hand to wasm-a (nothing else would schedule it), an
	// HTTP server; client: placed by wasmpod's scheduler.
	create(pod("web", "wasm-a", "echo hello from web; mkdir -p /www; echo served by web > /www/index.html; httpd -f -p 8080 -h /www", map[string]string{"app": "web"}))
	// A pod that does not tolerate the wasm taints has no node.
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}}
	create(plain)

	web := waitPod(t, ctx, admin, agentDone, "web", "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && ready(p.Status.Conditions, corev1.PodReady)
	})
	if web.Status.HostIP != "127.0.0.1" || !strings.HasPrefix(web.Status.PodIP, "10.244.1.") || len(web.Status.PodIPs) != 1 {
		t.Errorf("web: hostIP %q, podIP %q, podIPs %v", web.Status.HostIP, web.Status.PodIP, web.Status.PodIPs)
	}
	// The projected service account volume (token, kube-root-ca.crt,
	// namespace) was mounted through the node's credential.
	k := kubectl{t: t, bin: testkubectl.Path(t), kubeconfig: srv.Kubeconfig(t)}
	if out := k.must("exec", "web", "--", "sh", "-c", "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; test -s /var/run/secrets/kubernetes.io/serviceaccount/token && grep -c 'BEGIN CERTIFICATE' /var/run/secrets/kubernetes.io/serviceaccount/ca.crt"); out != "default1\n" {
		t.Errorf("web's service account volume: %q", out)
	}

	// A Service: EndpointSlices from wasmpod's endpoints controller, and a
	// pod on the same node reaching it by name through its agent's proxy.
	if _, err := admin.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, agentDone, "an EndpointSlice of Service web with web's IP", func() (string, bool) {
		l, err := admin.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return err.Error(), false
		}
		for _, s := range l.Items {
			for _, ep := range s.Endpoints {
				if slices.Contains(ep.Addresses, web.Status.PodIP) && ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					return "", true
				}
			}
		}
		return fmt.Sprint(l.Items), false
	})
	client := pod("client", "", "i=0; while [ $i -lt 50 ]; do wget -q -O - http://web.default.svc.cluster.local/ && exit 0; sleep 0.2; i=$((i+1)); done; exit 1", nil)
	client.Spec.NodeSelector[corev1.LabelHostname] = "wasm-a"
	create(client)
	c := waitPod(t, ctx, admin, agentDone, "client", "Succeeded", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if c.Spec.NodeName != "wasm-a" || c.Status.Phase != corev1.PodSucceeded {
		t.Errorf("client: node %q, phase %s", c.Spec.NodeName, c.Status.Phase)
	}
	if out := k.must("logs", "client"); out != "served by web\n" {
		t.Errorf("kubectl logs client: %q", out)
	}

	// The kubelet's Events, in the pod's namespace, and the scheduler's.
	waitFor(t, ctx, agentDone, "client's Scheduled, Pulled, Created and Started Events", func() ([]string, bool) {
		l, err := admin.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=client"})
		if err != nil {
			return nil, false
		}
		var reasons []string
		for _, e := range l.Items {
			reasons = append(reasons, e.Reason)
		}
		return reasons, slices.Contains(reasons, "Scheduled") && slices.Contains(reasons, "Pulled") &&
			slices.Contains(reasons, "Created") && slices.Contains(reasons, "Started")
	})
	p := waitPod(t, ctx, admin, agentDone, "plain", "Unschedulable", func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true
			}
		}
		return false
	})
	if p.Spec.NodeName != "" || !strings.Contains(fmt.Sprint(p.Status.Conditions), "untolerated taint") {
		t.Errorf("plain: node %q, conditions %v", p.Spec.NodeName, p.Status.Conditions)
	}

	// kubectl logs, exec and port-forward through the real API server.
	if out := k.must("logs", "web"); out != "hello from web\n" {
		t.Errorf("kubectl logs web: %q", out)
	}
	if out, errOut, code := k.run(nil, "exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3"); out != "out\n" || !strings.Contains(errOut, "err") || code != 3 {
		t.Errorf("kubectl exec web: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out, errOut, code := k.run(strings.NewReader("through stdin\n"), "exec", "-i", "web", "--", "cat"); out != "through stdin\n" || code != 0 {
		t.Errorf("kubectl exec -i web cat: exit %d, %q %q", code, out, errOut)
	}
	portForward(t, k, "web", 8080, "served by web\n")
	// attach, through kubectl run -i --rm (placed by the scheduler).
	var att corev1.PodSpec
	wasm(&att)
	overrides, err := json.Marshal(map[string]any{"spec": map[string]any{"nodeSelector": att.NodeSelector, "tolerations": att.Tolerations}})
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := k.run(strings.NewReader("typed input\n"), "run", "att", "--image=busybox", "--restart=Never", "-i", "--rm",
		"--overrides", string(overrides), "--", "sh", "-c", "read x; echo got: $x"); code != 0 || !strings.Contains(out, "got: typed input\n") {
		t.Errorf("kubectl run -i --rm: exit %d\n%s%s", code, out, errOut)
	}

	// A Job under wasmpod's job controller, its pods placed by the
	// scheduler on the wasm nodes.
	var jobSpec corev1.PodSpec
	wasm(&jobSpec)
	jobSpec.RestartPolicy = corev1.RestartPolicyNever
	jobSpec.Containers = []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "echo job done"}}}
	completions := int32(2)
	if _, err := admin.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "count", Namespace: "default"},
		Spec: batchv1.JobSpec{Completions: &completions, Parallelism: &completions,
			Template: corev1.PodTemplateSpec{Spec: jobSpec}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, agentDone, "Job count Complete", func() (batchv1.JobStatus, bool) {
		j, err := admin.BatchV1().Jobs("default").Get(ctx, "count", metav1.GetOptions{})
		if err != nil {
			return batchv1.JobStatus{}, false
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return j.Status, j.Status.Succeeded == 2
			}
		}
		return j.Status, false
	})
	jobPods, err := admin.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=count"})
	if err != nil || len(jobPods.Items) != 2 {
		t.Fatalf("job count's pods: %v, %v", jobPods, err)
	}
	for _, p := range jobPods.Items {
		if !slices.Contains(wasmNodes, p.Spec.NodeName) || p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("job pod %s: node %q, phase %s", p.Name, p.Spec.NodeName, p.Status.Phase)
		}
	}
	if out := k.must("logs", "job/count"); out != "job done\n" {
		t.Errorf("kubectl logs job/count: %q", out)
	}
	if rss, err := srv.RSS(); err == nil {
		t.Logf("kube-apiserver RSS %d MB at the end", rss>>20)
	}
}

// runControllers runs, as the admin, what kube-controller-manager and
// kube-scheduler would: wasmpod's scheduler and its serviceaccount, root
// CA publisher, endpoints, job and node lifecycle controllers.
func runControllers(t *testing.T, ctx context.Context, admin kubernetes.Interface, ca []byte) {
	shared := kubeutil.NewSharedFactory(admin)
	t.Cleanup(shared.Shutdown)
	sac := serviceaccount.New(admin)
	sac.Informers = shared
	rca := rootcacertpublisher.New(admin)
	rca.SetCA(ca)
	epc := endpoints.New(admin)
	epc.Informers = shared
	jc := job.New(admin, nil)
	jc.Informers = shared
	// kube-apiserver's TaintNodesByCondition admission registers every
	// Node not-ready:NoSchedule; the node lifecycle controller removes
	// that once the Node is Ready.
	nlc := nodelifecycle.New(admin, nil, 0)
	nlc.Informers = shared

	fw, err := scheduler.NewFramework(scheduler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: admin.CoreV1().Events("")})
	t.Cleanup(bc.Shutdown)
	s := scheduler.New(fw, binder{admin, bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "default-scheduler"})}, nil)
	shared.Core().V1().Nodes().Informer().AddEventHandler(kubeutil.Typed(s.OnNodeAdd, s.OnNodeUpdate, s.OnNodeDelete))
	shared.Core().V1().Pods().Informer().AddEventHandler(kubeutil.Typed(s.OnPodAdd, s.OnPodUpdate, s.OnPodDelete))

	for _, run := range []func(context.Context) error{sac.Run, rca.Run, epc.Run, jc.Run, nlc.Run} {
		go run(ctx)
	}
	shared.Start(ctx.Done())
	shared.WaitForCacheSync(ctx.Done())
	go s.Run(ctx)
}

// binder binds as kube-scheduler's DefaultBinder, through the Binding
// subresource, and records the scheduler's Events.
type binder struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
}

func (b binder) Bind(ctx context.Context, pod *corev1.Pod, node string) error {
	err := b.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err == nil {
		b.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	}
	return err
}

func (b binder) Unschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	b.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	cur, err := b.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil || cur.Spec.NodeName != "" {
		return err
	}
	cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.Now()}}
	_, err = b.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

func ready(conds any, typ any) bool {
	switch cs := conds.(type) {
	case []corev1.NodeCondition:
		for _, c := range cs {
			if c.Type == typ {
				return c.Status == corev1.ConditionTrue
			}
		}
	case []corev1.PodCondition:
		for _, c := range cs {
			if c.Type == typ {
				return c.Status == corev1.ConditionTrue
			}
		}
	}
	return false
}

// waitFor polls cond until it holds (two minutes at most), failing the
// test with its last value; an agent that stops meanwhile fails it at once.
func waitFor[T any](t *testing.T, ctx context.Context, agents map[string]chan error, what string, cond func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		v, ok := cond()
		if ok {
			return v
		}
		for name, done := range agents {
			select {
			case err := <-done:
				done <- err
				t.Fatalf("waiting for %s: agent %s stopped: %v", what, name, err)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: last %+v", what, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitPod(t *testing.T, ctx context.Context, c kubernetes.Interface, agents map[string]chan error, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	return waitFor(t, ctx, agents, "pod "+name+" "+what, func() (*corev1.Pod, bool) {
		p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return &corev1.Pod{}, false
		}
		return p, cond(p)
	})
}

// kubectl is upstream kubectl with the admin's kubeconfig.
type kubectl struct {
	t          *testing.T
	bin        string
	kubeconfig string
}

func (k kubectl) cmd(ctx context.Context, stdin io.Reader, args ...string) (*exec.Cmd, *syncbuf.Buffer, *syncbuf.Buffer) {
	// Its discovery cache in the test's directory, not $HOME/.kube.
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(filepath.Dir(k.kubeconfig), "cache")}, args...)...)
	var out, errOut syncbuf.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errOut
	return cmd, &out, &errOut
}

func (k kubectl) run(stdin io.Reader, args ...string) (string, string, int) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, out, errOut := k.cmd(ctx, stdin, args...)
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		k.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func (k kubectl) must(args ...string) string {
	k.t.Helper()
	out, errOut, code := k.run(nil, args...)
	if code != 0 {
		k.t.Errorf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// portForward runs kubectl port-forward to pod's port and checks that an
// HTTP GET through it answers want.
func portForward(t *testing.T, k kubectl, pod string, port int, want string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	local := l.Addr().String()
	l.Close()
	_, lport, _ := net.SplitHostPort(local)
	ctx, cancel := context.WithCancel(context.Background())
	cmd, _, errOut := k.cmd(ctx, nil, "port-forward", "pod/"+pod, fmt.Sprintf("%s:%d", lport, port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && body != want; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + local + "/"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
	}
	if body != want {
		t.Errorf("kubectl port-forward %s %s:%d: got %q, want %q\n%s", pod, lport, port, body, want, errOut)
	}
}

// testWriter logs an agent's lines to the test.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
