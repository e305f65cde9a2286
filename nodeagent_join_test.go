package wasmpod

// Issue 15 §1, joining: an agent whose only credential is what
// bootstrap.Bootstrap traded a join token for (a client certificate of
// system:node:<name>) registers, runs a pod, writes its status and serves
// exec through its reverse tunnel, all within what the Node authorizer
// allows (apiserver/node_authz.go).

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
)

const joinPodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: joined
spec:
  nodeName: joined-1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo hello from a joined node; while true; do sleep 1; done"]
    env:
    - name: FROM_CM
      valueFrom: {configMapKeyRef: {name: settings, key: greeting}}
`

func TestAgentJoinsWithToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := newJoinPlane(t, ctx, clock.RealClock{}, "joined-1")
	cl, ts, cred := p.cl, p.ts, p.cred
	logs := startAgent(t, AgentOptions{API: cred.RESTConfig(), NodeName: "joined-1", ReverseTunnel: true, PodCIDR: "10.244.11.0/24"})
	cs := cl.Client()
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"greeting": "hi"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs, err := LoadBytes([]byte(joinPodYAML), "pod.yaml", ".", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Apply(ctx, objs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.WaitPod(ctx, "default", "joined", PodRunning); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, logs)
	}
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		return strings.Contains(logs.String(), "reverse tunnel to "+ts.URL+" open"), nil
	}); err != nil {
		t.Fatalf("no tunnel: %v\nagent log:\n%s", err, logs)
	}
	var out bytes.Buffer
	code, err := cl.Exec(ctx, "default", "joined", &corev1.PodExecOptions{Command: []string{"sh", "-c", "echo $FROM_CM"}, Stdout: true}, ExecStreams{Stdout: &out})
	if err != nil || code != 0 || out.String() != "hi\n" {
		t.Errorf("exec on the joined node: exit %d, %v, %q", code, err, out.String())
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, "joined-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			t.Errorf("the joined node is not Ready: %+v", c)
		}
	}
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		for _, e := range evs.Items {
			if err == nil && e.InvolvedObject.Name == "joined" && e.Reason == "Started" {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Errorf("no Started event from the joined node: %v", err)
	}
	if strings.Contains(logs.String(), "forbidden") {
		t.Errorf("the node's credential was refused something:\n%s", logs)
	}
}
