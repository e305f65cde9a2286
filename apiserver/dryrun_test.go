package apiserver

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

var dryAll = []string{metav1.DryRunAll}

// TestDryRunClientGo: dryRun=All through client-go answers what a real
// request would (generated name, uid, defaults, allocated clusterIP,
// validation and conflict errors) but stores nothing and emits no watch
// event.
func TestDryRunClientGo(t *testing.T) {
	forModes(t, func(t *testing.T, e *env, cs *kubernetes.Clientset) {
		ctx := context.Background()
		pods := cs.CoreV1().Pods("default")
		list, err := pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()

		// Create: the would-be object, with a generated name, uid,
		// creationTimestamp and defaults, and no resourceVersion.
		gen := httpPod("")
		gen.GenerateName = "dr-"
		p, err := pods.Create(ctx, gen, metav1.CreateOptions{DryRun: dryAll})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Name, "dr-") || len(p.Name) != len("dr-")+5 || p.UID == "" || p.CreationTimestamp.IsZero() ||
			p.ResourceVersion != "" || p.Status.Phase != corev1.PodPending {
			t.Fatalf("dry-run create answered %+v %+v", p.ObjectMeta, p.Status)
		}
		if _, err := pods.Get(ctx, p.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("dry-run create stored the pod: %v", err)
		}
		// Validation still runs.
		bad := httpPod("x")
		bad.Spec.Containers[0].Image = ""
		_, err = pods.Create(ctx, bad, metav1.CreateOptions{DryRun: dryAll})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid, `Pod "x" is invalid: spec.containers[0].image: Required value`)
		// Unknown values are refused as upstream.
		_, err = pods.Create(ctx, httpPod("y"), metav1.CreateOptions{DryRun: []string{"Some"}})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid, `CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Some"]: supported values: "All"`)
		err = pods.Delete(ctx, "y", metav1.DeleteOptions{DryRun: []string{"Some"}})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid, `DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Some"]: supported values: "All"`)

		real, err := pods.Create(ctx, httpPod("a"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Create(ctx, httpPod("a"), metav1.CreateOptions{DryRun: dryAll}); !apierrors.IsAlreadyExists(err) {
			t.Fatalf("dry-run create of an existing name: %v", err)
		}

		// Update and the three patch types answer the change, keep the
		// resourceVersion, and store nothing.
		upd := real.DeepCopy()
		upd.Labels["tier"] = "dry"
		got, err := pods.Update(ctx, upd, metav1.UpdateOptions{DryRun: dryAll})
		if err != nil || got.Labels["tier"] != "dry" || got.ResourceVersion != real.ResourceVersion || got.UID != real.UID {
			t.Fatalf("dry-run update: %+v %v", got, err)
		}
		for pt, body := range map[types.PatchType]string{
			types.MergePatchType:          `{"metadata":{"labels":{"tier":"dry"}}}`,
			types.StrategicMergePatchType: `{"metadata":{"labels":{"tier":"dry"}}}`,
			types.JSONPatchType:           `[{"op":"add","path":"/metadata/labels/tier","value":"dry"}]`,
		} {
			got, err := pods.Patch(ctx, "a", pt, []byte(body), metav1.PatchOptions{DryRun: dryAll})
			if err != nil || got.Labels["tier"] != "dry" {
				t.Fatalf("dry-run %s patch: %+v %v", pt, got, err)
			}
		}
		upd.Spec.Containers[0].Image = "" // an invalid update is still 422
		_, err = pods.Update(ctx, upd, metav1.UpdateOptions{DryRun: dryAll})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid, "")
		// Delete, delete collection and eviction leave the pod.
		if err := pods.Delete(ctx, "a", metav1.DeleteOptions{DryRun: dryAll}); err != nil {
			t.Fatal(err)
		}
		if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{DryRun: dryAll}, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"},
			DeleteOptions: &metav1.DeleteOptions{DryRun: dryAll}}); err != nil {
			t.Fatal(err)
		}
		if err := pods.Delete(ctx, "nope", metav1.DeleteOptions{DryRun: dryAll}); !apierrors.IsNotFound(err) {
			t.Fatalf("dry-run delete of a missing pod: %v", err)
		}
		now, err := pods.Get(ctx, "a", metav1.GetOptions{})
		if err != nil || now.ResourceVersion != real.ResourceVersion || now.Labels["tier"] != "" || len(now.Status.Conditions) != 0 {
			t.Fatalf("after dry runs the pod changed: %+v %v", now, err)
		}

		// A bound pod's dry-run delete answers the graceful marking (202)
		// without storing it.
		bound := httpPod("b")
		bound.Spec.NodeName = "node-1"
		if _, err := pods.Create(ctx, bound, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		res := cs.CoreV1().RESTClient().Delete().Namespace("default").Resource("pods").Name("b").Param("dryRun", "All").Do(ctx)
		var code int
		res.StatusCode(&code)
		raw, err := res.Raw()
		if err != nil || code != 202 || !strings.Contains(string(raw), `"deletionTimestamp"`) {
			t.Fatalf("dry-run graceful delete: %d %s %v", code, raw, err)
		}
		if b, err := pods.Get(ctx, "b", metav1.GetOptions{}); err != nil || b.DeletionTimestamp != nil {
			t.Fatalf("dry-run graceful delete marked the pod: %+v %v", b, err)
		}

		// A dry-run binding answers 201 and leaves the pod pending.
		err = cs.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("a").SubResource("binding").
			Param("dryRun", "All").Body(&corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}).Do(ctx).Error()
		if err != nil {
			t.Fatalf("dry-run binding: %v", err)
		}
		if a, err := pods.Get(ctx, "a", metav1.GetOptions{}); err != nil || a.Spec.NodeName != "" || a.ResourceVersion != real.ResourceVersion {
			t.Fatalf("dry-run binding bound the pod: %+v %v", a, err)
		}
		// A namespace's dry-run delete does not start its termination.
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().Namespaces().Delete(ctx, "n", metav1.DeleteOptions{DryRun: dryAll}); err != nil {
			t.Fatal(err)
		}
		if n, err := cs.CoreV1().Namespaces().Get(ctx, "n", metav1.GetOptions{}); err != nil || n.DeletionTimestamp != nil || n.Status.Phase != corev1.NamespaceActive {
			t.Fatalf("dry-run namespace delete: %+v %v", n, err)
		}

		// A Service's clusterIP is allocated in the answer only.
		svc, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "s"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
		}, metav1.CreateOptions{DryRun: dryAll})
		if err != nil || svc.Spec.ClusterIP == "" {
			t.Fatalf("dry-run service: %+v %v", svc, err)
		}
		if _, err := cs.CoreV1().Services("default").Get(ctx, "s", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("dry-run service stored: %v", err)
		}

		// The watch saw only the real writes: a, b, then a real update.
		real.Labels["tier"] = "real"
		if _, err := pods.Update(ctx, real, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		var seen []string
		for len(seen) < 3 {
			select {
			case ev := <-w.ResultChan():
				p := ev.Object.(*corev1.Pod)
				seen = append(seen, string(ev.Type)+" "+p.Name+" "+p.Labels["tier"])
			case <-time.After(10 * time.Second):
				t.Fatalf("watch events: %q", seen)
			}
		}
		if want := []string{string(watch.Added) + " a ", string(watch.Added) + " b ", string(watch.Modified) + " a real"}; strings.Join(seen, "|") != strings.Join(want, "|") {
			t.Fatalf("watch events:\n got %q\nwant %q", seen, want)
		}
	})
}

// TestDryRunRealKubectl: upstream kubectl's --dry-run=server and diff.
func TestDryRunRealKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	cs := e.client(t, "http")
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, tier string) string {
		p := filepath.Join(dir, name)
		y := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels:\n    tier: " + tier +
			"\nspec:\n  containers:\n  - name: main\n    image: app.wasm\n"
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pod, changed := write("pod.yaml", "front"), write("changed.yaml", "back")
	absent := func(what string) {
		t.Helper()
		if _, err := cs.CoreV1().Pods("default").Get(ctx, "x", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("%s stored the pod: %v", what, err)
		}
	}

	if out := k.run(t, "apply", "--dry-run=server", "-f", pod); out != "pod/x created (server dry run)\n" {
		t.Fatalf("apply --dry-run=server: %q", out)
	}
	absent("apply --dry-run=server")
	if out := k.run(t, "create", "--dry-run=server", "-f", pod); out != "pod/x created (server dry run)\n" {
		t.Fatalf("create --dry-run=server: %q", out)
	}
	absent("create --dry-run=server")

	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("no diff program for kubectl diff")
	}
	// diff against nothing: the whole object is new (exit 1).
	out, code := k.diff(t, pod)
	if code != 1 || !strings.Contains(out, "+  name: x") || !strings.Contains(out, "+    tier: front") {
		t.Fatalf("diff of a new object: exit %d\n%s", code, out)
	}
	absent("diff")

	k.run(t, "apply", "-f", pod)
	if out, code := k.diff(t, pod); code != 0 || out != "" {
		t.Fatalf("diff without changes: exit %d\n%s", code, out)
	}
	out, code = k.diff(t, changed)
	if code != 1 || !strings.Contains(out, "-    tier: front") || !strings.Contains(out, "+    tier: back") {
		t.Fatalf("diff of a change: exit %d\n%s", code, out)
	}
	if p, err := cs.CoreV1().Pods("default").Get(ctx, "x", metav1.GetOptions{}); err != nil || p.Labels["tier"] != "front" {
		t.Fatalf("diff changed the pod: %+v %v", p, err)
	}
	if out := k.run(t, "apply", "--dry-run=server", "-f", changed); out != "pod/x configured (server dry run)\n" {
		t.Fatalf("apply --dry-run=server of a change: %q", out)
	}
	if out := k.run(t, "delete", "pod", "x", "--dry-run=server"); out != "pod \"x\" deleted from default namespace (server dry run)\n" {
		t.Fatalf("delete --dry-run=server: %q", out)
	}
	p, err := cs.CoreV1().Pods("default").Get(ctx, "x", metav1.GetOptions{})
	if err != nil || p.Labels["tier"] != "front" || p.DeletionTimestamp != nil {
		t.Fatalf("after dry runs: %+v %v", p, err)
	}
	// A NodePort Service: its allocated clusterIP and nodePort are no
	// difference.
	svc := filepath.Join(dir, "svc.yaml")
	if err := os.WriteFile(svc, []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector:\n    app: web\n  ports:\n  - port: 80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.run(t, "apply", "-f", svc)
	if out, code := k.diff(t, svc); code != 0 || out != "" {
		t.Fatalf("diff of an unchanged Service: exit %d\n%s", code, out)
	}
	// A dry-run that fails validation reports the error.
	c := k.cmd("patch", "pod", "x", "--dry-run=server", "-p", `{"spec":{"containers":[{"name":"main","image":""}]}}`)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err == nil || !strings.Contains(stderr.String(), `Pod "x" is invalid`) {
		t.Fatalf("invalid dry-run label: %v %s", err, stderr.String())
	}
}

// diff runs kubectl diff -f file and returns its output and exit code.
func (k *kubectlRunner) diff(t *testing.T, file string) (string, int) {
	t.Helper()
	c := k.cmd("diff", "-f", file)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code > 1 {
		t.Fatalf("kubectl diff: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	return stdout.String(), code
}
