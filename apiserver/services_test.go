package apiserver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testService(name string, ports ...corev1.ServicePort) *corev1.Service {
	if len(ports) == 0 {
		ports = []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: ports},
	}
}

func createSvc(t *testing.T, s *Server, svc *corev1.Service) (*corev1.Service, error) {
	t.Helper()
	obj, err := s.Create(context.Background(), res(t, s, "", "services"), svc.Namespace, svc)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Service), nil
}

func wantInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want Invalid with %q", err, want)
	}
}

func TestServiceDefaultsAndAllocation(t *testing.T) {
	s, _ := newServer(t)
	got, err := createSvc(t, s, testService("web", corev1.ServicePort{Port: 80}))
	if err != nil {
		t.Fatal(err)
	}
	sp := got.Spec
	if sp.Type != corev1.ServiceTypeClusterIP || sp.SessionAffinity != corev1.ServiceAffinityNone ||
		sp.Ports[0].Protocol != corev1.ProtocolTCP || sp.Ports[0].TargetPort != intstr.FromInt32(80) ||
		*sp.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster ||
		*sp.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack || len(sp.IPFamilies) != 1 || sp.IPFamilies[0] != corev1.IPv4Protocol {
		t.Errorf("defaults: %+v", sp)
	}
	if sp.ClusterIP != "10.96.0.2" || len(sp.ClusterIPs) != 1 || sp.ClusterIPs[0] != sp.ClusterIP {
		t.Errorf("clusterIP %q %v, want 10.96.0.2", sp.ClusterIP, sp.ClusterIPs)
	}
	second, err := createSvc(t, s, testService("api"))
	if err != nil {
		t.Fatal(err)
	}
	if second.Spec.ClusterIP != "10.96.0.3" {
		t.Errorf("second clusterIP %q", second.Spec.ClusterIP)
	}

	// Requested IPs: in range and free.
	req := testService("fixed")
	req.Spec.ClusterIP = "10.96.0.2"
	_, err = createSvc(t, s, req)
	wantInvalid(t, err, `spec.clusterIP: Invalid value: "10.96.0.2": provided IP is already allocated`)
	req = testService("fixed")
	req.Spec.ClusterIP = "10.0.0.5"
	_, err = createSvc(t, s, req)
	wantInvalid(t, err, "provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12")
	req = testService("fixed")
	req.Spec.ClusterIP = "10.96.0.1"
	if got, err := createSvc(t, s, req); err != nil || got.Spec.ClusterIP != "10.96.0.1" {
		t.Errorf("requesting the kubernetes IP: %v %v", got, err)
	}

	// Headless gets no IP.
	hl := testService("headless")
	hl.Spec.ClusterIP = corev1.ClusterIPNone
	hl.Spec.Ports = nil
	if got, err := createSvc(t, s, hl); err != nil || got.Spec.ClusterIP != "None" {
		t.Errorf("headless: %v %v", got, err)
	}

	// Deleting releases the IP at once.
	svcs := res(t, s, "", "services")
	if _, err := s.Delete(context.Background(), svcs, "default", "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	req = testService("again")
	req.Spec.ClusterIP = "10.96.0.2"
	if _, err := createSvc(t, s, req); err != nil {
		t.Errorf("reusing a released IP: %v", err)
	}
}

func TestServiceValidation(t *testing.T) {
	s, _ := newServer(t)
	cases := []struct {
		name string
		mod  func(*corev1.Service)
		want string
	}{
		{"no ports", func(v *corev1.Service) { v.Spec.Ports = nil }, "spec.ports: Required value"},
		{"port range", func(v *corev1.Service) { v.Spec.Ports[0].Port = 70000 }, "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"},
		{"names required", func(v *corev1.Service) {
			v.Spec.Ports = append(v.Spec.Ports, corev1.ServicePort{Name: "b", Port: 81})
		}, "spec.ports[0].name: Required value"},
		{"unique names", func(v *corev1.Service) {
			v.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "a", Port: 81}}
		}, `spec.ports[1].name: Duplicate value: "a"`},
		{"unique ports", func(v *corev1.Service) {
			v.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80}}
		}, "spec.ports[1]: Duplicate value"},
		{"type", func(v *corev1.Service) { v.Spec.Type = "Magic" }, `spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`},
		{"nodePort on ClusterIP", func(v *corev1.Service) { v.Spec.Ports[0].NodePort = 30080 }, "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		{"nodePort range", func(v *corev1.Service) {
			v.Spec.Type = corev1.ServiceTypeNodePort
			v.Spec.Ports[0].NodePort = 80
		}, "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"},
		{"selector", func(v *corev1.Service) { v.Spec.Selector = map[string]string{"bad key": "x"} }, `spec.selector: Invalid value: "bad key"`},
		{"targetPort name", func(v *corev1.Service) { v.Spec.Ports[0].TargetPort = intstr.FromString("Not_A_Name") }, "spec.ports[0].targetPort: Invalid value"},
		{"protocol", func(v *corev1.Service) { v.Spec.Ports[0].Protocol = "SCTP" }, `spec.ports[0].protocol: Unsupported value: "SCTP"`},
		{"bad clusterIP", func(v *corev1.Service) { v.Spec.ClusterIP = "nope" }, "must be empty, 'None', or a valid IP address"},
		{"externalName", func(v *corev1.Service) { v.Spec.Type = corev1.ServiceTypeExternalName }, "spec.externalName: Required value"},
		{"dual stack", func(v *corev1.Service) {
			p := corev1.IPFamilyPolicyRequireDualStack
			v.Spec.IPFamilyPolicy = &p
		}, "this cluster is not configured for dual-stack services"},
		{"name", func(v *corev1.Service) { v.Name = "1web" }, "metadata.name: Invalid value"},
	}
	for _, c := range cases {
		v := testService("web")
		c.mod(v)
		_, err := createSvc(t, s, v)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	ext := testService("ext")
	ext.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}
	if got, err := createSvc(t, s, ext); err != nil || got.Spec.ClusterIP != "" {
		t.Errorf("ExternalName: %v %v", got, err)
	}
}

func TestServiceNodePortsAndLoadBalancer(t *testing.T) {
	s, _ := newServer(t)
	np := testService("np", corev1.ServicePort{Name: "http", Port: 80}, corev1.ServicePort{Name: "https", Port: 443, NodePort: 30000})
	np.Spec.Type = corev1.ServiceTypeNodePort
	got, err := createSvc(t, s, np)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Ports[1].NodePort != 30000 || got.Spec.Ports[0].NodePort != 30001 || got.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
		t.Errorf("node ports: %+v", got.Spec)
	}
	clash := testService("clash")
	clash.Spec.Type = corev1.ServiceTypeNodePort
	clash.Spec.Ports[0].NodePort = 30001
	_, err = createSvc(t, s, clash)
	wantInvalid(t, err, "spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated")

	lb := testService("lb")
	lb.Spec.Type = corev1.ServiceTypeLoadBalancer
	got, err = createSvc(t, s, lb)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Ports[0].NodePort != 30002 || len(got.Status.LoadBalancer.Ingress) != 0 || got.Spec.ClusterIP == "" {
		t.Errorf("LoadBalancer: %+v %+v", got.Spec, got.Status)
	}

	// Update: a PUT without the allocated values keeps them; clusterIP is
	// immutable; NodePort → ClusterIP needs the node ports cleared.
	svcs := res(t, s, "", "services")
	upd := got.DeepCopy()
	upd.Spec.ClusterIP, upd.Spec.ClusterIPs, upd.Spec.Ports[0].NodePort = "", nil, 0
	obj, err := s.Update(context.Background(), svcs, "default", upd, "")
	if err != nil {
		t.Fatal(err)
	}
	if u := obj.(*corev1.Service); u.Spec.ClusterIP != got.Spec.ClusterIP || u.Spec.Ports[0].NodePort != 30002 {
		t.Errorf("update lost allocations: %+v", u.Spec)
	}
	upd = obj.(*corev1.Service).DeepCopy()
	upd.Spec.ClusterIP, upd.Spec.ClusterIPs = "10.96.0.99", nil
	_, err = s.Update(context.Background(), svcs, "default", upd, "")
	wantInvalid(t, err, `spec.clusterIP: Invalid value: "10.96.0.99": field is immutable`)

	upd = obj.(*corev1.Service).DeepCopy()
	upd.Spec.Type = corev1.ServiceTypeClusterIP
	upd.Spec.ExternalTrafficPolicy = ""
	upd.Spec.AllocateLoadBalancerNodePorts = nil
	upd.Spec.Ports[0].NodePort = 0
	if _, err := s.Update(context.Background(), svcs, "default", upd, ""); err != nil {
		t.Fatal(err)
	}
	// 30002 is free again.
	again := testService("again")
	again.Spec.Type = corev1.ServiceTypeNodePort
	again.Spec.Ports[0].NodePort = 30002
	if _, err := createSvc(t, s, again); err != nil {
		t.Errorf("released node port: %v", err)
	}
}

func TestServiceAllocationConcurrent(t *testing.T) {
	s, _ := newServer(t)
	const n = 40
	var wg sync.WaitGroup
	ips := make([]string, n)
	ports := make([]int32, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := testService(fmt.Sprintf("s%d", i))
			v.Spec.Type = corev1.ServiceTypeNodePort
			got, err := createSvc(t, s, v)
			if err != nil {
				errs[i] = err
				return
			}
			ips[i], ports[i] = got.Spec.ClusterIP, got.Spec.Ports[0].NodePort
		}()
	}
	wg.Wait()
	seenIP, seenPort := map[string]bool{}, map[int32]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seenIP[ips[i]] || seenPort[ports[i]] {
			t.Fatalf("duplicate allocation: %s %d", ips[i], ports[i])
		}
		seenIP[ips[i]], seenPort[ports[i]] = true, true
	}
}
