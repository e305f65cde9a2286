package wasmpod_test

// A container's image changed on a live pod with the real kubectl, as the
// kubelet handles it (kuberuntime_manager.go computePodActions: a changed
// container definition is killed and started again).

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestKubectlSetImageOnLivePod — upstream e2e "Pods should be updated"
// (the image of a running pod's container changed) and the kubelet's
// restart of a changed container: `kubectl set image pod/upd main=NEW`
// kills the running module (Killing "Container main definition changed,
// will be restarted") and starts the new one (Pulled "already present":
// the pod's other container runs that image; Created, Started, in that
// order); restartCount is 1, the status shows the new
// image, `kubectl logs` shows the new module's output and `kubectl logs
// --previous` the old one's; the pod's other container keeps running. A
// new image that does not exist leaves that container in ErrImagePull /
// ImagePullBackOff as `kubectl get pod` shows. Fields other than the
// images are refused with upstream's messages (ValidatePodUpdate): the
// general one naming the changed fields, added containers, added
// schedulingGates.
func TestKubectlSetImageOnLivePod(t *testing.T) {
	t.Parallel()
	oldImg := probeGuest(t) // probehttp: "serving", then "term prestop=false" on TERM
	newImg := moduleFile(t, "graceful.wasm", testwasm.Build(t, filepath.Join(testwasm.RepoRoot(t), "wasm-examples", "graceful")))
	c := newTestCluster(t)
	kubectl, _ := serveKubectl(t, c)
	cs := c.Client()
	ctx := context.Background()

	pod := probePod("upd", oldImg, func(c *corev1.Container) { c.Name = "main" })
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "other", Image: newImg})
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := func(p *corev1.Pod, name string) *corev1.ContainerStatus {
		for i := range p.Status.ContainerStatuses {
			if s := &p.Status.ContainerStatuses[i]; s.Name == name && s.State.Running != nil {
				return s
			}
		}
		return nil
	}
	waitFor(t, "both containers running", 120*time.Second, func() bool {
		p := getPod(t, cs, "upd")
		return running(p, "main") != nil && running(p, "other") != nil
	})
	waitFor(t, "main serving", 30*time.Second, func() bool {
		out, _ := kubectl("logs", "upd", "-c", "main")
		return strings.Contains(out, "serving")
	})

	// Fields other than the images may not change.
	out, code := kubectl("set", "env", "pod/upd", "-c", "main", "X=1")
	if code == 0 || !strings.Contains(out, `Pod "upd" is invalid: spec: Forbidden: pod updates may not change fields other than `+
		"`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"+
		"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)") ||
		!strings.Contains(out, "changed: spec.containers[0].env") {
		t.Errorf("kubectl set env on a pod: exit %d\n%s", code, out)
	}

	for _, tc := range []struct{ patch, want string }{
		{`[{"op":"add","path":"/spec/containers/-","value":{"name":"x","image":"` + newImg + `"}}]`,
			`The Pod "upd" is invalid: spec.containers: Forbidden: pod updates may not add or remove containers`},
		{`[{"op":"add","path":"/spec/schedulingGates","value":[{"name":"g"}]}]`,
			`The Pod "upd" is invalid: spec.schedulingGates[0].name: Forbidden: only deletion is allowed, but found new scheduling gate 'g'`},
		{`[{"op":"replace","path":"/spec/restartPolicy","value":"Never"}]`,
			"changed: spec.restartPolicy"},
	} {
		if out, code := kubectl("patch", "pod", "upd", "--type=json", "-p", tc.patch); code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("kubectl patch %s: exit %d\n%s\nwant %s", tc.patch, code, out, tc.want)
		}
	}

	out, code = kubectl("set", "image", "pod/upd", "main="+newImg)
	if code != 0 || !strings.Contains(out, "pod/upd image updated") {
		t.Fatalf("kubectl set image: exit %d\n%s", code, out)
	}
	var main *corev1.ContainerStatus
	waitFor(t, "main restarted with the new image", 60*time.Second, func() bool {
		main = running(getPod(t, cs, "upd"), "main")
		return main != nil && main.RestartCount == 1
	})
	if main.Image != newImg {
		t.Errorf("status image %q, want %q", main.Image, newImg)
	}
	if lt := main.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 0 {
		t.Errorf("lastState: %+v", main.LastTerminationState)
	}
	p := getPod(t, cs, "upd")
	if o := running(p, "other"); o == nil || o.RestartCount != 0 {
		t.Errorf("the other container was touched: %+v", p.Status.ContainerStatuses)
	}
	// The events after the change, in order. A message repeated from the
	// first start (Created, Started) is the same Event with its count
	// raised, as client-go's recorder aggregates them (describe's "x2").
	evs := podEvents(t, cs, "upd")
	kill := strings.Index(evs, "Normal Killing: Container main definition changed, will be restarted\n")
	if kill < 0 {
		t.Fatalf("no Killing event:\n%s", evs)
	}
	if !strings.Contains(evs[kill:], "Normal Pulled: Container image \""+newImg+"\" already present on machine and can be accessed by the pod") {
		t.Errorf("no Pulled event after Killing (the other container has the image):\n%s", evs)
	}
	el, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=upd"})
	if err != nil {
		t.Fatal(err)
	}
	var killedAt time.Time
	for _, e := range el.Items {
		if e.Reason == "Killing" && strings.HasPrefix(e.Message, "Container main definition changed") {
			killedAt = e.LastTimestamp.Time
		}
	}
	for _, msg := range []string{"Created container: main", "Started container main"} {
		found := false
		for _, e := range el.Items {
			if e.Message == msg {
				found = true
				if e.Count != 2 || e.LastTimestamp.Time.Before(killedAt) {
					t.Errorf("%q: count %d, last %s, Killing at %s", msg, e.Count, e.LastTimestamp, killedAt)
				}
			}
		}
		if !found {
			t.Errorf("no event %q:\n%s", msg, evs)
		}
	}
	waitFor(t, "the new module's log", 30*time.Second, func() bool {
		out, _ := kubectl("logs", "upd", "-c", "main")
		return strings.Contains(out, "ready")
	})
	out, code = kubectl("logs", "upd", "-c", "main", "--previous")
	if code != 0 || !strings.Contains(out, "serving") || !strings.Contains(out, "term prestop=false") || strings.Contains(out, "ready") {
		t.Errorf("kubectl logs --previous: exit %d\n%s", code, out)
	}
	out, code = kubectl("get", "pod", "upd", "-o", `jsonpath={.status.containerStatuses[?(@.name=="main")].restartCount} {.spec.containers[0].image}`)
	if code != 0 || out != "1 "+newImg {
		t.Errorf("kubectl get -o jsonpath: exit %d %q", code, out)
	}

	// A new image that does not exist: ErrImagePull, then ImagePullBackOff.
	missing := filepath.Join(t.TempDir(), "missing.wasm")
	if out, code := kubectl("set", "image", "pod/upd", "other="+missing); code != 0 {
		t.Fatalf("kubectl set image: exit %d\n%s", code, out)
	}
	waitFor(t, "ImagePullBackOff", 60*time.Second, func() bool {
		out, _ := kubectl("get", "pod", "upd", "--no-headers")
		return strings.Contains(out, "ImagePullBackOff") || strings.Contains(out, "ErrImagePull")
	})
	evs = podEvents(t, cs, "upd")
	for _, e := range []string{
		"Normal Killing: Container other definition changed, will be restarted",
		"Warning Failed: Failed to pull image \"" + missing + "\"",
	} {
		if !strings.Contains(evs, e) {
			t.Errorf("events lack %q:\n%s", e, evs)
		}
	}
	if m := running(getPod(t, cs, "upd"), "main"); m == nil || m.RestartCount != 1 {
		t.Errorf("main was touched by other's image change")
	}
}
