package apiserver

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/memory"
)

func rl(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func qtyIs(l corev1.ResourceList, name, want string) bool {
	q, ok := l[corev1.ResourceName(name)]
	return ok && q.Cmp(resource.MustParse(want)) == 0
}

// TestLimitRange: LimitRange objects are served (client-go, HTTP and in
// process), defaulted and validated as upstream; pods get the Container
// defaults on create and are refused (403) with LimitRanger's messages
// when they break min, max or maxLimitRequestRatio.
func TestLimitRange(t *testing.T) {
	forModes(t, func(t *testing.T, e *env, cs *kubernetes.Clientset) {
		ctx := context.Background()
		lrs := cs.CoreV1().LimitRanges("default")
		lr, err := lrs.Create(ctx, &corev1.LimitRange{
			ObjectMeta: metav1.ObjectMeta{Name: "limits"},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
				Type:                 corev1.LimitTypeContainer,
				Default:              rl("cpu", "500m", "memory", "128Mi"),
				DefaultRequest:       rl("cpu", "100m"),
				Max:                  rl("memory", "256Mi"),
				Min:                  rl("cpu", "50m"),
				MaxLimitRequestRatio: rl("cpu", "10"),
			}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Upstream's LimitRangeItem defaults: a missing default request is
		// the default limit.
		if it := lr.Spec.Limits[0]; !qtyIs(it.DefaultRequest, "memory", "128Mi") || !qtyIs(it.DefaultRequest, "cpu", "100m") {
			t.Fatalf("defaultRequest %v", it.DefaultRequest)
		}
		if got, err := lrs.List(ctx, metav1.ListOptions{}); err != nil || len(got.Items) != 1 {
			t.Fatalf("list: %v %v", got, err)
		}

		pods := cs.CoreV1().Pods("default")
		p, err := pods.Create(ctx, httpPod("defaulted"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := p.Spec.Containers[0].Resources
		if !qtyIs(r.Limits, "cpu", "500m") || !qtyIs(r.Limits, "memory", "128Mi") || !qtyIs(r.Requests, "cpu", "100m") || !qtyIs(r.Requests, "memory", "128Mi") {
			t.Fatalf("resources after LimitRanger: %+v", r)
		}
		if a := p.Annotations["kubernetes.io/limit-ranger"]; a != "LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main" {
			t.Fatalf("annotation %q", a)
		}
		// Values the pod sets are kept.
		own := httpPod("own")
		own.Spec.Containers[0].Resources.Limits = rl("memory", "200Mi")
		if p, err = pods.Create(ctx, own, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if r := p.Spec.Containers[0].Resources; !qtyIs(r.Limits, "memory", "200Mi") || !qtyIs(r.Requests, "memory", "200Mi") {
			t.Fatalf("own values: %+v", r)
		}

		for _, tc := range []struct {
			name string
			res  corev1.ResourceRequirements
			init bool
			want string
		}{
			{"too-big", corev1.ResourceRequirements{Limits: rl("memory", "512Mi")}, false,
				`pods "too-big" is forbidden: maximum memory usage per Container is 256Mi, but limit is 512Mi`},
			{"init-too-big", corev1.ResourceRequirements{Limits: rl("memory", "1Gi")}, true,
				`pods "init-too-big" is forbidden: maximum memory usage per Container is 256Mi, but limit is 1Gi`},
			{"too-small", corev1.ResourceRequirements{Requests: rl("cpu", "10m")}, false,
				`pods "too-small" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, cpu max limit to request ratio per Container is 10, but provided ratio is 50.000000]`},
		} {
			p := httpPod(tc.name)
			if tc.init {
				p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "i.wasm", Resources: tc.res}}
			} else {
				p.Spec.Containers[0].Resources = tc.res
			}
			_, err := pods.Create(ctx, p, metav1.CreateOptions{})
			if !apierrors.IsForbidden(err) || err.Error() != tc.want {
				t.Errorf("%s: %v, want 403 %q", tc.name, err, tc.want)
			}
		}
		// Another namespace has no LimitRange.
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "free"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		free := httpPod("free")
		free.Namespace = "free"
		free.Spec.Containers[0].Resources.Limits = rl("memory", "1Gi")
		if p, err := cs.CoreV1().Pods("free").Create(ctx, free, metav1.CreateOptions{}); err != nil || p.Annotations["kubernetes.io/limit-ranger"] != "" {
			t.Fatalf("pod in a namespace without LimitRange: %v %v", err, p.Annotations)
		}

		// An inconsistent LimitRange is Invalid, naming the field.
		_, err = lrs.Create(ctx, &corev1.LimitRange{
			ObjectMeta: metav1.ObjectMeta{Name: "bad"},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
				Type: corev1.LimitTypeContainer, Min: rl("memory", "1Gi"), Max: rl("memory", "1Mi"),
			}}},
		}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.limits[0].min[memory]") || !strings.Contains(err.Error(), "min value 1Gi is greater than max value 1Mi") {
			t.Fatalf("min > max: %v", err)
		}
		_, err = lrs.Create(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "bad2"},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: "Node"}}}}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.limits[0].type") {
			t.Fatalf("type Node: %v", err)
		}
	})
}

// revisionCountingStore counts the store-revision reads a consistent read
// makes (a quorum read on etcd).
type revisionCountingStore struct {
	store.Store
	revisions atomic.Int64
}

func (c *revisionCountingStore) Revision(ctx context.Context) (int64, error) {
	c.revisions.Add(1)
	return c.Store.Revision(ctx)
}

// TestLimitRangeFromCache: LimitRanger finds a namespace's LimitRanges in
// the watch cache, as upstream's reads its informer: pod creates in a
// namespace without any make one live lookup (a consistent read) per
// limitRangeLiveTTL, not one each. A LimitRange created just before a pod
// applies to it though the live lookup's empty answer is still fresh, one
// deleted just before does not, and one written to the store by another
// server (past this one's writes) is found once the cache has it.
func TestLimitRangeFromCache(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &revisionCountingStore{Store: memory.New()}
	s, err := New(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(s.Handler(HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	pods, lrs := cs.CoreV1().Pods("default"), cs.CoreV1().LimitRanges("default")
	defaulted := func(name string) bool {
		t.Helper()
		p, err := pods.Create(ctx, httpPod(name), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return qtyIs(p.Spec.Containers[0].Resources.Limits, "cpu", "500m")
	}
	before := st.revisions.Load()
	for i := range 20 {
		if defaulted("plain-" + strconv.Itoa(i)) {
			t.Fatal("a pod got defaults with no LimitRange")
		}
	}
	if n := st.revisions.Load() - before; n > 2 {
		t.Errorf("20 pod creates without LimitRanges read the store's revision %d times, want at most 2 (one live lookup)", n)
	}
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Default: rl("cpu", "500m")}}}}
	for i := range 20 {
		if _, err := lrs.Create(ctx, lr, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if !defaulted("after-create-" + strconv.Itoa(i)) {
			t.Fatalf("round %d: a pod created right after a LimitRange did not get its defaults", i)
		}
		if err := lrs.Delete(ctx, "limits", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if defaulted("after-delete-" + strconv.Itoa(i)) {
			t.Fatalf("round %d: a pod created right after its LimitRange's deletion got its defaults", i)
		}
	}
	// Another server's write: straight into the store.
	r, _ := s.Resource("", "limitranges")
	b, err := s.encode(r, &corev1.LimitRange{TypeMeta: metav1.TypeMeta{Kind: "LimitRange", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{
		Name: "remote", Namespace: "default", UID: "u-remote", CreationTimestamp: metav1.Now()}, Spec: lr.Spec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(ctx, r.key("default", "remote"), b); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; !defaulted("remote-" + strconv.Itoa(i)); i++ {
		if time.Now().After(deadline) {
			t.Fatal("a LimitRange written by another server was not applied after 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
