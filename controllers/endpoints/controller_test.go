package endpoints

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

func setup(t *testing.T) (kubernetes.Interface, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(s.Handler(apiserver.HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cs).Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return cs, ctx
}

// makePod creates a pod and sets its status (IP, phase, Ready).
func makePod(t *testing.T, cs kubernetes.Interface, name, app, ip string, ready bool) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "x.wasm",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
	p, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setStatus(t, cs, p, ip, ready)
	return p
}

func setStatus(t *testing.T, cs kubernetes.Interface, p *corev1.Pod, ip string, ready bool) {
	t.Helper()
	cur, err := cs.CoreV1().Pods(p.Namespace).Get(context.Background(), p.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	cur.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}
	if _, err := cs.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// state summarizes the Service's slices: "ip:ready/serving/terminating" sorted, plus ports.
func state(cs kubernetes.Interface, svc string) (string, []discoveryv1.EndpointSlice) {
	l, err := cs.DiscoveryV1().EndpointSlices("default").List(context.Background(), metav1.ListOptions{LabelSelector: LabelServiceKey + "=" + svc})
	if err != nil {
		return err.Error(), nil
	}
	var parts []string
	for _, s := range l.Items {
		for _, e := range s.Endpoints {
			parts = append(parts, fmt.Sprintf("%s:%v/%v/%v", e.Addresses[0], *e.Conditions.Ready, *e.Conditions.Serving, *e.Conditions.Terminating))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " "), l.Items
}

func eventually(t *testing.T, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, got := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have %s", what, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEndpointSlicesFollowPods(t *testing.T) {
	cs, ctx := setup(t)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
			{Name: "raw", Port: 81, TargetPort: intstr.FromInt32(9000)},
		}},
	}
	svc, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := makePod(t, cs, "web-a", "web", "10.244.1.2", true)
	makePod(t, cs, "web-b", "web", "10.244.1.3", false)
	makePod(t, cs, "other", "db", "10.244.1.4", true)
	// A pod without an IP is skipped.
	if _, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-pending", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x.wasm"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	want := "10.244.1.2:true/true/false 10.244.1.3:false/false/false"
	eventually(t, "slice with both pods", func() (bool, string) { s, _ := state(cs, "web"); return s == want, s })
	_, slices := state(cs, "web")
	if len(slices) != 1 {
		t.Fatalf("%d slices", len(slices))
	}
	sl := slices[0]
	if sl.Labels[LabelManagedBy] != ManagedBy || sl.Labels["tier"] != "front" || sl.AddressType != discoveryv1.AddressTypeIPv4 ||
		len(sl.OwnerReferences) != 1 || sl.OwnerReferences[0].UID != svc.UID {
		t.Errorf("slice metadata: %+v", sl.ObjectMeta)
	}
	if len(sl.Ports) != 2 || *sl.Ports[0].Name != "http" || *sl.Ports[0].Port != 8080 || *sl.Ports[1].Port != 9000 || *sl.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("ports: %+v", sl.Ports)
	}
	for _, e := range sl.Endpoints {
		if e.TargetRef == nil || e.TargetRef.Kind != "Pod" || e.NodeName == nil || *e.NodeName != "node-1" {
			t.Errorf("endpoint: %+v", e)
		}
	}
	eventually(t, "legacy Endpoints", func() (bool, string) {
		ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ok := len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 1 && ep.Subsets[0].Addresses[0].IP == "10.244.1.2" &&
			len(ep.Subsets[0].NotReadyAddresses) == 1 && ep.Subsets[0].NotReadyAddresses[0].IP == "10.244.1.3" && len(ep.Subsets[0].Ports) == 2
		return ok, fmt.Sprintf("%+v", ep.Subsets)
	})

	// A pod being deleted (graceful: it is bound to a node) leaves the
	// ready endpoints at once and shows as terminating.
	if err := cs.CoreV1().Pods("default").Delete(ctx, a.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want = "10.244.1.2:false/true/true 10.244.1.3:false/false/false"
	eventually(t, "terminating endpoint", func() (bool, string) { s, _ := state(cs, "web"); return s == want, s })
	eventually(t, "legacy Endpoints without the terminating pod", func() (bool, string) {
		ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 0 && len(ep.Subsets[0].NotReadyAddresses) == 1, fmt.Sprintf("%+v", ep.Subsets)
	})

	// Readiness changes and label changes.
	b, _ := cs.CoreV1().Pods("default").Get(ctx, "web-b", metav1.GetOptions{})
	setStatus(t, cs, b, "10.244.1.3", true)
	o, _ := cs.CoreV1().Pods("default").Get(ctx, "other", metav1.GetOptions{})
	o.Labels["app"] = "web"
	if _, err := cs.CoreV1().Pods("default").Update(ctx, o, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want = "10.244.1.2:false/true/true 10.244.1.3:true/true/false 10.244.1.4:true/true/false"
	eventually(t, "ready b and relabelled pod", func() (bool, string) { s, _ := state(cs, "web"); return s == want, s })

	// Deleting the Service removes its slices and Endpoints.
	if err := cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cleanup", func() (bool, string) {
		s, slices := state(cs, "web")
		_, err := cs.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		return len(slices) == 0 && apierrors.IsNotFound(err), s
	})
}

func TestNamedPortsSplitSlicesAndSelectorless(t *testing.T) {
	cs, ctx := setup(t)
	// A pod with a different container port for "http" lands in another slice;
	// one without the named port is not an endpoint.
	makePod(t, cs, "a", "x", "10.244.1.2", true)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "default", Labels: map[string]string{"app": "x"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "x.wasm",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 9090}}}}},
	}
	p, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setStatus(t, cs, p, "10.244.1.3", true)
	p = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default", Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "x.wasm"}}},
	}
	if p, err = cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setStatus(t, cs, p, "10.244.1.4", true)
	if _, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "x"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two slices", func() (bool, string) {
		s, slices := state(cs, "x")
		if len(slices) != 2 {
			return false, s
		}
		ports := map[int32]string{}
		for _, sl := range slices {
			ports[*sl.Ports[0].Port] = sl.Endpoints[0].Addresses[0]
		}
		return ports[8080] == "10.244.1.2" && ports[9090] == "10.244.1.3", fmt.Sprint(ports)
	})

	// A Service without a selector is the user's.
	if _, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "manual"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	user := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "manual"}, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "192.0.2.1"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}}
	if _, err := cs.CoreV1().Endpoints("default").Create(ctx, user, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Let the controller see it, then check it is unchanged.
	eventually(t, "x settled", func() (bool, string) { _, s := state(cs, "x"); return len(s) == 2, "" })
	time.Sleep(50 * time.Millisecond)
	ep, err := cs.CoreV1().Endpoints("default").Get(ctx, "manual", metav1.GetOptions{})
	if err != nil || len(ep.Subsets) != 1 || ep.Subsets[0].Addresses[0].IP != "192.0.2.1" {
		t.Errorf("user Endpoints touched: %+v %v", ep, err)
	}
}
