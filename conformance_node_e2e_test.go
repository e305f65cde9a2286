package wasmpod_test

// Conformance: upstream test/e2e/common/node pods.go, runtime.go,
// init_container.go and expansion.go (docs/conformance.md). One cluster,
// parallel subtests; each names the upstream test it follows.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
)

func TestConformanceNode(t *testing.T) {
	t.Parallel()
	cc := newConformanceCluster(t)
	g := newGroup(t)
	defer g.Wait()
	ctx := context.Background()
	pods := cc.cs.CoreV1().Pods("default")
	srv := httptest.NewServer(cc.c.Handler())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	cc.c.SetAPIServerAddress(netip.MustParseAddrPort(u.Host))
	running := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }

	// [sig-node] Pods should get a host IP [NodeConformance] [Conformance]
	// (upstream runs the pause image; busybox sleeping stands in for it).
	g.Run("pods host IP", func(t *testing.T) {
		cc.create(t, busyboxPod("pod-hostip", "sh", "-c", "sleep 3600"))
		p := cc.wait(t, "pod-hostip", "a host IP", time.Minute, func(p *corev1.Pod) bool { return p.Status.HostIP != "" })
		if net.ParseIP(p.Status.HostIP) == nil || len(p.Status.HostIPs) == 0 || p.Status.HostIPs[0].IP != p.Status.HostIP {
			t.Errorf("hostIP %q hostIPs %+v", p.Status.HostIP, p.Status.HostIPs)
		}
	})

	// [sig-node] Pods should be submitted and removed [NodeConformance] [Conformance]
	g.Run("pods submitted and removed", func(t *testing.T) {
		sel := "time=submit-remove"
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil || len(list.Items) != 0 {
			t.Fatalf("list before: %v %v", list, err)
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		// Upstream's nginx exits on TERM, as the probehttp guest does
		// (busybox's sh as the first process ignores it).
		p := probePod("pod-submit-remove", moduleFile(t, "probehttp.wasm", probehttpModule(t)), nil)
		p.Labels = map[string]string{"time": "submit-remove"}
		p.Spec.TerminationGracePeriodSeconds = nil // upstream's default, 30 s
		cc.create(t, p)
		if list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel}); err != nil || len(list.Items) != 1 {
			t.Fatalf("list after create: %d items, %v", len(list.Items), err)
		}
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Added {
				t.Fatalf("first watch event %s, want ADDED", ev.Type)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no ADDED event")
		}
		cc.wait(t, p.Name, "Running", time.Minute, running)
		if err := pods.Delete(ctx, p.Name, *metav1.NewDeleteOptions(30)); err != nil {
			t.Fatal(err)
		}
		var last *corev1.Pod
		timeout := time.After(60 * time.Second)
		for last == nil {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					t.Fatal("watch closed before the pod was deleted")
				}
				if ev.Type == watch.Deleted {
					last = ev.Object.(*corev1.Pod)
				}
			case <-timeout:
				t.Fatal("no DELETED event")
			}
		}
		if last.DeletionTimestamp == nil || last.Spec.TerminationGracePeriodSeconds == nil || *last.Spec.TerminationGracePeriodSeconds == 0 {
			t.Errorf("deleted pod: deletionTimestamp %v, grace %v", last.DeletionTimestamp, last.Spec.TerminationGracePeriodSeconds)
		}
		if list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel}); err != nil || len(list.Items) != 0 {
			t.Errorf("list after delete: %d items, %v", len(list.Items), err)
		}
	})

	// [sig-node] Pods should be updated [NodeConformance] [Conformance]
	g.Run("pods updated", func(t *testing.T) {
		p := busyboxPod("pod-update", "sh", "-c", "sleep 3600")
		p.Labels["time"] = "before"
		cc.create(t, p)
		cc.wait(t, p.Name, "Running", time.Minute, running)
		cur := cc.get(t, p.Name)
		cur.Labels["time"] = "after"
		if _, err := pods.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		cc.wait(t, p.Name, "Running", time.Minute, running)
		if list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "time=after"}); err != nil || len(list.Items) != 1 {
			t.Errorf("list by the new label: %v %v", list, err)
		}
	})

	// [sig-node] Pods should allow activeDeadlineSeconds to be updated
	// [NodeConformance] [Conformance]: upstream sets 5 s on a running
	// pod and waits for DeadlineExceeded (TestActiveDeadlineSetOnRunningPod
	// covers a deadline already passed).
	g.Run("pods activeDeadlineSeconds updated", func(t *testing.T) {
		cc.create(t, busyboxPod("pod-update-activedeadlineseconds", "sh", "-c", "sleep 3600"))
		cc.wait(t, "pod-update-activedeadlineseconds", "Running", time.Minute, running)
		cur := cc.get(t, "pod-update-activedeadlineseconds")
		d := int64(conformanceScale(5*time.Second, 2*time.Second) / time.Second)
		cur.Spec.ActiveDeadlineSeconds = &d
		if _, err := pods.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		cc.wait(t, cur.Name, "DeadlineExceeded", time.Minute, func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "DeadlineExceeded"
		})
	})

	// [sig-node] Pods should contain environment variables for services
	// [NodeConformance] [Conformance]
	g.Run("pods service env vars", func(t *testing.T) {
		srvPod := busyboxPod("server-envvars", "sh", "-c", "sleep 3600")
		srvPod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 9376}}
		cc.create(t, srvPod)
		cc.wait(t, srvPod.Name, "Running", time.Minute, running)
		if _, err := cc.cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "fooservice", Labels: map[string]string{"name": "fooservice"}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8765, TargetPort: intstr.FromInt(8080)}},
				Selector: map[string]string{"name": "server-envvars"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		out := cc.output(t, busyboxPod("client-envvars", "sh", "-c", "env"))
		for _, v := range []string{"FOOSERVICE_SERVICE_HOST=", "FOOSERVICE_SERVICE_PORT=", "FOOSERVICE_PORT=", "FOOSERVICE_PORT_8765_TCP_PORT=",
			"FOOSERVICE_PORT_8765_TCP_PROTO=", "FOOSERVICE_PORT_8765_TCP=", "FOOSERVICE_PORT_8765_TCP_ADDR="} {
			if !strings.Contains(out, "\n"+v) && !strings.HasPrefix(out, v) {
				t.Errorf("no %s in env:\n%s", v, out)
			}
		}
	})

	// [sig-node] Pods should support remote command execution over
	// websockets [NodeConformance] [Conformance]: the channel.k8s.io
	// protocol, as upstream's test asks for it.
	g.Run("pods exec over websockets", func(t *testing.T) {
		cc.create(t, busyboxPod("pod-exec-websocket", "/bin/sh", "-c", "echo container is alive; sleep 600"))
		cc.wait(t, "pod-exec-websocket", "Running", time.Minute, running)
		q := url.Values{"stderr": {"1"}, "stdout": {"1"}, "container": {"c"}, "command": {"echo", "remote execution test"}}
		got := wsRead(t, "ws://"+u.Host+"/api/v1/namespaces/default/pods/pod-exec-websocket/exec?"+q.Encode(), "channel.k8s.io", true)
		if !strings.Contains(got, "remote execution test") {
			t.Errorf("exec over websocket: %q", got)
		}
	})

	// [sig-node] Pods should support retrieving logs from the container
	// over websockets [NodeConformance] [Conformance]
	g.Run("pods logs over websockets", func(t *testing.T) {
		cc.create(t, busyboxPod("pod-logs-websocket", "/bin/sh", "-c", "echo container is alive; sleep 10000"))
		cc.wait(t, "pod-logs-websocket", "Running", time.Minute, running)
		waitFor(t, "the log line", 30*time.Second, func() bool { return cc.logs(t, "pod-logs-websocket", "c") != "" })
		got := wsRead(t, "ws://"+u.Host+"/api/v1/namespaces/default/pods/pod-logs-websocket/log?container=c", "binary.k8s.io", false)
		if got != "container is alive\n" {
			t.Errorf("logs over websocket: %q", got)
		}
	})

	// [sig-node] Pods should delete a collection of pods [Conformance]
	g.Run("pods delete collection", func(t *testing.T) {
		for _, n := range []string{"test-pod-1", "test-pod-2", "test-pod-3"} {
			p := busyboxPod(n, "sh", "-c", "sleep 3600")
			p.Labels = map[string]string{"type": "Testing"}
			cc.create(t, p)
		}
		for _, n := range []string{"test-pod-1", "test-pod-2", "test-pod-3"} {
			cc.wait(t, n, "Running", time.Minute, running)
		}
		one := int64(1)
		if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &one}, metav1.ListOptions{LabelSelector: "type=Testing"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the pods gone", time.Minute, func() bool {
			l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "type=Testing"})
			return err == nil && len(l.Items) == 0
		})
	})

	// [sig-node] Pods should run through the lifecycle of Pods and
	// PodStatus [Conformance]: create, patch labels and image, replace
	// the Ready conditions through /status, delete by collection. (The
	// patched image is another busybox tag: the test needs only that the
	// spec changes.)
	g.Run("pods lifecycle and PodStatus", func(t *testing.T) {
		p := busyboxPod("pod-test", "sh", "-c", "sleep 3600")
		p.Labels = map[string]string{"test-pod-static": "true"}
		cc.create(t, p)
		cc.wait(t, p.Name, "Running and Ready", time.Minute, func(p *corev1.Pod) bool { return running(p) && podReady(p) == corev1.ConditionTrue })
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{"test-pod": "patched"}},
			"spec": map[string]any{"containers": []map[string]any{{"name": "c", "image": "busybox:1.36"}}}})
		if _, err := pods.Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		got := cc.get(t, p.Name)
		if got.Labels["test-pod"] != "patched" || got.Spec.Containers[0].Image != "busybox:1.36" {
			t.Fatalf("after the patch: labels %v image %s", got.Labels, got.Spec.Containers[0].Image)
		}
		var updated *corev1.Pod
		for i := 0; ; i++ {
			st, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for j, c := range st.Status.Conditions {
				if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status == corev1.ConditionTrue {
					st.Status.Conditions[j].Status = corev1.ConditionFalse
					n++
				}
			}
			if n != 2 {
				// The image change restarts the container: wait for Ready again.
				if i > 100 {
					t.Fatalf("Ready and ContainersReady not both True: %+v", st.Status.Conditions)
				}
				time.Sleep(200 * time.Millisecond)
				continue
			}
			updated, err = pods.UpdateStatus(ctx, st, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		n := 0
		for _, c := range updated.Status.Conditions {
			if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status == corev1.ConditionFalse {
				n++
			}
		}
		if n != 2 {
			t.Errorf("UpdateStatus answer: %+v", updated.Status.Conditions)
		}
		one := int64(1)
		if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &one}, metav1.ListOptions{LabelSelector: "test-pod-static=true"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "pod-test gone", time.Minute, func() bool {
			_, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})

	// [sig-node] Pods should patch a pod status [Conformance]
	g.Run("pods patch status", func(t *testing.T) {
		cc.create(t, busyboxPod("pod-patch-status", "sh", "-c", "sleep 3600"))
		cc.wait(t, "pod-patch-status", "Running", time.Minute, running)
		st, err := pods.Patch(ctx, "pod-patch-status", types.StrategicMergePatchType,
			[]byte(`{"metadata":{"annotations":{"patchedstatus":"true"}},"status":{"message":"Patched by e2e test","reason":"E2E"}}`), metav1.PatchOptions{}, "status")
		if err != nil {
			t.Fatal(err)
		}
		if st.Annotations["patchedstatus"] != "true" || st.Status.Message != "Patched by e2e test" || st.Status.Reason != "E2E" {
			t.Errorf("patched status: annotations %v message %q reason %q", st.Annotations, st.Status.Message, st.Status.Reason)
		}
	})

	// [sig-node] Pods should support pod readiness gates [NodeConformance]
	g.Run("pods readiness gates", func(t *testing.T) {
		p := busyboxPod("pod-ready", "/bin/sh", "-c", "echo container is alive; sleep 10000")
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "k8s.io/test-condition1"}, {ConditionType: "k8s.io/test-condition2"}}
		cc.create(t, p)
		cc.wait(t, p.Name, "Running", time.Minute, running)
		setGate := func(gate, status string) {
			t.Helper()
			if _, err := pods.Patch(ctx, p.Name, types.StrategicMergePatchType,
				[]byte(fmt.Sprintf(`{"status":{"conditions":[{"type":%q,"status":%q}]}}`, gate, status)), metav1.PatchOptions{}, "status"); err != nil {
				t.Fatal(err)
			}
		}
		ready := func(want corev1.ConditionStatus) {
			t.Helper()
			cc.wait(t, p.Name, "Ready "+string(want), time.Minute, func(p *corev1.Pod) bool { return podReady(p) == want })
		}
		time.Sleep(time.Second)
		if r := podReady(cc.get(t, p.Name)); r == corev1.ConditionTrue {
			t.Fatal("Ready with no readiness gate set")
		}
		setGate("k8s.io/test-condition1", "True")
		time.Sleep(conformanceScale(10*time.Second, 2*time.Second)) // upstream's syncLoopFrequency
		if r := podReady(cc.get(t, p.Name)); r == corev1.ConditionTrue {
			t.Fatal("Ready with one of two readiness gates True")
		}
		setGate("k8s.io/test-condition2", "True")
		ready(corev1.ConditionTrue)
		setGate("k8s.io/test-condition1", "False")
		ready(corev1.ConditionFalse)
	})

	// [sig-node] Container Runtime blackbox test when starting a container
	// that exits should run with the expected status [NodeConformance]
	// [Conformance]. Upstream's script counts with `wc -l $f | awk
	// {'print $1'}`; the toolbox has no awk, so `wc -l < $f` counts.
	g.Run("runtime expected status", func(t *testing.T) {
		script := `f=/restart-count/restartCount
count=$(echo 'hello' >> $f ; wc -l < $f)
if [ $count -eq 1 ]; then
	exit 1
fi
if [ $count -eq 2 ]; then
	exit 0
fi
while true; do sleep 1; done
`
		cases := []struct {
			name   string
			policy corev1.RestartPolicy
			phase  corev1.PodPhase
			state  string
			count  int32
			ready  bool
		}{
			{"terminate-cmd-rpa", corev1.RestartPolicyAlways, corev1.PodRunning, "Running", 2, true},
			{"terminate-cmd-rpof", corev1.RestartPolicyOnFailure, corev1.PodSucceeded, "Terminated", 1, false},
			{"terminate-cmd-rpn", corev1.RestartPolicyNever, corev1.PodFailed, "Terminated", 0, false},
		}
		inner := newGroup(t)
		defer inner.Wait()
		for _, tc := range cases {
			inner.Run(tc.name, func(t *testing.T) {
				p := busyboxPod(tc.name, "sh", "-c", script)
				p.Spec.RestartPolicy = tc.policy
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "restart-count", MountPath: "/restart-count"}}
				p.Spec.Volumes = []corev1.Volume{{Name: "restart-count", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
				cc.create(t, p)
				got := cc.wait(t, tc.name, "the expected restartCount and phase", 2*time.Minute, func(p *corev1.Pod) bool {
					return restartCount(p) == tc.count && p.Status.Phase == tc.phase && len(p.Status.ContainerStatuses) == 1 &&
						containerState(p.Status.ContainerStatuses[0].State) == tc.state
				})
				if got.Status.ContainerStatuses[0].Ready != tc.ready {
					t.Errorf("ready %v, want %v", got.Status.ContainerStatuses[0].Ready, tc.ready)
				}
				time.Sleep(time.Second) // the count stays
				if n := restartCount(cc.get(t, tc.name)); n != tc.count {
					t.Errorf("restartCount %d, want %d", n, tc.count)
				}
				cc.deleteAndWait(t, tc.name, metav1.DeleteOptions{})
			})
		}
	})

	// [sig-node] Container Runtime blackbox test on terminated container
	// should report termination message ... (upstream's busybox commands;
	// TestTerminationMessages covers the limits with configprobe).
	for _, tc := range []struct {
		name, upstream, args, path string
		policy                     corev1.TerminationMessagePolicy
		phase                      corev1.PodPhase
		want                       string
	}{
		// ... if TerminationMessagePath is set [NodeConformance]
		{"termination-message-path", "", "/bin/echo -n DONE > /dev/termination-log", "/dev/termination-log", "", corev1.PodSucceeded, "DONE"},
		// ... if TerminationMessagePath is set as non-root user and at a
		// non-default path [NodeConformance] [Conformance]
		{"termination-message-custom", "", "/bin/echo -n DONE > /dev/termination-custom-log", "/dev/termination-custom-log", "", corev1.PodSucceeded, "DONE"},
		// ... from log output if TerminationMessagePolicy
		// FallbackToLogsOnError is set [NodeConformance] [Conformance]
		{"termination-message-fallback", "", "/bin/echo -n DONE; /bin/false", "/dev/termination-log", corev1.TerminationMessageFallbackToLogsOnError, corev1.PodFailed, "DONE"},
		// ... as empty when pod succeeds and TerminationMessagePolicy
		// FallbackToLogsOnError is set [NodeConformance] [Conformance]
		{"termination-message-empty", "", "/bin/echo -n DONE; /bin/true", "/dev/termination-log", corev1.TerminationMessageFallbackToLogsOnError, corev1.PodSucceeded, ""},
		// ... from file when pod succeeds and TerminationMessagePolicy
		// FallbackToLogsOnError is set [NodeConformance] [Conformance]
		{"termination-message-file", "", "/bin/echo -n OK > /dev/termination-log; /bin/echo DONE; /bin/true", "/dev/termination-log", corev1.TerminationMessageFallbackToLogsOnError, corev1.PodSucceeded, "OK"},
	} {
		g.Run("runtime "+tc.name, func(t *testing.T) {
			p := busyboxPod(tc.name, "/bin/sh", "-c")
			c := &p.Spec.Containers[0]
			c.Args = []string{tc.args}
			c.TerminationMessagePath, c.TerminationMessagePolicy = tc.path, tc.policy
			if tc.name == "termination-message-custom" {
				uid := int64(10000)
				c.SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
			}
			cc.create(t, p)
			got := cc.wait(t, tc.name, string(tc.phase), time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == tc.phase })
			if len(got.Status.ContainerStatuses) != 1 {
				t.Fatalf("%s", fmtStatus(got))
			}
			st := got.Status.ContainerStatuses[0].State.Terminated
			if st == nil || st.Message != tc.want {
				t.Errorf("terminated %+v, want message %q", st, tc.want)
			}
		})
	}

	// [sig-node] Container Runtime blackbox test when running a container
	// with a new image should not be able to pull image from invalid
	// registry [NodeConformance]
	g.Run("runtime invalid registry", func(t *testing.T) {
		p := busyboxPod("image-pull-test", "/bin/sh", "-c", "while true; do sleep 1; done")
		p.Spec.Containers[0].Image = "invalid.registry.k8s.io/invalid/alpine:3.1"
		p.Spec.Containers[0].ImagePullPolicy = corev1.PullAlways
		cc.create(t, p)
		// wasmpod pulls no OCI images: the reference waits with
		// InvalidImageName ("OCI references are not supported yet")
		// where upstream's gives ErrImagePull, then ImagePullBackOff.
		got := cc.wait(t, p.Name, "ErrImagePull, ImagePullBackOff or InvalidImageName", time.Minute, func(p *corev1.Pod) bool {
			w := waitingState(p)
			return w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" || w.Reason == "InvalidImageName")
		})
		if got.Status.Phase != corev1.PodPending {
			t.Errorf("phase %s, want Pending", got.Status.Phase)
		}
	})

	// InitContainer [NodeConformance] should invoke init containers on a
	// RestartNever pod [Conformance]
	g.Run("init RestartNever", func(t *testing.T) {
		p := busyboxPod("pod-init-never", "/bin/true")
		p.Spec.InitContainers = []corev1.Container{{Name: "init1", Image: "busybox", Command: []string{"/bin/true"}}, {Name: "init2", Image: "busybox", Command: []string{"/bin/true"}}}
		end := cc.watchInit(t, p, podFinished)
		if end.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s: %s", end.Status.Phase, fmtStatus(end))
		}
		wantInitialized(t, end, corev1.ConditionTrue, "", "")
		wantInitDone(t, end)
	})

	// InitContainer [NodeConformance] should invoke init containers on a
	// RestartAlways pod [Conformance] (upstream's app container is pause:
	// busybox sleeping here).
	g.Run("init RestartAlways", func(t *testing.T) {
		p := busyboxPod("pod-init-always", "sh", "-c", "sleep 3600")
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(100, resource.DecimalSI)}
		p.Spec.InitContainers = []corev1.Container{{Name: "init1", Image: "busybox", Command: []string{"/bin/true"}}, {Name: "init2", Image: "busybox", Command: []string{"/bin/true"}}}
		end := cc.watchInit(t, p, running)
		wantInitialized(t, end, corev1.ConditionTrue, "", "")
		wantInitDone(t, end)
	})

	// InitContainer [NodeConformance] should not start app containers if
	// init containers fail on a RestartAlways pod [Conformance]: init1
	// fails and is restarted (restartCount 3, the crash back-off's 10 s
	// and 20 s between), init2 and the app never start.
	g.Run("init fails RestartAlways", func(t *testing.T) {
		p := busyboxPod("pod-init-fail-always", "sh", "-c", "sleep 3600")
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		p.Spec.InitContainers = []corev1.Container{{Name: "init1", Image: "busybox", Command: []string{"/bin/false"}}, {Name: "init2", Image: "busybox", Command: []string{"/bin/true"}}}
		end := cc.watchInit(t, p, func(p *corev1.Pod) bool {
			for _, s := range p.Status.ContainerStatuses {
				if s.State.Waiting == nil || s.State.Waiting.Reason != "PodInitializing" {
					t.Fatalf("app container out of Waiting(PodInitializing): %+v", s)
				}
			}
			if len(p.Status.InitContainerStatuses) == 2 {
				if s := p.Status.InitContainerStatuses[1]; s.State.Waiting == nil || s.State.Waiting.Reason != "PodInitializing" {
					t.Fatalf("init2 out of Waiting(PodInitializing): %+v", s)
				}
				if s := p.Status.InitContainerStatuses[0]; s.State.Terminated != nil && s.State.Terminated.ExitCode == 0 {
					t.Fatalf("init1 succeeded: %+v", s)
				}
				return p.Status.InitContainerStatuses[0].RestartCount >= 3
			}
			return false
		})
		if end.Status.Phase != corev1.PodPending {
			t.Errorf("phase %s, want Pending", end.Status.Phase)
		}
		wantInitialized(t, end, corev1.ConditionFalse, "ContainersNotInitialized", "containers with incomplete status: [init1 init2]")
	})

	// InitContainer [NodeConformance] should not start app containers and
	// fail the pod if init containers fail on a RestartNever pod [Conformance]
	g.Run("init fails RestartNever", func(t *testing.T) {
		p := busyboxPod("pod-init-fail-never", "/bin/true")
		p.Spec.InitContainers = []corev1.Container{{Name: "init1", Image: "busybox", Command: []string{"/bin/true"}}, {Name: "init2", Image: "busybox", Command: []string{"/bin/false"}}}
		end := cc.watchInit(t, p, podFinished)
		if end.Status.Phase != corev1.PodFailed {
			t.Fatalf("phase %s: %s", end.Status.Phase, fmtStatus(end))
		}
		wantInitialized(t, end, corev1.ConditionFalse, "ContainersNotInitialized", "containers with incomplete status: [init2]")
		if len(end.Status.InitContainerStatuses) != 2 || len(end.Status.ContainerStatuses) != 1 || end.Status.ContainerStatuses[0].State.Waiting == nil {
			t.Errorf("%s", fmtStatus(end))
		}
	})

	// Variable Expansion should allow composing env vars into new env vars
	// [NodeConformance] [Conformance]
	g.Run("expansion composing env vars", func(t *testing.T) {
		p := busyboxPod("var-expansion-compose", "sh", "-c", "env")
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "FOO", Value: "foo-value"}, {Name: "BAR", Value: "bar-value"}, {Name: "FOOBAR", Value: "$(FOO);;$(BAR)"}}
		cc.wantOutput(t, p, "FOO=foo-value", "BAR=bar-value", "FOOBAR=foo-value;;bar-value")
	})

	// Variable Expansion should allow substituting values in a container's
	// command [NodeConformance] [Conformance]
	g.Run("expansion command", func(t *testing.T) {
		p := busyboxPod("var-expansion-command", "sh", "-c", `TEST_VAR=wrong echo "$(TEST_VAR)"`)
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TEST_VAR", Value: "test-value"}}
		cc.wantOutput(t, p, "test-value")
	})

	// Variable Expansion should allow substituting values in a container's
	// args [NodeConformance] [Conformance]
	g.Run("expansion args", func(t *testing.T) {
		p := busyboxPod("var-expansion-args", "sh", "-c")
		p.Spec.Containers[0].Args = []string{`TEST_VAR=wrong echo "$(TEST_VAR)"`}
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TEST_VAR", Value: "test-value"}}
		cc.wantOutput(t, p, "test-value")
	})

	subpathPod := func(name, value string, command ...string) *corev1.Pod {
		p := busyboxPod(name, command...)
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "POD_NAME", Value: value}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "workdir1", MountPath: "/logscontainer", SubPathExpr: "$(POD_NAME)"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "workdir1", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		return p
	}

	// Variable Expansion should allow substituting values in a volume
	// subpath [Conformance]
	g.Run("expansion volume subpath", func(t *testing.T) {
		p := subpathPod("var-expansion-subpath", "var-expansion-subpath", "sh", "-c", "test -d /testcontainer/var-expansion-subpath;echo $?")
		p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "workdir1", MountPath: "/testcontainer"})
		if out := cc.output(t, p); out != "0\n" {
			t.Errorf("output %q, want 0", out)
		}
	})

	// Variable Expansion should fail substituting values in a volume
	// subpath with backticks [Slow] [Conformance], and ... with absolute
	// path [Slow] [Conformance]: the container fails with
	// CreateContainerConfigError.
	for name, value := range map[string]string{"var-expansion-backticks": "..", "var-expansion-absolute": "/tmp"} {
		g.Run("expansion subpath "+name, func(t *testing.T) {
			cc.create(t, subpathPod(name, value))
			cc.wait(t, name, "CreateContainerConfigError", time.Minute, func(p *corev1.Pod) bool {
				w := waitingState(p)
				return w != nil && w.Reason == "CreateContainerConfigError"
			})
		})
	}

	annotatedSubpath := func(name string, annotations map[string]string) *corev1.Pod {
		// Upstream's command is `tail -f /dev/null`; the toolbox's tail
		// does not follow, so the container sleeps instead.
		p := busyboxPod(name, "sh", "-c", "sleep 3600")
		p.Annotations = annotations
		c := &p.Spec.Containers[0]
		c.Env = []corev1.EnvVar{{Name: "POD_NAME", Value: "foo"},
			{Name: "ANNOTATION", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.annotations['mysubpath']"}}}}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "workdir1", MountPath: "/subpath_mount", SubPathExpr: "$(ANNOTATION)/$(POD_NAME)"},
			{Name: "workdir1", MountPath: "/volume_mount"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "workdir1", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		return p
	}
	setAnnotation := func(t *testing.T, name, value string) {
		t.Helper()
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"mysubpath":%q}}}`, value)
		if _, err := pods.Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Variable Expansion should verify that a failing subpath expansion can
	// be modified during the lifecycle of a container [Slow] [Conformance]
	g.Run("expansion failing subpath modified", func(t *testing.T) {
		p := annotatedSubpath("var-expansion-modified", map[string]string{"notmysubpath": "mypath"})
		cc.create(t, p)
		time.Sleep(conformanceScale(2*time.Minute, 3*time.Second)) // upstream: PodStartShortTimeout
		if got := cc.get(t, p.Name); got.Status.Phase == corev1.PodRunning {
			t.Fatalf("running with an absolute subPathExpr: %s", fmtStatus(got))
		}
		setAnnotation(t, p.Name, "mypath")
		cc.wait(t, p.Name, "Running after the annotation", time.Minute, running)
		cc.deleteAndWait(t, p.Name, metav1.DeleteOptions{})
	})

	// Variable Expansion should succeed in writing subpaths in container
	// [Slow] [Conformance]
	g.Run("expansion writing subpaths", func(t *testing.T) {
		p := annotatedSubpath("var-expansion-write", map[string]string{"mysubpath": "mypath"})
		cc.create(t, p)
		cc.wait(t, p.Name, "Running", time.Minute, running)
		if out, code := cc.execIn(t, p.Name, "/bin/sh", "-c", "touch /volume_mount/mypath/foo/test.log"); code != 0 {
			t.Fatalf("touch in the volume: exit %d %s", code, out)
		}
		if out, code := cc.execIn(t, p.Name, "/bin/sh", "-c", "test -f /subpath_mount/test.log"); code != 0 {
			t.Fatalf("the file through the subpath: exit %d %s", code, out)
		}
		setAnnotation(t, p.Name, "mynewpath")
		time.Sleep(time.Second)
		cc.wait(t, p.Name, "Running after the annotation changed", time.Minute, running)
		cc.deleteAndWait(t, p.Name, metav1.DeleteOptions{})
	})
}

// containerState is upstream's GetContainerState.
func containerState(s corev1.ContainerState) string {
	switch {
	case s.Waiting != nil:
		return "Waiting"
	case s.Running != nil:
		return "Running"
	case s.Terminated != nil:
		return "Terminated"
	}
	return "Unknown"
}

// watchInit creates the pod and follows it with a watch until done, checking
// upstream's init-container invariants on every state seen: the app
// containers wait in PodInitializing until the init containers are done,
// Initialized is never Unknown and never goes back to False.
func (cc *confCluster) watchInit(t *testing.T, p *corev1.Pod, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	created := cc.create(t, p)
	w, err := cc.cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + p.Name, ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	wasInit := false
	for ev := range w.ResultChan() {
		cur, ok := ev.Object.(*corev1.Pod)
		if !ok {
			t.Fatalf("watch: %v", ev.Object)
		}
		c := conditionOf(cur, corev1.PodInitialized)
		if c != nil {
			if c.Status == corev1.ConditionUnknown || c.LastTransitionTime.IsZero() {
				t.Fatalf("Initialized condition %+v", c)
			}
			if wasInit && c.Status == corev1.ConditionFalse {
				t.Fatalf("Initialized went back to False: %s", fmtStatus(cur))
			}
			wasInit = wasInit || c.Status == corev1.ConditionTrue
			if c.Status != corev1.ConditionTrue {
				for _, s := range cur.Status.ContainerStatuses {
					if s.State.Waiting == nil || s.RestartCount != 0 || s.State.Waiting.Reason != "PodInitializing" {
						t.Fatalf("app container %s not waiting in PodInitializing before initialization: %+v", s.Name, s)
					}
				}
			}
		}
		if done(cur) {
			return cur
		}
	}
	cur := cc.get(t, p.Name)
	t.Fatalf("pod %s: the watch ended first: %s", p.Name, fmtStatus(cur))
	return nil
}

// wantInitialized checks the Initialized condition's status, and its reason
// and message when reason is given (upstream checks them for failures).
func wantInitialized(t *testing.T, p *corev1.Pod, status corev1.ConditionStatus, reason, message string) {
	t.Helper()
	c := conditionOf(p, corev1.PodInitialized)
	if c == nil || c.Status != status || reason != "" && (c.Reason != reason || c.Message != message) {
		t.Errorf("Initialized condition %+v, want %s %q %q", c, status, reason, message)
	}
}

func wantInitDone(t *testing.T, p *corev1.Pod) {
	t.Helper()
	if len(p.Status.InitContainerStatuses) != 2 {
		t.Fatalf("init statuses: %+v", p.Status.InitContainerStatuses)
	}
	for _, s := range p.Status.InitContainerStatuses {
		if !s.Ready || s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			t.Errorf("init container %s: %+v", s.Name, s)
		}
	}
}

// wsRead opens a WebSocket with the subprotocol and returns what arrives
// until the server closes it; with channels, each message's first byte is
// its stream and stdout (1) is kept.
func wsRead(t *testing.T, u, protocol string, channels bool) string {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{protocol}, HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(u, http.Header{})
	if err != nil {
		body := ""
		if resp != nil {
			var b strings.Builder
			buf := make([]byte, 4096)
			n, _ := resp.Body.Read(buf)
			b.Write(buf[:n])
			body = b.String()
		}
		t.Fatalf("websocket %s: %v %s", u, err, body)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out strings.Builder
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			break
		}
		if !channels {
			out.Write(msg)
			continue
		}
		if len(msg) == 0 {
			continue
		}
		if msg[0] == 1 {
			out.Write(msg[1:])
		} else if msg[0] != 1 && len(msg) > 1 && msg[0] != 3 {
			t.Errorf("message on channel %d: %q", msg[0], msg[1:])
		}
	}
	return out.String()
}
