package wasmpod_test

// The conformance suite (issue 12 §6, docs/conformance.md): one test per
// upstream e2e behaviour of test/e2e/common/node and test/e2e/common/storage,
// each naming the upstream test it follows. Upstream's manifests run as
// they are where wasm allows: image busybox is the toolbox, with upstream's
// sh -c commands. Each conformance_*_e2e_test.go file shares one cluster
// among parallel subtests.
//
// Upstream's long observation windows (a liveness probe watched for 4
// minutes, a 15 s initialDelaySeconds) are scaled down where the behaviour
// does not depend on them; WASMPOD_CONFORMANCE_FULL=1 runs them with
// upstream's durations (conformanceScale).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// conformanceFull reports whether the suite runs with upstream's durations.
func conformanceFull() bool { return os.Getenv("WASMPOD_CONFORMANCE_FULL") != "" }

// conformanceScale is upstream's duration in the full run, short otherwise.
func conformanceScale(upstream, short time.Duration) time.Duration {
	if conformanceFull() {
		return upstream
	}
	return short
}

type confCluster struct {
	c       *wasmpod.Cluster
	cs      kubernetes.Interface
	dataDir string
}

// newConformanceCluster starts the file's cluster: the tests' shared
// module cache (the toolbox, which busybox names, compiles once per
// machine) and a data directory of the test's, where volumes' files can be
// looked at from the host.
func newConformanceCluster(t *testing.T, edit ...func(*wasmpod.Config)) *confCluster {
	t.Helper()
	dataDir := t.TempDir()
	cfg := wasmpod.Config{CacheDir: testwasm.CacheDir(), DataDir: dataDir,
		// The suite is about pods, not the test machine's free disk.
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := wasmpod.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &confCluster{c: c, cs: c.Client(), dataDir: dataDir}
}

// busyboxPod is upstream's usual test pod: one busybox container running
// command, restartPolicy Never, a short grace period (the toolbox's sh
// does not trap TERM; upstream's 30 s would only slow the deletes down).
func busyboxPod(name string, command ...string) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"name": name}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			Containers:                    []corev1.Container{{Name: "c", Image: "busybox", Command: command}},
		},
	}
}

func (cc *confCluster) create(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	got, err := cc.cs.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
	return got
}

func (cc *confCluster) get(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	return getPod(t, cc.cs, name)
}

// wait waits for cond on the pod, failing with the pod's status.
func (cc *confCluster) wait(t *testing.T, name, what string, d time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	p, err := cc.c.WaitPod(ctx, "default", name, cond)
	if err != nil {
		cur, _ := cc.cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		var st any
		if cur != nil {
			st = cur.Status
		}
		t.Fatalf("pod %s: waiting for %s: %v\nstatus: %+v\nevents:\n%s", name, what, err, st, podEvents(t, cc.cs, name))
	}
	return p
}

func (cc *confCluster) logs(t *testing.T, name, container string) string {
	t.Helper()
	var b bytes.Buffer
	if err := cc.c.Logs(context.Background(), "default", name, &corev1.PodLogOptions{Container: container}, &b); err != nil {
		t.Fatalf("logs %s/%s: %v", name, container, err)
	}
	return b.String()
}

// tryLogs is the container's log so far, "" while there is none.
func (cc *confCluster) tryLogs(name, container string) string {
	var b bytes.Buffer
	cc.c.Logs(context.Background(), "default", name, &corev1.PodLogOptions{Container: container}, &b)
	return b.String()
}

// output runs the pod to its end, as upstream's TestContainerOutput: it
// must succeed, and its first container's log is returned.
func (cc *confCluster) output(t *testing.T, p *corev1.Pod) string {
	t.Helper()
	cc.create(t, p)
	end := cc.wait(t, p.Name, "the pod to finish", 90*time.Second, podFinished)
	out := cc.logs(t, p.Name, p.Spec.Containers[0].Name)
	if end.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: phase %s, want Succeeded; status %+v\nlogs:\n%s\nevents:\n%s", p.Name, end.Status.Phase, end.Status.ContainerStatuses, out, podEvents(t, cc.cs, p.Name))
	}
	return out
}

// wantOutput checks that the pod's output holds each of want as a line.
func (cc *confCluster) wantOutput(t *testing.T, p *corev1.Pod, want ...string) string {
	t.Helper()
	out := cc.output(t, p)
	wantLines(t, p.Name+" output", out, want...)
	return out
}

// execIn runs a command in the pod's first container, as upstream's
// ExecShellInPod; it returns the output and the exit code.
func (cc *confCluster) execIn(t *testing.T, pod string, command ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code, err := cc.c.Exec(context.Background(), "default", pod, &corev1.PodExecOptions{Stdout: true, Stderr: true, Command: command},
		wasmpod.ExecStreams{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("exec %v in %s: %v", command, pod, err)
	}
	return out.String(), code
}

// deleteAndWait deletes the pod and waits until it is gone.
func (cc *confCluster) deleteAndWait(t *testing.T, name string, opts metav1.DeleteOptions) {
	t.Helper()
	ctx := context.Background()
	if err := cc.cs.CoreV1().Pods("default").Delete(ctx, name, opts); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
	waitFor(t, "pod "+name+" gone", 60*time.Second, func() bool {
		_, err := cc.cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// restartCount is the pod's first container's restartCount.
func restartCount(p *corev1.Pod) int32 {
	if len(p.Status.ContainerStatuses) == 0 {
		return 0
	}
	return p.Status.ContainerStatuses[0].RestartCount
}

// runLivenessTest is upstream's RunLivenessTest: the pod starts, and within
// timeout its first container's restartCount reaches want (and, for 0,
// stays there for the whole window), never decreasing.
func (cc *confCluster) runLivenessTest(t *testing.T, p *corev1.Pod, want int32, timeout time.Duration) {
	t.Helper()
	cc.create(t, p)
	cc.wait(t, p.Name, "the container to start", 90*time.Second, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && (p.Status.ContainerStatuses[0].State.Running != nil || p.Status.ContainerStatuses[0].RestartCount > 0)
	})
	last := int32(0)
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		n := restartCount(cc.get(t, p.Name))
		if n < last {
			t.Fatalf("pod %s: restartCount went down from %d to %d", p.Name, last, n)
		}
		last = n
		if want > 0 && n >= want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if want == 0 && last != 0 || want > 0 && last < want {
		t.Fatalf("pod %s: restartCount %d, want %d (within %v)\nevents:\n%s", p.Name, last, want, timeout, podEvents(t, cc.cs, p.Name))
	}
}

// conditionOf returns the pod's condition of the type, nil without one.
func conditionOf(p *corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func fmtStatus(p *corev1.Pod) string {
	return fmt.Sprintf("phase %s, conditions %+v, init %+v, containers %+v", p.Status.Phase, p.Status.Conditions, p.Status.InitContainerStatuses, p.Status.ContainerStatuses)
}

// group runs subtests at the same time: each Run starts t.Run in a
// goroutine and Wait waits for them all. (t.Parallel would let go test's
// -parallel, GOMAXPROCS by default, bound how many pods the suite waits on
// at once: two on a 2-core machine, for tests that mostly wait.)
// At most groupLimit subtests of a group run at once: every pod
// instantiates the toolbox, and a 2-core machine running them all at once
// stretches hooks and probes past their timeouts.
type group struct {
	t   *testing.T
	wg  sync.WaitGroup
	sem chan struct{}
}

const groupLimit = 8

func newGroup(t *testing.T) *group { return &group{t: t, sem: make(chan struct{}, groupLimit)} }

func (g *group) Run(name string, f func(t *testing.T)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.sem <- struct{}{}
		defer func() { <-g.sem }()
		g.t.Run(name, f)
	}()
}

func (g *group) Wait() { g.wg.Wait() }

// probehttpModule is the probehttp guest (probes_e2e_test.go's probeGuest).
func probehttpModule(t *testing.T) []byte {
	return testwasm.Build(t, testwasm.GuestDir(t, "probehttp"))
}
