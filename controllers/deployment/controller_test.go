package deployment

// Tests against a real in-process API server through client-go, with a
// fake clock. The ReplicaSets' status is driven by the test (a stand-in
// for the ReplicaSet controller and its pods: every ReplicaSet reports
// spec.replicas pods, ready and available, unless the test holds them
// back), so each step of a rollout is the Deployment controller's alone.
// Upstream behaviours (test/e2e/apps/deployment.go) named per test; the
// e2e with the ReplicaSet controller, real pods and kubectl is
// ../../deployment_e2e_test.go.

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

type env struct {
	cs  kubernetes.Interface
	clk *clocktesting.FakeClock

	mu sync.Mutex
	// unavailable[image]: pods of ReplicaSets with this image never
	// become available (a bad image).
	unavailable map[string]bool
	// maxTotal is the most pods (sum of ReplicaSet status.replicas) ever
	// seen at once per Deployment name prefix.
	maxTotal map[string]int32
	// minAvail is the fewest available pods seen at once after the first
	// complete rollout, per Deployment.
	minAvail map[string]int32
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clk: clocktesting.NewFakeClock(time.Now()), unavailable: map[string]bool{}, maxTotal: map[string]int32{}, minAvail: map[string]int32{}}
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(s.Handler(apiserver.HandlerOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	e.cs = cs
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		New(cs, e.clk).Run(ctx)
	}()
	go func() {
		defer wg.Done()
		e.fakeReplicaSets(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		st.Close()
	})
	return e
}

// fakeReplicaSets plays the ReplicaSet controller: each ReplicaSet's
// status follows its spec (one step of at most 1 pod per round, so
// rollouts take several steps), available unless its image is marked
// unavailable.
func (e *env) fakeReplicaSets(ctx context.Context) {
	for ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
		l, err := e.cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		total := map[string]int32{}
		avail := map[string]int32{}
		for i := range l.Items {
			rs := &l.Items[i]
			want := *rs.Spec.Replicas
			st := rs.Status
			switch {
			case st.Replicas < want:
				st.Replicas++
			case st.Replicas > want:
				st.Replicas--
			}
			e.mu.Lock()
			bad := e.unavailable[rs.Spec.Template.Spec.Containers[0].Image]
			e.mu.Unlock()
			st.FullyLabeledReplicas = st.Replicas
			if bad {
				st.ReadyReplicas, st.AvailableReplicas = 0, 0
			} else {
				// A pod becomes available one round after it exists.
				st.ReadyReplicas = min(rs.Status.Replicas, st.Replicas)
				st.AvailableReplicas = st.ReadyReplicas
			}
			st.ObservedGeneration = rs.Generation
			if ref := metav1.GetControllerOf(rs); ref != nil {
				total[ref.Name] += st.Replicas
				avail[ref.Name] += st.AvailableReplicas
			}
			if st.Replicas != rs.Status.Replicas || st.AvailableReplicas != rs.Status.AvailableReplicas ||
				st.ObservedGeneration != rs.Status.ObservedGeneration || st.ReadyReplicas != rs.Status.ReadyReplicas {
				rs.Status = st
				e.cs.AppsV1().ReplicaSets("default").UpdateStatus(ctx, rs, metav1.UpdateOptions{})
			}
		}
		e.mu.Lock()
		for k, v := range total {
			e.maxTotal[k] = max(e.maxTotal[k], v)
		}
		for k, v := range avail {
			if m, ok := e.minAvail[k]; ok {
				e.minAvail[k] = min(m, v)
			}
		}
		e.mu.Unlock()
	}
}

func int32p(n int32) *int32 { return &n }

func newDeployment(name string, n int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: int32p(n),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
		},
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) create(t *testing.T, d *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	d, err := e.cs.AppsV1().Deployments("default").Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) get(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d, err := e.cs.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// update changes the Deployment's spec, retrying on conflicts.
func (e *env) update(t *testing.T, name string, fn func(*appsv1.Deployment)) {
	t.Helper()
	for {
		d := e.get(t, name)
		fn(d)
		_, err := e.cs.AppsV1().Deployments("default").Update(context.Background(), d, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
}

// complete: what `kubectl rollout status` waits for.
func complete(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == *d.Spec.Replicas &&
		d.Status.Replicas == *d.Spec.Replicas && d.Status.AvailableReplicas == *d.Spec.Replicas
}

func (e *env) waitComplete(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	waitFor(t, name+" rolled out", func() bool {
		d = e.get(t, name)
		c := getCondition(d.Status, appsv1.DeploymentProgressing)
		return complete(d) && c != nil && c.Reason == NewRSAvailableReason
	})
	return d
}

func (e *env) replicaSets(t *testing.T, owner string) []appsv1.ReplicaSet {
	t.Helper()
	l, err := e.cs.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []appsv1.ReplicaSet
	for _, rs := range l.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.Name == owner {
			out = append(out, rs)
		}
	}
	sort.Slice(out, func(i, j int) bool { return Revision(&out[i]) < Revision(&out[j]) })
	return out
}

func (e *env) events(t *testing.T, reason string) []string {
	t.Helper()
	l, err := e.cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		if ev.Reason == reason {
			out = append(out, ev.Message)
		}
	}
	sort.Strings(out)
	return out
}

func sizes(rss []appsv1.ReplicaSet) string {
	var b strings.Builder
	for _, rs := range rss {
		fmt.Fprintf(&b, "%s=%d ", rs.Annotations[RevisionAnnotation], *rs.Spec.Replicas)
	}
	return strings.TrimSpace(b.String())
}

// TestRollingUpdate: "RollingUpdateDeployment should delete old pods and
// create new ones": the first ReplicaSet <name>-<ComputeHash> with the
// hash label in its labels, selector and template, revision 1 and the
// replicas annotations; the conditions and events; a template change
// rolls to revision 2 within maxSurge/maxUnavailable and scales the old
// ReplicaSet to 0.
func TestRollingUpdate(t *testing.T) {
	e := setup(t)
	d := newDeployment("web", 4, "busybox:1")
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptrIS(intstr.FromInt32(1)), MaxUnavailable: ptrIS(intstr.FromInt32(1))}
	d = e.create(t, d)
	d = e.waitComplete(t, "web")
	hash := ComputeHash(&d.Spec.Template, nil)
	rss := e.replicaSets(t, "web")
	if len(rss) != 1 {
		t.Fatalf("replica sets: %v", sizes(rss))
	}
	rs := rss[0]
	if rs.Name != "web-"+hash || rs.Labels[DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Selector.MatchLabels[DefaultDeploymentUniqueLabelKey] != hash || rs.Spec.Template.Labels[DefaultDeploymentUniqueLabelKey] != hash {
		t.Fatalf("new replica set %s labels %v selector %v", rs.Name, rs.Labels, rs.Spec.Selector)
	}
	if rs.Annotations[RevisionAnnotation] != "1" || rs.Annotations[DesiredReplicasAnnotation] != "4" || rs.Annotations[MaxReplicasAnnotation] != "5" {
		t.Fatalf("annotations %v", rs.Annotations)
	}
	if d.Annotations[RevisionAnnotation] != "1" {
		t.Fatalf("deployment annotations %v", d.Annotations)
	}
	if a := getCondition(d.Status, appsv1.DeploymentAvailable); a == nil || a.Status != corev1.ConditionTrue || a.Reason != MinimumReplicasAvailable {
		t.Fatalf("Available condition %+v", a)
	}
	if p := getCondition(d.Status, appsv1.DeploymentProgressing); p.Message != fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs.Name) {
		t.Fatalf("Progressing condition %+v", p)
	}
	if d.Status.ReadyReplicas != 4 || d.Status.UnavailableReplicas != 0 || d.Status.ObservedGeneration != d.Generation {
		t.Fatalf("status %+v", d.Status)
	}
	if ev := e.events(t, "ScalingReplicaSet"); len(ev) != 1 || ev[0] != "Scaled up replica set web-"+hash+" from 0 to 4" {
		t.Fatalf("events %q", ev)
	}
	e.mu.Lock()
	e.minAvail["web"] = 4
	e.mu.Unlock()

	e.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "busybox:2" })
	d = e.waitComplete(t, "web")
	rss = e.replicaSets(t, "web")
	if got := sizes(rss); got != "1=0 2=4" {
		t.Fatalf("replica sets after the update: %s", got)
	}
	if d.Annotations[RevisionAnnotation] != "2" {
		t.Fatalf("deployment revision %v", d.Annotations)
	}
	e.mu.Lock()
	maxTotal, minAvail := e.maxTotal["web"], e.minAvail["web"]
	e.mu.Unlock()
	if maxTotal > 5 || minAvail < 3 {
		t.Fatalf("rolling update went past maxSurge/maxUnavailable: at most %d pods (want <= 5), at least %d available (want >= 3)", maxTotal, minAvail)
	}
	ev := strings.Join(e.events(t, "ScalingReplicaSet"), "\n")
	for _, want := range []string{"Scaled up replica set " + rss[1].Name + " from 0 to 1", "Scaled down replica set web-" + hash + " from 4 to 3"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events lack %q:\n%s", want, ev)
		}
	}
}

func ptrIS(v intstr.IntOrString) *intstr.IntOrString { return &v }

// TestRecreate: "RecreateDeployment should delete old pods and create
// new ones": the new ReplicaSet is created only once the old one has
// no pods left.
func TestRecreate(t *testing.T) {
	e := setup(t)
	d := newDeployment("rec", 3, "busybox:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	e.create(t, d)
	e.waitComplete(t, "rec")
	// Watch the ReplicaSets while the rollout runs: a new one never
	// coexists with an old one that still has pods.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := e.cs.AppsV1().ReplicaSets("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.update(t, "rec", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "busybox:2" })
	done := make(chan string)
	go func() {
		state := map[string]*appsv1.ReplicaSet{}
		for ev := range w.ResultChan() {
			rs, ok := ev.Object.(*appsv1.ReplicaSet)
			if !ok {
				continue
			}
			state[rs.Name] = rs
			var oldPods int32
			newExists := false
			for _, r := range state {
				if r.Spec.Template.Spec.Containers[0].Image == "busybox:1" {
					oldPods += r.Status.Replicas
				} else {
					newExists = true
				}
			}
			if newExists && oldPods > 0 {
				done <- fmt.Sprintf("new replica set while the old one has %d pods", oldPods)
				return
			}
			if newExists && rs.Status.AvailableReplicas == 3 {
				done <- ""
				return
			}
		}
	}()
	if msg := <-done; msg != "" {
		t.Fatal(msg)
	}
	e.waitComplete(t, "rec")
	if got := sizes(e.replicaSets(t, "rec")); got != "1=0 2=3" {
		t.Fatalf("replica sets: %s", got)
	}
}

// TestRevisionHistoryLimit: "deployment should delete old replica sets":
// with revisionHistoryLimit 0 the old ReplicaSet goes once the rollout is
// complete; with 2, only the two newest old ones stay.
func TestRevisionHistoryLimit(t *testing.T) {
	e := setup(t)
	d := newDeployment("hist", 2, "busybox:1")
	d.Spec.RevisionHistoryLimit = int32p(0)
	e.create(t, d)
	e.waitComplete(t, "hist")
	e.update(t, "hist", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "busybox:2" })
	e.waitComplete(t, "hist")
	waitFor(t, "the old replica set deleted", func() bool { return sizes(e.replicaSets(t, "hist")) == "2=2" })

	e.update(t, "hist", func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = int32p(2) })
	for i := 3; i <= 6; i++ {
		e.update(t, "hist", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("busybox:%d", i) })
		e.waitComplete(t, "hist")
	}
	waitFor(t, "two old replica sets kept", func() bool { return sizes(e.replicaSets(t, "hist")) == "4=0 5=0 6=2" })
}

// TestProportionalScaling: "deployment should support proportional
// scaling": 10 replicas, maxSurge 3, maxUnavailable 2, rolled to an image
// that never becomes available (old 8, new 5), then scaled to 30: the
// 20 more are spread as upstream's proportions (old 20, new 13).
func TestProportionalScaling(t *testing.T) {
	e := setup(t)
	d := newDeployment("prop", 10, "busybox:1")
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptrIS(intstr.FromInt32(3)), MaxUnavailable: ptrIS(intstr.FromInt32(2))}
	e.create(t, d)
	e.waitComplete(t, "prop")
	e.mu.Lock()
	e.unavailable["busybox:bad"] = true
	e.mu.Unlock()
	e.update(t, "prop", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "busybox:bad" })
	waitFor(t, "old 8, new 5", func() bool { return sizes(e.replicaSets(t, "prop")) == "1=8 2=5" })
	waitFor(t, "status observed", func() bool {
		d := e.get(t, "prop")
		return d.Status.Replicas == 13 && d.Status.ObservedGeneration == d.Generation
	})
	e.update(t, "prop", func(d *appsv1.Deployment) { d.Spec.Replicas = int32p(30) })
	waitFor(t, "old 20, new 13", func() bool { return sizes(e.replicaSets(t, "prop")) == "1=20 2=13" })
	rss := e.replicaSets(t, "prop")
	for _, rs := range rss {
		if rs.Annotations[DesiredReplicasAnnotation] != "30" || rs.Annotations[MaxReplicasAnnotation] != "33" {
			t.Errorf("%s annotations %v", rs.Name, rs.Annotations)
		}
	}
}

// TestProgressDeadline: Progressing goes to False ProgressDeadlineExceeded
// once progressDeadlineSeconds pass on the fake clock without progress;
// Available is False MinimumReplicasUnavailable meanwhile; a paused
// Deployment says DeploymentPaused and does not roll; resumed, it rolls.
func TestProgressDeadlineAndPause(t *testing.T) {
	e := setup(t)
	e.mu.Lock()
	e.unavailable["busybox:bad"] = true
	e.mu.Unlock()
	d := newDeployment("stuck", 2, "busybox:bad")
	d.Spec.ProgressDeadlineSeconds = int32p(30)
	e.create(t, d)
	waitFor(t, "Progressing ReplicaSetUpdated", func() bool {
		c := getCondition(e.get(t, "stuck").Status, appsv1.DeploymentProgressing)
		return c != nil && (c.Reason == ReplicaSetUpdatedReason || c.Reason == NewRSReason) && e.get(t, "stuck").Status.Replicas == 2
	})
	d = e.get(t, "stuck")
	if a := getCondition(d.Status, appsv1.DeploymentAvailable); a == nil || a.Status != corev1.ConditionFalse || a.Reason != MinimumReplicasUnavailable {
		t.Fatalf("Available %+v", a)
	}
	time.Sleep(100 * time.Millisecond) // no timer should fire on the real clock
	if c := getCondition(e.get(t, "stuck").Status, appsv1.DeploymentProgressing); c.Reason == TimedOutReason {
		t.Fatal("timed out before the deadline")
	}
	e.clk.Step(32 * time.Second)
	waitFor(t, "ProgressDeadlineExceeded", func() bool {
		c := getCondition(e.get(t, "stuck").Status, appsv1.DeploymentProgressing)
		return c.Reason == TimedOutReason && c.Status == corev1.ConditionFalse
	})
	if c := getCondition(e.get(t, "stuck").Status, appsv1.DeploymentProgressing); c.Message != fmt.Sprintf("ReplicaSet %q has timed out progressing.", "stuck-"+ComputeHash(&d.Spec.Template, nil)) {
		t.Fatalf("message %q", c.Message)
	}

	// Pause and resume.
	p := newDeployment("paused", 2, "busybox:1")
	p.Spec.Paused = true
	e.create(t, p)
	waitFor(t, "DeploymentPaused", func() bool {
		c := getCondition(e.get(t, "paused").Status, appsv1.DeploymentProgressing)
		return c != nil && c.Reason == PausedDeployReason && c.Status == corev1.ConditionUnknown && c.Message == "Deployment is paused"
	})
	time.Sleep(200 * time.Millisecond)
	if rss := e.replicaSets(t, "paused"); len(rss) != 0 {
		t.Fatalf("a paused deployment created %s", sizes(rss))
	}
	e.update(t, "paused", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	e.waitComplete(t, "paused")
	e.update(t, "paused", func(d *appsv1.Deployment) { d.Spec.Paused = true })
	e.update(t, "paused", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "busybox:2" })
	e.update(t, "paused", func(d *appsv1.Deployment) { d.Spec.Replicas = int32p(3) })
	waitFor(t, "a paused deployment still scales", func() bool { return sizes(e.replicaSets(t, "paused")) == "1=3" })
	e.update(t, "paused", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	e.waitComplete(t, "paused")
	if got := sizes(e.replicaSets(t, "paused")); got != "1=0 2=3" {
		t.Fatalf("after resume: %s", got)
	}
}

// TestRollover: "deployment should support rollover": an orphan
// ReplicaSet matching the selector (another template) is adopted; a
// rollout updated mid-way to a third template ends with only the newest
// ReplicaSet scaled up.
func TestRollover(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	orphan := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "test-rollover-controller", Namespace: "default", Labels: map[string]string{"app": "roll"}},
		Spec: appsv1.ReplicaSetSpec{Replicas: int32p(1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "roll"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "roll"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "httpd", Image: "httpd"}}}}},
	}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.unavailable["busybox:bad"] = true
	e.mu.Unlock()
	d := newDeployment("roll", 1, "busybox:bad")
	d.Spec.MinReadySeconds = 10
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptrIS(intstr.FromInt32(1)), MaxUnavailable: ptrIS(intstr.FromInt32(0))}
	e.create(t, d)
	waitFor(t, "the orphan adopted and a new replica set", func() bool {
		rss := e.replicaSets(t, "roll")
		return len(rss) == 2
	})
	e.update(t, "roll", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "busybox:good" })
	e.waitComplete(t, "roll")
	rss := e.replicaSets(t, "roll")
	if len(rss) != 3 {
		t.Fatalf("replica sets %s", sizes(rss))
	}
	for _, rs := range rss {
		want := int32(0)
		if rs.Spec.Template.Spec.Containers[0].Image == "busybox:good" {
			want = 1
		}
		if *rs.Spec.Replicas != want || rs.Spec.MinReadySeconds != 10 && want == 1 {
			t.Errorf("%s (%s): %d replicas, minReadySeconds %d", rs.Name, rs.Spec.Template.Spec.Containers[0].Image, *rs.Spec.Replicas, rs.Spec.MinReadySeconds)
		}
	}
}

// TestIterativeRollouts: "iterative rollouts should eventually progress":
// random template changes, scalings, pauses and resumes; in the end the
// Deployment is complete with one ReplicaSet holding all replicas.
func TestIterativeRollouts(t *testing.T) {
	e := setup(t)
	e.create(t, newDeployment("iter", 5, "busybox:0"))
	r := rand.New(rand.NewSource(1))
	for i := range 12 {
		switch r.Intn(4) {
		case 0:
			e.update(t, "iter", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("busybox:%d", i+1) })
		case 1:
			e.update(t, "iter", func(d *appsv1.Deployment) { d.Spec.Replicas = int32p(int32(r.Intn(8))) })
		case 2:
			e.update(t, "iter", func(d *appsv1.Deployment) { d.Spec.Paused = !d.Spec.Paused })
		case 3:
			e.update(t, "iter", func(d *appsv1.Deployment) {
				if d.Spec.Template.Annotations == nil {
					d.Spec.Template.Annotations = map[string]string{}
				}
				d.Spec.Template.Annotations["step"] = fmt.Sprint(i)
			})
		}
		time.Sleep(time.Duration(r.Intn(50)) * time.Millisecond)
	}
	e.update(t, "iter", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	d := e.waitComplete(t, "iter")
	var active []string
	for _, rs := range e.replicaSets(t, "iter") {
		if *rs.Spec.Replicas > 0 {
			active = append(active, rs.Name)
		}
	}
	if *d.Spec.Replicas > 0 && len(active) != 1 {
		t.Fatalf("active replica sets %v", active)
	}
}

// TestAdoptionAndCollision: "test Deployment ReplicaSet orphaning and
// adoption regarding controllerRef" (the adoption side: an orphan with
// the Deployment's template becomes its new ReplicaSet, no second one is
// made); and a name taken by a ReplicaSet of another template raises
// status.collisionCount and the hash changes.
func TestAdoptionAndCollision(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	d := newDeployment("adopt", 2, "busybox:1")
	hash := ComputeHash(&d.Spec.Template, nil)
	orphan := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "adopt-" + hash, Namespace: "default", Labels: map[string]string{"app": "adopt", DefaultDeploymentUniqueLabelKey: hash}},
		Spec: appsv1.ReplicaSetSpec{Replicas: int32p(2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "adopt", DefaultDeploymentUniqueLabelKey: hash}},
			Template: *d.Spec.Template.DeepCopy()},
	}
	orphan.Spec.Template.Labels[DefaultDeploymentUniqueLabelKey] = hash
	orphan, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, orphan, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.create(t, d)
	e.waitComplete(t, "adopt")
	rss := e.replicaSets(t, "adopt")
	if len(rss) != 1 || rss[0].UID != orphan.UID {
		t.Fatalf("replica sets %s", sizes(rss))
	}

	// Collision: a ReplicaSet named as the hash would name it, with
	// another template and labels the Deployment does not select.
	// (Created paused, to hash the template as the API server defaulted it.)
	c := newDeployment("coll", 1, "busybox:1")
	c.Spec.Paused = true
	c = e.create(t, c)
	chash := ComputeHash(&c.Spec.Template, nil)
	squat := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "coll-" + chash, Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Replicas: int32p(0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"other": "x"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"other": "x"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "other"}}}}},
	}
	if _, err := e.cs.AppsV1().ReplicaSets("default").Create(ctx, squat, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.update(t, "coll", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	got := e.waitComplete(t, "coll")
	if got.Status.CollisionCount == nil || *got.Status.CollisionCount != 1 {
		t.Fatalf("collisionCount %v", got.Status.CollisionCount)
	}
	rss = e.replicaSets(t, "coll")
	if len(rss) != 1 || rss[0].Name != "coll-"+ComputeHash(&c.Spec.Template, int32p(1)) {
		t.Fatalf("replica sets %v", rss)
	}
}
