package printers

// Expected rows follow the cases of upstream's printer tests
// (k8s.io/kubernetes/pkg/printers/internalversion/printers_test.go), with
// a fixed clock instead of time.Now.

import (
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

// rows prints obj with the fixed clock and returns its rows' cells.
func rows(t *testing.T, obj runtime.Object, wide bool) [][]any {
	t.Helper()
	table, err := ToTable(obj, WithNow(now), WithWide(wide))
	if err != nil {
		t.Fatalf("ToTable(%T): %v", obj, err)
	}
	var out [][]any
	for _, r := range table.Rows {
		if len(r.Cells) != len(table.ColumnDefinitions) {
			t.Fatalf("%T: %d cells, %d columns", obj, len(r.Cells), len(table.ColumnDefinitions))
		}
		out = append(out, r.Cells)
	}
	return out
}

func check(t *testing.T, name string, obj runtime.Object, wide bool, want ...any) {
	t.Helper()
	got := rows(t, obj, wide)
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("%s:\n got %#v\nwant %#v", name, got, want)
	}
}

func columnNames(t *testing.T, obj runtime.Object, wide bool) string {
	t.Helper()
	table, err := ToTable(obj, WithNow(now), WithWide(wide))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range table.ColumnDefinitions {
		names = append(names, c.Name)
	}
	return strings.Join(names, "|")
}

func TestPodRows(t *testing.T) {
	deleted := ago(10 * time.Second)
	always := corev1.ContainerRestartPolicyAlways
	cases := []struct {
		name string
		pod  corev1.Pod
		want []any
	}{
		{"ready count and restarts", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test1"},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 2)},
			Status: corev1.PodStatus{Phase: "podPhase", ContainerStatuses: []corev1.ContainerStatus{
				{Ready: true, RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{RestartCount: 3},
			}},
		}, []any{"test1", "1/2", "podPhase", "6", "<unknown>"}},
		{"waiting reason overrides the phase", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test2"},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 2)},
			Status: corev1.PodStatus{Phase: "podPhase", ContainerStatuses: []corev1.ContainerStatus{
				{Ready: true, RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerWaitingReason"}}, RestartCount: 3},
			}},
		}, []any{"test2", "1/2", "ContainerWaitingReason", "6", "<unknown>"}},
		{"the first container's reason wins", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test3"},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 2)},
			Status: corev1.PodStatus{Phase: "podPhase", ContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerWaitingReason"}}, RestartCount: 3},
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "ContainerTerminatedReason"}}, RestartCount: 3},
			}},
		}, []any{"test3", "0/2", "ContainerWaitingReason", "6", "<unknown>"}},
		{"pod reason", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test5"},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 2)},
			Status: corev1.PodStatus{Reason: "podReason", Phase: "podPhase", ContainerStatuses: []corev1.ContainerStatus{
				{Ready: true, RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{Ready: true, RestartCount: 3},
			}},
		}, []any{"test5", "1/2", "podReason", "6", "<unknown>"}},
		{"completed and running, not ready", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test6"},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 2)},
			Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
				{Ready: true, RestartCount: 3, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
				{Ready: true, RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			}},
		}, []any{"test6", "1/2", "NotReady", "6", "<unknown>"}},
		{"completed and running, ready", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test6"},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 2)},
			Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
				{Ready: true, RestartCount: 3, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
				{Ready: true, RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			}, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		}, []any{"test6", "1/2", "Running", "6", "<unknown>"}},
		{"init container restarting: (10s ago)", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test7"},
			Spec:       corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: "podPhase",
				InitContainerStatuses: []corev1.ContainerStatus{{RestartCount: 3,
					State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(10 * time.Second)}}}},
				ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}}},
			},
		}, []any{"test7", "0/1", "Init:0/1", "3 (10s ago)", "<unknown>"}},
		{"init restarts add up while initializing", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test10"},
			Spec:       corev1.PodSpec{InitContainers: make([]corev1.Container, 2), Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: "podPhase",
				InitContainerStatuses: []corev1.ContainerStatus{
					{RestartCount: 2, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}},
						LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(2 * time.Minute)}}},
					{RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
						LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(10 * time.Second)}}},
				},
				ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}}},
			},
		}, []any{"test10", "0/1", "Init:1/2", "5 (10s ago)", "<unknown>"}},
		{"after init only the containers' restarts count", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test11"},
			Spec:       corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: "Running",
				InitContainerStatuses: []corev1.ContainerStatus{{RestartCount: 2, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(2 * time.Minute)}}}},
				ContainerStatuses: []corev1.ContainerStatus{{RestartCount: 4, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(20 * time.Second)}}}},
			},
		}, []any{"test11", "0/1", "Running", "4 (20s ago)", "<unknown>"}},
		{"latest restart of two: (5d ago)", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test14"},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 2)},
			Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
				{Ready: true, RestartCount: 6, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(5 * 24 * time.Hour)}}},
				{Ready: true, RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(20 * 24 * time.Hour)}}},
			}},
		}, []any{"test14", "2/2", "Running", "9 (5d ago)", "<unknown>"}},
		{"scheduling gated", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test15"},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 2)},
			Status: corev1.PodStatus{Phase: "podPhase", Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated}}},
		}, []any{"test15", "0/2", "SchedulingGated", "0", "<unknown>"}},
		{"failed container's reason", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test17"},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}}}}},
		}, []any{"test17", "0/1", "Error", "0", "<unknown>"}},
		{"succeeded pod being deleted stays Completed", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test18", DeletionTimestamp: &deleted},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}},
		}, []any{"test18", "0/1", "Completed", "0", "<unknown>"}},
		{"running pod being deleted is Terminating", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "test19", DeletionTimestamp: &deleted},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
		}, []any{"test19", "0/1", "Terminating", "0", "<unknown>"}},
		{"deleted on a lost node is Unknown", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "lost", DeletionTimestamp: &deleted},
			Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 1)},
			Status:     corev1.PodStatus{Phase: "Running", Reason: "NodeLost"},
		}, []any{"lost", "0/1", "Unknown", "0", "<unknown>"}},
		{"init exit code", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "initfail", CreationTimestamp: ago(3*time.Minute + 2*time.Second)},
			Spec:       corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: "Pending", InitContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}}},
		}, []any{"initfail", "0/1", "Init:ExitCode:3", "0", "3m2s"}},
		{"started sidecar counts in READY", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "sidecar", CreationTimestamp: ago(51 * time.Hour)},
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "side", RestartPolicy: &always}},
				Containers: []corev1.Container{{Name: "main"}}},
			Status: corev1.PodStatus{Phase: "Running",
				Conditions: []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "side", Ready: true, Started: ptr.To(true), RestartCount: 1,
					State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(5 * time.Second)}}}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
			},
		}, []any{"sidecar", "2/2", "Running", "1 (5s ago)", "2d3h"}},
	}
	for _, c := range cases {
		check(t, c.name, &c.pod, false, c.want...)
	}

	// -o wide: IP (the first of podIPs), NODE, NOMINATED NODE, READINESS GATES.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "test1", CreationTimestamp: ago(5 * time.Second)},
		Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2), NodeName: "test1",
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "condition1"}, {ConditionType: "condition2"}}},
		Status: corev1.PodStatus{Phase: "podPhase", PodIPs: []corev1.PodIP{{IP: "1.1.1.1"}, {IP: "2001:db8::"}},
			Conditions: []corev1.PodCondition{{Type: "condition1", Status: corev1.ConditionFalse}, {Type: "condition2", Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Ready: true, RestartCount: 3, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{RestartCount: 3}},
			NominatedNodeName: "node1"},
	}
	check(t, "wide", pod, true, "test1", "1/2", "podPhase", "6", "5s", "1.1.1.1", "test1", "node1", "1/2")
	check(t, "wide, nothing set", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, true,
		"p", "0/0", "", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>")

	// Row conditions mark finished pods, as upstream.
	tbl, err := ToTable(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "done"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, WithNow(now))
	if err != nil {
		t.Fatal(err)
	}
	if c := tbl.Rows[0].Conditions; len(c) != 1 || c[0].Type != metav1.RowCompleted || c[0].Reason != "Succeeded" {
		t.Errorf("succeeded pod's row conditions = %#v", c)
	}
}

func TestPodColumns(t *testing.T) {
	if got := columnNames(t, &corev1.Pod{}, true); got != "Name|Ready|Status|Restarts|Age|IP|Node|Nominated Node|Readiness Gates" {
		t.Errorf("pod columns: %s", got)
	}
	if got := columnNames(t, &corev1.PodList{}, false); got != "Name|Ready|Status|Restarts|Age" {
		t.Errorf("pod columns without wide: %s", got)
	}
	tbl, _ := ToTable(&corev1.Pod{}, WithNow(now))
	for _, c := range tbl.ColumnDefinitions {
		if c.Description == "" {
			t.Errorf("column %s has no description", c.Name)
		}
		wantPriority := int32(0)
		if i := strings.Index("Name|Ready|Status|Restarts|Age", c.Name); i < 0 {
			wantPriority = 1
		}
		if c.Priority != wantPriority {
			t.Errorf("column %s priority %d, want %d", c.Name, c.Priority, wantPriority)
		}
	}
	if tbl.ColumnDefinitions[0].Format != "name" || tbl.ColumnDefinitions[3].Type != "string" {
		t.Errorf("Name format %q, Restarts type %q", tbl.ColumnDefinitions[0].Format, tbl.ColumnDefinitions[3].Type)
	}
}

func TestServiceRows(t *testing.T) {
	check(t, "cluster IP", &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "service1"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.9.8.7"},
			Ports: []corev1.ServicePort{{Protocol: "tcp", Port: 2233}}},
	}, false, "service1", "ClusterIP", "10.9.8.7", "<none>", "2233/tcp", "<unknown>")
	check(t, "node port", &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "service2"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.9.8.7"},
			Ports: []corev1.ServicePort{{Protocol: "tcp", Port: 8888, NodePort: 9999}}},
	}, false, "service2", "NodePort", "10.9.8.7", "<none>", "8888:9999/tcp", "<unknown>")
	check(t, "load balancer with external IPs", &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "service3"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.9.8.7"},
			Ports: []corev1.ServicePort{{Protocol: "tcp", Port: 8888}}, ExternalIPs: []string{"80.11.12.10"}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "3.4.5.6"}}}},
	}, false, "service3", "LoadBalancer", "10.9.8.7", "3.4.5.6,80.11.12.10", "8888/tcp", "<unknown>")
	check(t, "load balancer pending", &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "lb"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.9.8.7"}},
	}, false, "lb", "LoadBalancer", "10.9.8.7", "<pending>", "<none>", "<unknown>")
	check(t, "external name", &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ext"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "my.database.example.com"},
	}, false, "ext", "ExternalName", "<none>", "my.database.example.com", "<none>", "<unknown>")
	// The clipped ingress list, and -o wide's full list and SELECTOR.
	lb := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "service4"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"1.5.6.7"},
			Ports:    []corev1.ServicePort{{Port: 80, Protocol: "TCP"}, {Port: 8090, Protocol: "UDP"}, {Port: 8000, Protocol: "TCP"}},
			Selector: map[string]string{"foo": "bar"}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
			{IP: "2.3.4.5"}, {IP: "3.4.5.6"}, {IP: "5.6.7.8", Hostname: "host5678"}}}},
	}
	check(t, "wide", lb, true, "service4", "LoadBalancer", "1.5.6.7", "2.3.4.5,3.4.5.6,5.6.7.8", "80/TCP,8090/UDP,8000/TCP", "<unknown>", "foo=bar")
	got := rows(t, lb, false)
	if got[0][3] != "2.3.4.5,3.4.5..." {
		t.Errorf("clipped external IPs = %q", got[0][3])
	}
	if got := columnNames(t, &corev1.ServiceList{}, true); got != "Name|Type|Cluster-IP|External-IP|Port(s)|Age|Selector" {
		t.Errorf("service columns: %s", got)
	}
}

func TestNodeRows(t *testing.T) {
	check(t, "ready", &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "foo1"},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}, false, "foo1", "Ready", "<none>", "<unknown>", "")
	check(t, "cordoned", &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "foo2"},
		Spec:       corev1.NodeSpec{Unschedulable: true},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}, false, "foo2", "Ready,SchedulingDisabled", "<none>", "<unknown>", "")
	check(t, "not ready", &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "foo4"},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}},
	}, false, "foo4", "NotReady", "<none>", "<unknown>", "")
	check(t, "no ready condition", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "foo7"}}, false,
		"foo7", "Unknown", "<none>", "<unknown>", "")
	check(t, "roles", &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "foo10", CreationTimestamp: ago(90 * time.Minute),
			Labels: map[string]string{"node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "node"}},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-wasmpod"}},
	}, false, "foo10", "Unknown", "control-plane,master,node", "90m", "v1.37.2-wasmpod")
	check(t, "wide", &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "foo1"},
		Status: corev1.NodeStatus{
			NodeInfo:  corev1.NodeSystemInfo{OSImage: "fake-os-image", KernelVersion: "fake-kernel-version", ContainerRuntimeVersion: "fake-container-runtime-version"},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: "1.1.1.1"}}},
	}, true, "foo1", "Unknown", "<none>", "<unknown>", "", "<none>", "1.1.1.1", "fake-os-image", "fake-kernel-version", "fake-container-runtime-version")
	check(t, "wide, no node info", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "foo2"},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "1.1.1.1"}}}},
		true, "foo2", "Unknown", "<none>", "<unknown>", "", "1.1.1.1", "<none>", "<unknown>", "<unknown>", "<unknown>")
}

func TestEventRows(t *testing.T) {
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "event1"},
		Source:         corev1.EventSource{Component: "kubelet", Host: "Node1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Name: "Deployment Name", FieldPath: "spec.containers{foo}"},
		Reason:         "Event Reason", Message: "Message Data",
		FirstTimestamp: ago(3 * 24 * time.Hour), LastTimestamp: ago(2 * 24 * time.Hour), Count: 6, Type: corev1.EventTypeNormal,
	}
	check(t, "basic", ev, false, "2d", "Normal", "Event Reason", "deployment/Deployment Name", "Message Data")
	check(t, "wide", ev, true, "2d", "Normal", "Event Reason", "deployment/Deployment Name", "spec.containers{foo}", "kubelet, Node1", "Message Data", "3d", int64(6), "event1")
	// New-API events: eventTime, series, reporting controller, no count.
	ev2 := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "event2"}, ReportingController: "kubelet", ReportingInstance: "Node1",
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p"}, Reason: "Started", Message: " trimmed \n", Type: corev1.EventTypeNormal,
		EventTime: metav1.NewMicroTime(now.Add(-3 * time.Minute)),
	}
	check(t, "event time", ev2, true, "3m", "Normal", "Started", "pod/p", "", "kubelet, Node1", "trimmed", "3m", int64(1), "event2")
	ev2.Series = &corev1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(now.Add(-20 * time.Second))}
	check(t, "series", ev2, true, "20s", "Normal", "Started", "pod/p", "", "kubelet, Node1", "trimmed", "3m", int64(4), "event2")
	if got := columnNames(t, &corev1.EventList{}, false); got != "Last Seen|Type|Reason|Object|Message" {
		t.Errorf("event columns: %s", got)
	}
}

func TestOtherCoreRows(t *testing.T) {
	created := ago(90 * time.Second)
	check(t, "namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", CreationTimestamp: created},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}, true, "ns", "Active", "90s")
	check(t, "configmap", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", CreationTimestamp: created},
		Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {1}}}, true, "cm", int64(3), "90s")
	check(t, "secret", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", CreationTimestamp: created},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"a": nil}}, true, "s", "Opaque", int64(1), "90s")
	check(t, "serviceaccount", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", CreationTimestamp: created}}, true, "default", "90s")
	check(t, "endpoints", &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "foo"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "1.2.3.4"}, {IP: "5.6.7.8"}},
			Ports:     []corev1.EndpointPort{{Port: 8001, Protocol: "TCP"}, {Port: 8002, Protocol: "TCP"}},
		}}}, true, "foo", "1.2.3.4:8001,5.6.7.8:8001,1.2.3.4:8002 + 1 more...", "<unknown>")
	check(t, "endpoints, none", &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "foo"}}, true, "foo", "<none>", "<unknown>")
	check(t, "endpoints, headless", &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "foo"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "1.2.3.4"}}}}}, true, "foo", "1.2.3.4", "<unknown>")
	check(t, "resourcequota", &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", CreationTimestamp: created},
		Status: corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{"cpu": resource.MustParse("1"), "limits.memory": resource.MustParse("1Gi"), "pods": resource.MustParse("10")},
			Used: corev1.ResourceList{"cpu": resource.MustParse("500m"), "limits.memory": resource.MustParse("0"), "pods": resource.MustParse("2")},
		}}, true, "q", "cpu: 500m/1, pods: 2/10", "limits.memory: 0/1Gi", "90s")
	fs := corev1.PersistentVolumeFilesystem
	check(t, "pvc bound", &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "test1"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "my-volume", VolumeMode: &fs, StorageClassName: ptr.To("fast")},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteOnce},
			Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("4Gi")}},
	}, true, "test1", "Bound", "my-volume", "4Gi", "RWO,ROX", "fast", "<unset>", "<unknown>", "Filesystem")
	check(t, "pvc pending", &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "test2"},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}, true, "test2", "Pending", "", "", "", "", "<unset>", "<unknown>", "<unset>")
}

func TestWorkloadRows(t *testing.T) {
	created := ago(10 * time.Second)
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "fake-container1", Image: "fake-image1"}, {Name: "fake-container2", Image: "fake-image2"}}}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"foo": "bar"}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "test1", CreationTimestamp: created},
		Spec:   appsv1.DeploymentSpec{Replicas: ptr.To[int32](5), Template: tmpl, Selector: sel},
		Status: appsv1.DeploymentStatus{Replicas: 10, UpdatedReplicas: 2, AvailableReplicas: 1, UnavailableReplicas: 4}}
	check(t, "deployment", dep, false, "test1", "0/5", int64(2), int64(1), "10s")
	check(t, "deployment wide", dep, true, "test1", "0/5", int64(2), int64(1), "10s", "fake-container1,fake-container2", "fake-image1,fake-image2", "foo=bar")
	check(t, "replicaset", &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "test1", CreationTimestamp: created},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](5), Template: tmpl, Selector: sel}, Status: appsv1.ReplicaSetStatus{Replicas: 5, ReadyReplicas: 2}},
		true, "test1", int64(5), int64(5), int64(2), "10s", "fake-container1,fake-container2", "fake-image1,fake-image2", "foo=bar")
	check(t, "daemonset", &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "test1", CreationTimestamp: created},
		Spec:   appsv1.DaemonSetSpec{Template: tmpl, Selector: sel},
		Status: appsv1.DaemonSetStatus{CurrentNumberScheduled: 2, DesiredNumberScheduled: 3, NumberReady: 1, UpdatedNumberScheduled: 2, NumberAvailable: 0}},
		true, "test1", int64(3), int64(2), int64(1), int64(2), int64(0), "<none>", "10s", "fake-container1,fake-container2", "fake-image1,fake-image2", "foo=bar")
	check(t, "statefulset", &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "test1", CreationTimestamp: created},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](5), Template: tmpl}, Status: appsv1.StatefulSetStatus{ReadyReplicas: 2}},
		true, "test1", "2/5", "10s", "fake-container1,fake-container2", "fake-image1,fake-image2")

	completions := ptr.To[int32](2)
	check(t, "job running", &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "job1", CreationTimestamp: created},
		Spec:   batchv1.JobSpec{Completions: completions, Template: tmpl, Selector: sel},
		Status: batchv1.JobStatus{Succeeded: 1, StartTime: &metav1.Time{Time: now.Add(-5 * time.Second)}}},
		true, "job1", "Running", "1/2", "5s", "10s", "fake-container1,fake-container2", "fake-image1,fake-image2", "foo=bar")
	check(t, "job complete", &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "job2", CreationTimestamp: created},
		Spec: batchv1.JobSpec{Completions: nil, Parallelism: ptr.To[int32](2)},
		Status: batchv1.JobStatus{Succeeded: 1, StartTime: &metav1.Time{Time: now.Add(-10 * time.Minute)}, CompletionTime: &metav1.Time{Time: now.Add(-7 * time.Minute)},
			Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
		false, "job2", "Complete", "1/1 of 2", "3m", "10s")
	check(t, "job not started", &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "job3", CreationTimestamp: created},
		Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}}},
		false, "job3", "Suspended", "0/1", "", "10s")
	check(t, "cronjob", &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "cj1", CreationTimestamp: ago(time.Hour)},
		Spec:   batchv1.CronJobSpec{Schedule: "0/5 * * * ?", Suspend: ptr.To(false)},
		Status: batchv1.CronJobStatus{LastScheduleTime: &metav1.Time{Time: now.Add(-5 * time.Minute)}}},
		false, "cj1", "0/5 * * * ?", "<none>", "False", int64(0), "5m", "60m")
	check(t, "cronjob never run", &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "cj2"},
		Spec: batchv1.CronJobSpec{Schedule: "@daily", TimeZone: ptr.To("Europe/Paris")}},
		false, "cj2", "@daily", "Europe/Paris", "<unset>", int64(0), "<none>", "<unknown>")
	check(t, "lease", &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l", CreationTimestamp: created},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1")}}, true, "l", "node-1", "10s")
	check(t, "endpointslice", &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "abcslice.123", CreationTimestamp: created},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](80)}, {Name: ptr.To("https"), Port: ptr.To[int32](443)}, {Name: ptr.To("named")}, {}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.2.3", "2001:db8::1234:5678"}},
			{Addresses: []string{"10.2.3.4"}}, {Addresses: []string{"10.3.4.5"}}}},
		true, "abcslice.123", "IPv4", "80,443,named + 1 more...", "10.1.2.3,2001:db8::1234:5678,10.2.3.4 + 1 more...", "10s")
	check(t, "endpointslice, empty", &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "e"}, AddressType: discoveryv1.AddressTypeIPv4},
		true, "e", "IPv4", "<unset>", "<unset>", "<unknown>")
}

// Kinds without a printer, and unknown kinds, get kube-apiserver's default
// table: Name and Created At (RFC 3339).
func TestDefaultTable(t *testing.T) {
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)))}}
	check(t, "limitrange", lr, true, "limits", "2026-01-02T02:04:05Z")
	if got := columnNames(t, &corev1.LimitRangeList{}, true); got != "Name|Created At" {
		t.Errorf("default columns: %s", got)
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("example.com/v1")
	u.SetKind("Widget")
	u.SetName("w")
	u.SetCreationTimestamp(ago(time.Minute))
	check(t, "custom kind", u, true, "w", now.Add(-time.Minute).Format(time.RFC3339))
}

// Unstructured objects of a kind with a printer print with its columns
// (the CLI prints what it decoded as unstructured).
func TestUnstructuredTyped(t *testing.T) {
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: ago(2 * time.Second)},
		Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 1)}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pod)
	if err != nil {
		t.Fatal(err)
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "PodList", "metadata": map[string]any{"resourceVersion": "42"}}}
	list.Items = []unstructured.Unstructured{{Object: m}}
	tbl, err := ToTable(list, WithNow(now), WithWide(false))
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.ColumnDefinitions) != 5 || tbl.ResourceVersion != "42" || !reflect.DeepEqual(tbl.Rows[0].Cells, []any{"p", "0/1", "Pending", "0", "2s"}) {
		t.Errorf("unstructured pod list: %d columns, rv %q, cells %#v", len(tbl.ColumnDefinitions), tbl.ResourceVersion, tbl.Rows[0].Cells)
	}
	empty := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "PodList"}}
	if got := columnNames(t, empty, false); got != "Name|Ready|Status|Restarts|Age" {
		t.Errorf("empty unstructured pod list columns: %s", got)
	}
}

func TestListMetaAndHeaders(t *testing.T) {
	list := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "7", Continue: "c"},
		Items: []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "b"}}}}
	tbl, err := ToTable(list, WithNow(now), WithNoHeaders(true))
	if err != nil {
		t.Fatal(err)
	}
	if tbl.ResourceVersion != "7" || tbl.Continue != "c" || len(tbl.ColumnDefinitions) != 0 || len(tbl.Rows) != 2 {
		t.Errorf("table of a list: rv %q continue %q, %d columns, %d rows", tbl.ResourceVersion, tbl.Continue, len(tbl.ColumnDefinitions), len(tbl.Rows))
	}
	if tbl.Rows[1].Object.Object.(*corev1.Pod).Name != "b" {
		t.Errorf("row object is not the item")
	}
	one, err := ToTable(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "9"}}, WithNow(now))
	if err != nil || one.ResourceVersion != "9" || one.Kind != "Table" || one.APIVersion != "meta.k8s.io/v1" {
		t.Errorf("table of an object: %v %+v", err, one.TypeMeta)
	}
	empty, err := ToTable(&corev1.PodList{}, WithNow(now))
	if err != nil || empty.Rows == nil || len(empty.ColumnDefinitions) != 9 {
		t.Errorf("empty list: %v, rows %v, %d columns", err, empty.Rows, len(empty.ColumnDefinitions))
	}
	if _, err := ToTable(nil); err == nil {
		t.Errorf("ToTable(nil) gave no error")
	}
	if _, err := ToTable((*corev1.Pod)(nil)); err == nil {
		t.Errorf("ToTable of a nil pod gave no error")
	}
}
