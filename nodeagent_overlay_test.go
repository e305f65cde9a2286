package wasmpod

// Issue 15 §5, the pod network across nodes: two agents (RunAgent) of one
// TLS control plane, joined with a token (bootstrap), each with its own pod
// network and a tunnel port, publish their tunnel ports on their Nodes and
// learn each other's routes from the Nodes. A pod on one reaches a pod on
// the other by pod IP, a Service with a pod on each node by name (balanced
// over both), a pod on the other node by its hostname.subdomain of a
// headless Service, and a pod over UDP, through the agents' mTLS tunnel
// authenticated by their node certificates.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/keyutil"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/bootstrap"
)

func TestAgentsPodNetworkAcrossNodes(t *testing.T) {
	ca := newTestCA(t)
	const token = "overlay-test-admin-token-0123456789"
	cl, ts := tlsControlPlane(t, ca, apiserver.HandlerOptions{Token: token})
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Server().SetClusterCA(ca.pem, keyPEM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admin := &rest.Config{Host: ts.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca.pem}}
	joinToken, err := bootstrap.CreateToken(ctx, admin, bootstrap.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	logs := map[string]*lockedBuffer{}
	for i, name := range []string{"node-a", "node-b"} {
		// Each agent joins with the token: its only credential is its node
		// certificate, which its tunnel presents too (TunnelCert's default),
		// and what it does is what the Node authorizer lets a node do.
		cred, err := bootstrap.Bootstrap(ctx, bootstrap.Options{Server: ts.URL, Token: joinToken, NodeName: name})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		logs[name] = startAgent(t, AgentOptions{
			API: cred.RESTConfig(), NodeName: name, ReverseTunnel: true, PodCIDR: fmt.Sprintf("10.244.%d.0/24", 31+i),
			TunnelListener: ln,
		})
	}
	agentLogs := func() string { return "node-a:\n" + logs["node-a"].String() + "\nnode-b:\n" + logs["node-b"].String() }
	cs := cl.Client()
	// Both Nodes publish their tunnel ports.
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, name := range []string{"node-a", "node-b"} {
			n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || n.Annotations[TunnelPortAnnotation] == "" {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		t.Fatalf("tunnel ports not published: %v\n%s", err, agentLogs())
	}

	servers := `apiVersion: v1
kind: Pod
metadata: {name: web-a, labels: {app: web}}
spec:
  nodeName: node-a
  containers:
  - name: web
    image: go://./wasm-examples/testguests/netprobe
    args: [http-server, ":8080", "hello from node-a"]
    ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-b, labels: {app: web}}
spec:
  nodeName: node-b
  hostname: b
  subdomain: hl
  containers:
  - name: web
    image: go://./wasm-examples/testguests/netprobe
    args: [http-server, ":8080", "hello from node-b"]
    ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: udp-b}
spec:
  nodeName: node-b
  containers:
  - name: udp
    image: go://./wasm-examples/testguests/netprobe
    args: [udp-server, ":5353", "100"]
`
	overlayApply(t, ctx, cl, servers)
	if _, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The headless Service of web-b's subdomain: b.hl.default.svc
	// resolves on node-a to the pod on node-b.
	if _, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hl"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 8080}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	webB, err := cl.WaitPod(ctx, "default", "web-b", PodRunning)
	if err != nil {
		t.Fatalf("%v\n%s", err, agentLogs())
	}
	udpB, err := cl.WaitPod(ctx, "default", "udp-b", PodRunning)
	if err != nil {
		t.Fatalf("%v\n%s", err, agentLogs())
	}
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var out bytes.Buffer
		cl.Logs(ctx, "default", "web-b", &corev1.PodLogOptions{}, &out)
		return out.Len() > 0, nil // netprobe's http-server says it listens
	}); err != nil {
		t.Fatal(err)
	}
	client := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: client-a}
spec:
  nodeName: node-a
  restartPolicy: Never
  containers:
  - name: by-ip
    image: go://./wasm-examples/testguests/netprobe
    args: [http-get, "http://%s:8080/", "2"]
  - name: by-name
    image: go://./wasm-examples/testguests/netprobe
    args: [http-get, "http://web.default.svc.cluster.local/", "6"]
  - name: udp
    image: go://./wasm-examples/testguests/netprobe
    args: [udp-client, "%s:5353", "ping across"]
  - name: by-hostname
    image: go://./wasm-examples/testguests/netprobe
    args: [http-get, "http://b.hl.default.svc.cluster.local:8080/", "1"]
`, webB.Status.PodIP, udpB.Status.PodIP)
	// The Service's endpoints reach node-a's proxy through its watch:
	// wait for the EndpointSlice before the client starts.
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		l, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name in (web,hl)"})
		ready, named := 0, 0
		for _, sl := range l.Items {
			for _, e := range sl.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					ready++
					if e.Hostname != nil && *e.Hostname == "b" {
						named++
					}
				}
			}
		}
		return err == nil && ready == 4 && named == 1, nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the agent's informer follows the slice
	overlayApply(t, ctx, cl, client)
	p, err := cl.WaitPod(ctx, "default", "client-a", PodTerminal)
	if err != nil {
		t.Fatalf("%v\n%s", err, agentLogs())
	}
	for _, c := range []struct{ container, want string }{
		{"by-ip", "body: hello from node-b"},
		{"by-name", "body: hello from node-a"}, // balanced over both nodes
		{"by-name", "body: hello from node-b"},
		{"udp", "got: PING ACROSS\n"},
		{"by-hostname", "body: hello from node-b"}, // hostname.subdomain of a pod on the other node
	} {
		var out bytes.Buffer
		if err := cl.Logs(ctx, "default", "client-a", &corev1.PodLogOptions{Container: c.container}, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("client-a/%s on node-a printed %q, want %q", c.container, out.String(), c.want)
		}
	}
	if p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("client-a: %s\n%s", p.Status.Phase, agentLogs())
	}
	for _, name := range []string{"node-a", "node-b"} {
		if !strings.Contains(logs[name].String(), "pod network tunnel on port") {
			t.Errorf("%s's log does not say it published its tunnel port:\n%s", name, logs[name])
		}
	}
	if !strings.Contains(logs["node-a"].String(), "tunnel to node node-b at 127.0.0.1:") {
		t.Errorf("node-a did not open its tunnel to node-b:\n%s", logs["node-a"])
	}
}

func overlayApply(t *testing.T, ctx context.Context, cl *Cluster, yaml string) {
	t.Helper()
	objs, err := LoadBytes([]byte(yaml), "manifest.yaml", ".", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, err := cl.Apply(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}
