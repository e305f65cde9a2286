package apiserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// BenchmarkManageFields: the field manager's cost of the writes a pod's
// life makes (issue 13's per-completion CPU): its create, a kubelet status
// write and an Event's create.
func BenchmarkManageFields(b *testing.B) {
	e := newEnv(b, HandlerOptions{})
	s := e.s
	ctx := withFieldManagerName(context.Background(), "bench")
	pods, _ := s.Resource("", "pods")
	events, _ := s.Resource("", "events")
	p := httpPod("p")
	created, err := s.Create(ctx, pods, "default", p)
	if err != nil {
		b.Fatal(err)
	}
	live := created.(*corev1.Pod)
	now := metav1.Now()
	st := live.DeepCopy()
	st.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", HostIP: "127.0.0.1", StartTime: &now,
		PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}}, HostIPs: []corev1.HostIP{{IP: "127.0.0.1"}}, QOSClass: corev1.PodQOSBestEffort,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Image: "app.wasm", ImageID: "sha256:abc", ContainerID: "wasm://x", Ready: true, Started: ptrTo(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "p.1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "p", UID: live.UID, APIVersion: "v1", ResourceVersion: "1", FieldPath: "spec.containers{main}"},
		Reason:         "Started", Message: "Started container main", Source: corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1, Type: corev1.EventTypeNormal, ReportingController: "kubelet", ReportingInstance: "node-1"}
	for _, c := range []struct {
		name        string
		r           *Resource
		sub         string
		live, write runtime.Object
	}{
		{"pod-create", pods, "", nil, p},
		{"pod-status", pods, "status", live, st},
		{"event-create", events, "", nil, ev},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				var l runtime.Object
				if c.live != nil {
					l = c.live.DeepCopyObject()
				}
				if _, err := s.manageFields(ctx, c.r, c.sub, l, c.write.DeepCopyObject()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	_ = fmt.Sprint
	_ = time.Now
}

func ptrTo[T any](v T) *T { return &v }
