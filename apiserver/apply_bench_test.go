package apiserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkPodUpdateManagedFields: the cost of keeping managedFields on a
// pod write, as a ratio to the same write with the field manager skipped,
// measured in the same run (x-without-fieldmanager; 1.0 = free; ns/op
// counts both writes). "status"
// is the node agent's write (a status update through /status), "labels"
// an update of the main resource, "apply" a server-side apply changing a
// label (its baseline is the labels update without a field manager).
func BenchmarkPodUpdateManagedFields(b *testing.B) {
	setup := func(b *testing.B) (*Server, *Resource, *corev1.Pod) {
		e := newEnv(b, HandlerOptions{})
		r, _ := e.s.Resource("", "pods")
		p := httpPod("bench")
		p.Labels["tier"] = "web"
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "side.wasm",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}}, Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}})
		obj, err := e.s.Create(withFieldManagerName(context.Background(), "creator"), r, "default", p)
		if err != nil {
			b.Fatal(err)
		}
		p = obj.(*corev1.Pod)
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1",
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "main", Ready: true}, {Name: "side", Ready: true}}}
		obj, err = e.s.Update(withFieldManagerName(context.Background(), "kubelet"), r, "default", p, "status")
		if err != nil {
			b.Fatal(err)
		}
		return e.s, r, obj.(*corev1.Pod)
	}
	write := func(b *testing.B, s *Server, r *Resource, p *corev1.Pod, ctx context.Context, kind string, i int) {
		var err error
		switch kind {
		case "status":
			p.Status.Message = fmt.Sprint(i)
			p.ResourceVersion = ""
			_, err = s.Update(ctx, r, "default", p, "status")
		case "labels":
			p.Labels["n"] = fmt.Sprint(i)
			p.ResourceVersion = ""
			_, err = s.Update(ctx, r, "default", p, "")
		case "apply":
			_, _, err = s.Apply(ctx, r, "default", "bench", []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bench","labels":{"n":"%d"}}}`, i)),
				metav1.PatchOptions{FieldManager: "applier"}, "")
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	// Each iteration makes one write with the field manager on one server
	// and the same write without it (the write path's skip of an apply's
	// already computed managedFields) on another, timing both, so that
	// the ratio does not drift with the machine's load.
	for _, kind := range []string{"status", "labels", "apply"} {
		b.Run(kind, func(b *testing.B) {
			s, r, p := setup(b)
			bs, br, bp := setup(b)
			ctx := withFieldManagerName(context.Background(), "bench")
			bctx, bkind := withApplied(ctx), kind
			if kind == "apply" {
				bkind = "labels"
			}
			var on, off time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				write(b, s, r, p, ctx, kind, i)
				t1 := time.Now()
				write(b, bs, br, bp, bctx, bkind, i)
				on, off = on+t1.Sub(t0), off+time.Since(t1)
			}
			b.ReportMetric(float64(on.Nanoseconds())/float64(b.N), "ns/write")
			b.ReportMetric(float64(off.Nanoseconds())/float64(b.N), "ns/write-without")
			b.ReportMetric(float64(on)/float64(off), "x-without-fieldmanager")
		})
	}
}
