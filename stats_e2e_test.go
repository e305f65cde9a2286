package wasmpod_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestStatsSummaryThroughNodeProxy reads the kubelet's Summary API as
// metrics-server and `kubectl get --raw` do, through the API server's node
// proxy (client-go's RESTClient, GET /api/v1/nodes/node-1/proxy/stats/summary):
// a spinning pod limited to 200m uses about its limit (usageNanoCores) and
// its cumulative usage grows between two reads, an idle pod uses next to
// nothing, every container reports its guest memory as its working set,
// and the node reports its guests' totals. Unknown proxy paths are the
// kubelet's 404, an unknown node the API's NotFound.
func TestStatsSummaryThroughNodeProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for seconds")
	}
	ctx := context.Background()
	store := moduleStore(t, map[string][]byte{"spin:v1": exampleModule(t, "spin"), "graceful:v1": exampleModule(t, "graceful")})
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), Modules: store,
		EvictionHard: map[string]string{"nodefs.available": "1Mi"},
		NodeCapacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cs := c.Client()
	zero := int64(0)
	for name, image := range map[string]string{"busy": "wasmpod.local/spin:v1", "idle": "wasmpod.local/graceful:v1"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{Name: "main", Image: image, Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}}},
		}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"busy", "idle"} {
		waitFor(t, name+" Running", 90*time.Second, func() bool {
			p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning
		})
	}
	time.Sleep(3 * time.Second)
	summary := func() *statsv1alpha1.Summary {
		t.Helper()
		b, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/node-1/proxy/stats/summary").DoRaw(ctx)
		if err != nil {
			t.Fatalf("GET stats/summary: %v", err)
		}
		var s statsv1alpha1.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("decoding the summary: %v\n%s", err, b)
		}
		return &s
	}
	container := func(s *statsv1alpha1.Summary, pod string) (*statsv1alpha1.PodStats, *statsv1alpha1.ContainerStats) {
		t.Helper()
		for i := range s.Pods {
			p := &s.Pods[i]
			if p.PodRef.Name == pod && p.PodRef.Namespace == "default" {
				for j := range p.Containers {
					if p.Containers[j].Name == "main" {
						return p, &p.Containers[j]
					}
				}
			}
		}
		t.Fatalf("no container main of pod %s in the summary: %+v", pod, s.Pods)
		return nil, nil
	}
	cores := func(st *statsv1alpha1.CPUStats) float64 {
		t.Helper()
		if st == nil || st.UsageNanoCores == nil || st.UsageCoreNanoSeconds == nil {
			t.Fatalf("cpu stats without usage: %+v", st)
		}
		return float64(*st.UsageNanoCores) / 1e9
	}
	s1 := summary()
	if s1.Node.NodeName != "node-1" || s1.Node.CPU == nil || s1.Node.Memory == nil || s1.Node.Memory.WorkingSetBytes == nil {
		t.Fatalf("node stats: %+v", s1.Node)
	}
	busyPod, busy := container(s1, "busy")
	_, idle := container(s1, "idle")
	b, i, n := cores(busy.CPU), cores(idle.CPU), cores(s1.Node.CPU)
	t.Logf("usage: busy %.3f cores (limit 0.2), idle %.4f, node %.3f", b, i, n)
	if b < 0.1 || b > 0.24 {
		t.Errorf("the spinning container limited to 200m used %.3f cores", b)
	}
	if i > 0.02 {
		t.Errorf("the idle container used %.4f cores", i)
	}
	if nu, bu, iu := *s1.Node.CPU.UsageCoreNanoSeconds, *busy.CPU.UsageCoreNanoSeconds, *idle.CPU.UsageCoreNanoSeconds; nu < bu+iu {
		t.Errorf("the node's cumulative usage %dns is below its containers' %dns + %dns (its rate: %.3f cores)", nu, bu, iu, n)
	}
	if busyPod.PodRef.UID == "" || busyPod.CPU == nil || *busyPod.CPU.UsageCoreNanoSeconds < *busy.CPU.UsageCoreNanoSeconds {
		t.Errorf("pod cpu %+v, container's %+v", busyPod.CPU, busy.CPU)
	}
	for _, c := range []*statsv1alpha1.ContainerStats{busy, idle} {
		if c.Memory == nil || c.Memory.WorkingSetBytes == nil || *c.Memory.WorkingSetBytes == 0 {
			t.Errorf("container memory %+v: want the guest's memory as its working set", c.Memory)
		} else if c.Memory.AvailableBytes == nil || *c.Memory.AvailableBytes+*c.Memory.WorkingSetBytes != 64<<20 {
			t.Errorf("container memory %+v: want available = the 64Mi limit - working set", c.Memory)
		}
		if c.StartTime.IsZero() {
			t.Errorf("container %s has no start time", c.Name)
		}
	}
	if busyPod.Memory == nil || *busyPod.Memory.WorkingSetBytes < *busy.Memory.WorkingSetBytes {
		t.Errorf("pod memory %+v below its container's %+v", busyPod.Memory, busy.Memory)
	}
	time.Sleep(time.Second)
	_, busy2 := container(summary(), "busy")
	if d := time.Duration(*busy2.CPU.UsageCoreNanoSeconds - *busy.CPU.UsageCoreNanoSeconds); d < 50*time.Millisecond || d > 400*time.Millisecond {
		t.Errorf("the busy container's cumulative usage grew by %v in a second (limit 200m)", d)
	}

	// /metrics/resource, the Prometheus text metrics-server scrapes: the
	// same figures, each with its time.
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/node-1/proxy/metrics/resource").DoRaw(ctx)
	if err != nil {
		t.Fatalf("GET metrics/resource: %v", err)
	}
	for _, re := range []string{
		`(?m)^# TYPE container_cpu_usage_seconds_total counter$`,
		`(?m)^container_cpu_usage_seconds_total\{container="main",namespace="default",pod="busy"\} [0-9.e+-]+ [0-9]{13}$`,
		`(?m)^container_memory_working_set_bytes\{container="main",namespace="default",pod="idle"\} [1-9][0-9.e+]* [0-9]{13}$`,
		`(?m)^node_cpu_usage_seconds_total [0-9.e+-]+ [0-9]{13}$`,
		`(?m)^node_memory_working_set_bytes [1-9][0-9.e+]* [0-9]{13}$`,
		`(?m)^pod_cpu_usage_seconds_total\{namespace="default",pod="busy"\} `,
		`(?m)^resource_scrape_error 0$`,
	} {
		if !regexp.MustCompile(re).Match(raw) {
			t.Errorf("metrics/resource lacks %s:\n%s", re, raw)
		}
	}

	// Other paths: the kubelet's 404; a node that does not exist.
	err = cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/node-1/proxy/nope").Do(ctx).Error()
	var se *apierrors.StatusError
	if !apierrors.IsNotFound(err) {
		t.Errorf("GET proxy/nope: %v, want a 404", err)
	}
	err = cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/node-9/proxy/stats/summary").Do(ctx).Error()
	if !apierrors.IsNotFound(err) || !errors.As(err, &se) || se.ErrStatus.Message != `nodes "node-9" not found` {
		t.Errorf("GET node-9's summary: %v, want nodes \"node-9\" not found", err)
	}
	var code int
	cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/node-1/proxy/healthz").Do(ctx).StatusCode(&code)
	if code != http.StatusOK {
		t.Errorf("GET proxy/healthz: %d", code)
	}
}
