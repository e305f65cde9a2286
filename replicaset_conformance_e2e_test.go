package wasmpod_test

// Upstream's ReplicaSet conformance behaviours (test/e2e/apps/replica_set.go,
// Kubernetes v1.37, every framework.ConformanceIt) with real pods (image
// busybox: the toolbox), the ReplicaSet controller and client-go, one
// cluster shared by parallel subtests, each in a namespace of its own (as
// upstream's framework gives each test one). Each subtest is named after
// the upstream behaviour. docs/conformance-apps.md maps every behaviour.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// confNamespace creates a namespace for one subtest.
func confNamespace(t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// confRS is upstream's newRS: replicas of one container, the selector and
// the template's labels the same, grace period 0. The container runs
// command (busybox sleeping when none is given).
func confRS(name string, replicas int32, labels map[string]string, command ...string) *appsv1.ReplicaSet {
	if len(command) == 0 {
		command = []string{"sh", "-c", "sleep 3600"}
	}
	zero := int64(0)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero,
					Containers: []corev1.Container{{Name: name, Image: "busybox", Command: command}}},
			},
		},
	}
}

// waitRSReady waits until the ReplicaSet's controller has observed its
// generation and reports want ready replicas (and no more replicas).
func waitRSReady(t *testing.T, cs kubernetes.Interface, ns, name string, want int32) *appsv1.ReplicaSet {
	t.Helper()
	var rs *appsv1.ReplicaSet
	waitFor(t, fmt.Sprintf("%s/%s: %d ready replicas", ns, name, want), 120*time.Second, func() bool {
		var err error
		rs, err = cs.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rs.Status.ObservedGeneration >= rs.Generation && rs.Status.ReadyReplicas == want && rs.Status.Replicas == want
	})
	return rs
}

// controlledPods lists the pods of ns that owner controls and that are not
// being deleted.
func controlledPods(t *testing.T, cs kubernetes.Interface, ns string, owner types.UID) []corev1.Pod {
	t.Helper()
	l, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == owner && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func TestConformanceReplicaSet(t *testing.T) {
	cc := newConformanceCluster(t)
	cs := cc.cs
	ctx := context.Background()

	// framework.ConformanceIt("should serve a basic image on each replica
	// with a public image"): upstream's serve-hostname answers on 9376
	// with the pod's hostname; here the toolbox's httpd serves a file
	// holding `hostname`, and each replica is dialled at its pod IP.
	t.Run("should serve a basic image on each replica with a public image", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "rs-basic")
		name := "my-hostname-basic"
		rs := confRS(name, 2, map[string]string{"name": name},
			"sh", "-c", "mkdir -p /www && hostname > /www/index.html && httpd -f -p 9376 -h /www")
		rs.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 9376}}
		rs, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitRSReady(t, cs, ns, name, 2)
		pods := controlledPods(t, cs, ns, rs.UID)
		if len(pods) != 2 {
			t.Fatalf("%d pods controlled by the ReplicaSet, want 2", len(pods))
		}
		for _, p := range pods {
			if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
				t.Fatalf("pod %s: phase %s, IP %q", p.Name, p.Status.Phase, p.Status.PodIP)
			}
			// Dial each replica from the other, as upstream's proxy dials each.
			from := pods[0].Name
			if from == p.Name {
				from = pods[1].Name
			}
			var out string
			waitFor(t, p.Name+" to answer", 30*time.Second, func() bool {
				out = execNS(t, cc, ns, from, "wget", "-q", "-O", "-", "http://"+p.Status.PodIP+":9376/")
				return strings.TrimSpace(out) == p.Name
			})
		}
	})

	// framework.ConformanceIt("should adopt matching pods on creation and
	// release no longer matching pods").
	t.Run("should adopt matching pods on creation and release no longer matching pods", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "rs-adopt")
		name := "pod-adoption-release"
		p := busyboxPod(name, "sh", "-c", "sleep 3600")
		p.Namespace = ns
		p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the orphan running", 60*time.Second, func() bool {
			got, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			return err == nil && got.Status.Phase == corev1.PodRunning
		})
		rs, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, confRS(name, 1, map[string]string{"name": name}), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The orphan is adopted (or deleted and replaced, as upstream allows).
		waitFor(t, "the orphan adopted", 60*time.Second, func() bool {
			got, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true
			}
			ref := metav1.GetControllerOf(got)
			return err == nil && ref != nil && ref.UID == rs.UID
		})
		pods := controlledPods(t, cs, ns, rs.UID)
		if len(pods) != 1 {
			t.Fatalf("%d pods controlled by the ReplicaSet, want 1 (the adopted one, no second)", len(pods))
		}
		victim := pods[0].Name
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			got, err := cs.CoreV1().Pods(ns).Get(ctx, victim, metav1.GetOptions{})
			if err != nil {
				return err
			}
			got.Labels = map[string]string{"name": "not-matching-name"}
			_, err = cs.CoreV1().Pods(ns).Update(ctx, got, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the pod released", 60*time.Second, func() bool {
			got, err := cs.CoreV1().Pods(ns).Get(ctx, victim, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range got.OwnerReferences {
				if o.UID == rs.UID {
					return false
				}
			}
			return true
		})
		// And the ReplicaSet makes a replacement for it.
		waitRSReady(t, cs, ns, name, 1)
	})

	// framework.ConformanceIt("Replicaset should have a working scale
	// subresource").
	t.Run("Replicaset should have a working scale subresource", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "rs-scale")
		name := "test-rs"
		labels := map[string]string{"name": "sample-pod", "pod": "httpd"}
		if _, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, confRS(name, 1, labels), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitRSReady(t, cs, ns, name, 1)
		scale, err := cs.AppsV1().ReplicaSets(ns).GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get scale: %v", err)
		}
		if scale.Spec.Replicas != 1 || scale.Status.Replicas != 1 {
			t.Fatalf("scale: spec %d status %d, want 1 and 1", scale.Spec.Replicas, scale.Status.Replicas)
		}
		scale.ResourceVersion = "" // an unconditional update, as upstream's
		scale.Spec.Replicas = 2
		res, err := cs.AppsV1().ReplicaSets(ns).UpdateScale(ctx, name, scale, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("put scale: %v", err)
		}
		if res.Spec.Replicas != 2 {
			t.Fatalf("put scale returned spec.replicas %d, want 2", res.Spec.Replicas)
		}
		rs, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || *rs.Spec.Replicas != 2 {
			t.Fatalf("after put scale: %v, spec.replicas %v", err, rs.Spec.Replicas)
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": 4}})
		if _, err := cs.AppsV1().ReplicaSets(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "scale"); err != nil {
			t.Fatalf("patch scale: %v", err)
		}
		rs, err = cs.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || *rs.Spec.Replicas != 4 {
			t.Fatalf("after patch scale: %v, spec.replicas %v", err, rs.Spec.Replicas)
		}
		waitRSReady(t, cs, ns, name, 4)
	})

	// framework.ConformanceIt("Replace and Patch tests"): scaled by an
	// update (replace) to 2, then a strategic-merge patch of labels,
	// replicas 3 and the container's image.
	t.Run("Replace and Patch tests", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "rs-replace-patch")
		name := "test-rs"
		labels := map[string]string{"name": "sample-pod", "pod": "httpd"}
		if _, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, confRS(name, 1, labels), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitRSReady(t, cs, ns, name, 1)
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			rs, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			two := int32(2)
			rs.Spec.Replicas = &two
			_, err = cs.AppsV1().ReplicaSets(ns).Update(ctx, rs, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatalf("replace: %v", err)
		}
		waitRSReady(t, cs, ns, name, 2)
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"labels": map[string]string{"test-rs": "patched"}},
			"spec": map[string]any{"replicas": 3, "template": map[string]any{"spec": map[string]any{
				"terminationGracePeriodSeconds": 1,
				"containers":                    []map[string]any{{"name": name, "image": "busybox:1.36"}}}}},
		})
		if _, err := cs.AppsV1().ReplicaSets(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatalf("patch: %v", err)
		}
		rs := waitRSReady(t, cs, ns, name, 3)
		if rs.Labels["test-rs"] != "patched" || rs.Spec.Template.Spec.Containers[0].Image != "busybox:1.36" ||
			*rs.Spec.Template.Spec.TerminationGracePeriodSeconds != 1 {
			t.Fatalf("patched ReplicaSet: labels %v, image %s, grace %d", rs.Labels,
				rs.Spec.Template.Spec.Containers[0].Image, *rs.Spec.Template.Spec.TerminationGracePeriodSeconds)
		}
	})

	// framework.ConformanceIt("should list and delete a collection of
	// ReplicaSets").
	t.Run("should list and delete a collection of ReplicaSets", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "rs-collection")
		name := "test-rs"
		labels := map[string]string{"name": "sample-pod", "e2e": "rs-collection"}
		if _, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, confRS(name, 3, labels), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitRSReady(t, cs, ns, name, 3)
		sel := metav1.ListOptions{LabelSelector: "e2e=rs-collection"}
		l, err := cs.AppsV1().ReplicaSets("").List(ctx, sel)
		if err != nil || len(l.Items) != 1 || l.Items[0].Namespace != ns {
			t.Fatalf("list by label across namespaces: %v %d", err, len(l.Items))
		}
		if err := cs.AppsV1().ReplicaSets(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
			t.Fatalf("delete collection: %v", err)
		}
		waitFor(t, "the ReplicaSets deleted", 60*time.Second, func() bool {
			l, err := cs.AppsV1().ReplicaSets(ns).List(ctx, sel)
			return err == nil && len(l.Items) == 0
		})
	})

	// framework.ConformanceIt("should validate Replicaset Status
	// endpoints"): read, update and patch /status; every write is visible
	// to the next read and to a watch.
	t.Run("should validate Replicaset Status endpoints", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "rs-status")
		name := "test-rs"
		labels := map[string]string{"name": "sample-pod", "pod": "httpd"}
		created, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, confRS(name, 1, labels), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitRSReady(t, cs, ns, name, 1)
		w, err := cs.AppsV1().ReplicaSets(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: created.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		// GET /status through the raw path (JSON), as upstream's dynamic client.
		raw, err := cs.AppsV1().RESTClient().Get().Namespace(ns).Resource("replicasets").Name(name).SubResource("status").
			SetHeader("Accept", "application/json").DoRaw(ctx)
		if err != nil {
			t.Fatalf("get status: %v", err)
		}
		var got appsv1.ReplicaSet
		if err := json.Unmarshal(raw, &got); err != nil || got.Name != name || got.Status.Replicas != 1 {
			t.Fatalf("get status: %v %s %+v", err, got.Name, got.Status)
		}
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			rs, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{Type: "StatusUpdate", Status: "True", Reason: "E2E", Message: "Set from e2e test"})
			_, err = cs.AppsV1().ReplicaSets(ns).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatalf("update status: %v", err)
		}
		watchCondition := func(typ string) {
			t.Helper()
			deadline := time.After(30 * time.Second)
			for {
				select {
				case ev, ok := <-w.ResultChan():
					if !ok {
						t.Fatalf("watch closed before %s", typ)
					}
					if rs, ok := ev.Object.(*appsv1.ReplicaSet); ok {
						for _, c := range rs.Status.Conditions {
							if string(c.Type) == typ && c.Status == "True" {
								return
							}
						}
					}
				case <-deadline:
					t.Fatalf("no watch event with condition %s", typ)
				}
			}
		}
		watchCondition("StatusUpdate")
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"annotations": map[string]string{"patchedstatus": "true"}},
			"status":   map[string]any{"conditions": []map[string]any{{"type": "StatusPatched", "status": "True"}}},
		})
		if _, err := cs.AppsV1().ReplicaSets(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			t.Fatalf("patch status: %v", err)
		}
		watchCondition("StatusPatched")
		rs, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range rs.Status.Conditions {
			found = found || c.Type == "StatusPatched"
		}
		if !found || rs.Annotations["patchedstatus"] != "true" {
			t.Fatalf("after the status patch: conditions %+v annotations %v", rs.Status.Conditions, rs.Annotations)
		}
	})
}

// execNS runs command in the first container of ns/pod and returns its
// stdout (empty when it fails).
func execNS(t *testing.T, cc *confCluster, ns, pod string, command ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	code, err := cc.c.Exec(ctx, ns, pod, &corev1.PodExecOptions{Command: command, Stdout: true}, wasmpod.ExecStreams{Stdout: &out})
	if err != nil || code != 0 {
		return ""
	}
	return out.String()
}
