package wasmpod_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile12ExecCountsAgainstContainerMemory: an exec runs in the
// container (upstream: in its cgroup), so what it allocates counts against
// the container's limits.memory together with the container's own
// memory. A container limited to 64 MiB that holds 40 MiB must not get
// another 40 MiB through kubectl exec (nor through exec probes or hooks,
// which run the same Worker.Exec): upstream the exec is OOM-killed.
func TestHostile12ExecCountsAgainstContainerMemory(t *testing.T) {
	e := newH12Env(t)
	startH12Pod(t, e, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "mem"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: e.guestImage,
			Command: []string{"h12"}, Args: []string{"memgrow:40", "hold"},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}})
	waitFor(t, "the container holds 40 MiB", 30*time.Second, func() bool {
		return strings.Contains(podLogs(t, e.c, "mem", "main"), "memgrow ok 40")
	})
	// Four execs at once, 40 MiB each: 200 MiB in a 64 MiB container.
	type res struct {
		out, errOut string
		code        int
	}
	ch := make(chan res, 4)
	for i := 0; i < 4; i++ {
		go func() {
			out, errOut, code := e.run(t, "", "exec", "mem", "--", "h12", "memgrow:40", "print:done")
			ch <- res{out, errOut, code}
		}()
	}
	ok := 0
	for i := 0; i < 4; i++ {
		r := <-ch
		if r.code == 0 && strings.Contains(r.out, "memgrow ok 40") {
			ok++
		}
	}
	if ok > 0 {
		t.Errorf("%d of 4 execs each allocated 40 MiB in a container limited to 64 MiB that already holds 40 MiB (the exec sandbox gets a limit of its own instead of counting against the container's)", ok)
	}
}
