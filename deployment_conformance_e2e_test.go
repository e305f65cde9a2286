package wasmpod_test

// Upstream's Deployment conformance behaviours that the kinds' kubectl e2e
// (deployment_e2e_test.go) and the controller's unit tests do not cover
// (test/e2e/apps/deployment.go, Kubernetes v1.37: the scale subresource,
// the status endpoints, the lifecycle), with real pods (image busybox: the
// toolbox), the Deployment and ReplicaSet controllers and client-go, one
// cluster shared by parallel subtests, each in a namespace of its own.
// Each subtest is named after the upstream behaviour;
// docs/conformance-apps.md maps every behaviour.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// newConfDeployment is upstream's e2edeployment.NewDeployment: replicas of
// one container named after the deployment, the selector and the
// template's labels the same, RollingUpdate, grace period 1 (the toolbox's
// sh does not trap TERM).
func newConfDeployment(name string, replicas int32, labels map[string]string, image string) *appsv1.Deployment {
	one := int64(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &one,
					Containers: []corev1.Container{{Name: name, Image: image, Command: []string{"sh", "-c", "sleep 3600"}}}},
			},
		},
	}
}

// waitDeploymentComplete is upstream's WaitForDeploymentComplete: the
// controller observed the generation, and every replica is updated,
// available and none unavailable, with no old ones left.
func waitDeploymentComplete(t *testing.T, cs kubernetes.Interface, ns, name string, want int32) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	waitFor(t, fmt.Sprintf("deployment %s/%s complete with %d replicas", ns, name, want), 60*time.Second, func() bool {
		var err error
		d, err = cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.Replicas == want && s.UpdatedReplicas == want &&
			s.ReadyReplicas == want && s.AvailableReplicas == want && s.UnavailableReplicas == 0
	})
	return d
}

// untilEvent reads w until match accepts an event (upstream's
// watchtools.Until), failing after timeout.
func untilEvent(t *testing.T, w watch.Interface, what string, timeout time.Duration, match func(watch.EventType, *appsv1.Deployment) bool) *appsv1.Deployment {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the watch closed before %s", what)
			}
			if d, ok := ev.Object.(*appsv1.Deployment); ok && match(ev.Type, d) {
				return d
			}
		case <-deadline:
			t.Fatalf("no watch event: %s", what)
		}
	}
}

func TestConformanceDeployment(t *testing.T) {
	cc := newConformanceCluster(t)
	cs := cc.cs
	ctx := context.Background()

	// framework.ConformanceIt("Deployment should have a working scale
	// subresource"): upstream's testDeploymentSubresources.
	t.Run("Deployment should have a working scale subresource", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "deploy-scale")
		name := "test-new-deployment"
		dc := cs.AppsV1().Deployments(ns)
		if _, err := dc.Create(ctx, newConfDeployment(name, 1, map[string]string{"name": "httpd"}, "busybox"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitDeploymentComplete(t, cs, ns, name, 1)

		scale, err := dc.GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get scale: %v", err)
		}
		if scale.Spec.Replicas != 1 || scale.Status.Replicas != 1 {
			t.Fatalf("scale: spec %d status %d, want 1 and 1", scale.Spec.Replicas, scale.Status.Replicas)
		}
		if scale.Status.Selector != "name=httpd" {
			t.Fatalf("scale status.selector %q, want name=httpd", scale.Status.Selector)
		}
		scale.ResourceVersion = "" // an unconditional update, as upstream's
		scale.Spec.Replicas = 2
		res, err := dc.UpdateScale(ctx, name, scale, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("put scale: %v", err)
		}
		if res.Spec.Replicas != 2 {
			t.Fatalf("put scale returned spec.replicas %d, want 2", res.Spec.Replicas)
		}
		d, err := dc.Get(ctx, name, metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 2 {
			t.Fatalf("after put scale: %v, spec.replicas %v", err, d.Spec.Replicas)
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": 4}})
		if _, err := dc.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "scale"); err != nil {
			t.Fatalf("patch scale: %v", err)
		}
		d, err = dc.Get(ctx, name, metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 4 {
			t.Fatalf("after patch scale: %v, spec.replicas %v", err, d.Spec.Replicas)
		}
		// Beyond upstream: the controllers follow, and /scale reports it.
		waitDeploymentComplete(t, cs, ns, name, 4)
		scale, err = dc.GetScale(ctx, name, metav1.GetOptions{})
		if err != nil || scale.Spec.Replicas != 4 || scale.Status.Replicas != 4 {
			t.Fatalf("scale after the rollout: %v %+v", err, scale)
		}
		// Beyond upstream, as kube-apiserver answers: a stale
		// resourceVersion is a conflict, a negative count is refused
		// naming spec.replicas, a missing deployment's scale is NotFound.
		stale := scale.DeepCopy()
		stale.ResourceVersion = res.ResourceVersion
		stale.Spec.Replicas = 3
		if _, err := dc.UpdateScale(ctx, name, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Fatalf("put scale with a stale resourceVersion: %v, want a conflict", err)
		}
		neg := scale.DeepCopy()
		neg.Spec.Replicas = -1
		if _, err := dc.UpdateScale(ctx, name, neg, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.replicas") {
			t.Fatalf("put scale with -1 replicas: %v, want Invalid naming spec.replicas", err)
		}
		if _, err := dc.GetScale(ctx, "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("get scale of a missing deployment: %v, want NotFound", err)
		}
	})

	// framework.ConformanceIt("should validate Deployment Status
	// endpoints"): read, update and patch /status; every write is seen by
	// a watch and by the next read.
	t.Run("should validate Deployment Status endpoints", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "deploy-status")
		name := "test-deployment-status"
		dc := cs.AppsV1().Deployments(ns)
		list, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: "e2e=testing"})
		if err != nil {
			t.Fatal(err)
		}
		w, err := dc.Watch(ctx, metav1.ListOptions{LabelSelector: "e2e=testing", ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if _, err := dc.Create(ctx, newConfDeployment(name, 1, map[string]string{"name": "httpd", "e2e": "testing"}, "busybox"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		d := waitDeploymentComplete(t, cs, ns, name, 1)
		if d.Annotations["deployment.kubernetes.io/revision"] != "1" {
			t.Fatalf("revision annotation %q, want 1", d.Annotations["deployment.kubernetes.io/revision"])
		}

		// GET /status through the raw path (JSON), as upstream's dynamic client.
		raw, err := cs.AppsV1().RESTClient().Get().Namespace(ns).Resource("deployments").Name(name).SubResource("status").
			SetHeader("Accept", "application/json").DoRaw(ctx)
		if err != nil {
			t.Fatalf("get status: %v", err)
		}
		var got appsv1.Deployment
		if err := json.Unmarshal(raw, &got); err != nil || got.Name != name || got.Status.AvailableReplicas != 1 {
			t.Fatalf("get status: %v %s %+v", err, got.Name, got.Status)
		}
		var conds []string
		for _, c := range got.Status.Conditions {
			conds = append(conds, string(c.Type)+"="+string(c.Status))
		}
		sort.Strings(conds)
		if fmt.Sprint(conds) != "[Available=True Progressing=True]" {
			t.Fatalf("conditions %v, want Available=True and Progressing=True", conds)
		}

		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := dc.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			d.Status.Conditions = append(d.Status.Conditions, appsv1.DeploymentCondition{
				Type: "StatusUpdate", Status: "True", Reason: "E2E", Message: "Set from e2e test"})
			_, err = dc.UpdateStatus(ctx, d, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatalf("update status: %v", err)
		}
		hasCond := func(d *appsv1.Deployment, typ, reason, message string) bool {
			for _, c := range d.Status.Conditions {
				if string(c.Type) == typ && c.Status == "True" && c.Reason == reason && c.Message == message {
					return true
				}
			}
			return false
		}
		// Beyond upstream: a status write does not change the spec
		// (deploymentStatusStrategy keeps the old spec).
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := dc.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			five := int32(5)
			d.Spec.Replicas = &five
			d, err = dc.UpdateStatus(ctx, d, metav1.UpdateOptions{})
			if err == nil && *d.Spec.Replicas != 1 {
				t.Errorf("a status update wrote spec.replicas %d", *d.Spec.Replicas)
			}
			return err
		}); err != nil {
			t.Fatalf("update status with another spec: %v", err)
		}
		untilEvent(t, w, "the StatusUpdate condition", 30*time.Second, func(_ watch.EventType, d *appsv1.Deployment) bool {
			return d.Name == name && d.Namespace == ns && d.Labels["e2e"] == "testing" && hasCond(d, "StatusUpdate", "E2E", "Set from e2e test")
		})

		payload := []byte(`{"status":{"conditions":[{"type":"StatusPatched","status":"True"}]}}`)
		patched, err := dc.Patch(ctx, name, types.MergePatchType, payload, metav1.PatchOptions{}, "status")
		if err != nil {
			t.Fatalf("patch status: %v", err)
		}
		if !hasCond(patched, "StatusPatched", "", "") {
			t.Fatalf("patch status returned conditions %+v", patched.Status.Conditions)
		}
		untilEvent(t, w, "the StatusPatched condition", 30*time.Second, func(_ watch.EventType, d *appsv1.Deployment) bool {
			return d.Name == name && d.Labels["e2e"] == "testing" && hasCond(d, "StatusPatched", "", "")
		})
	})

	// framework.ConformanceIt("should run the lifecycle of a Deployment"):
	// create and watch it become ready, strategic-merge patch labels,
	// replicas and the template, list it across namespaces, replace it
	// unconditionally, read and strategic-merge patch /status (the
	// labels in a status patch are not written; the controller puts the
	// counts back), delete the collection and watch the delete.
	t.Run("should run the lifecycle of a Deployment", func(t *testing.T) {
		t.Parallel()
		ns := confNamespace(t, cs, "deploy-lifecycle")
		name := "test-deployment"
		dc := cs.AppsV1().Deployments(ns)
		const sel = "test-deployment-static=true"
		static := func(d *appsv1.Deployment) bool {
			return d.Name == name && d.Labels["test-deployment-static"] == "true"
		}
		list, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		w, err := dc.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()

		d := newConfDeployment(name, 2, map[string]string{"test-deployment-static": "true"}, "busybox")
		d.Labels = map[string]string{"test-deployment-static": "true"}
		if _, err := dc.Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		untilEvent(t, w, "ADDED", 30*time.Second, func(ty watch.EventType, got *appsv1.Deployment) bool {
			return ty == watch.Added && static(got)
		})
		untilEvent(t, w, "2 ready replicas", 60*time.Second, func(_ watch.EventType, got *appsv1.Deployment) bool {
			return static(got) && got.Status.ReadyReplicas == 2
		})

		// Patch: a label, replicas 1, grace 2 and another image.
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"labels": map[string]string{"test-deployment": "patched"}},
			"spec": map[string]any{"replicas": 1, "template": map[string]any{"spec": map[string]any{
				"terminationGracePeriodSeconds": 2,
				"containers":                    []map[string]any{{"name": name, "image": "busybox:1.36"}}}}},
		})
		if _, err := dc.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatalf("patch: %v", err)
		}
		untilEvent(t, w, "MODIFIED by the patch", 30*time.Second, func(ty watch.EventType, got *appsv1.Deployment) bool {
			return ty == watch.Modified && static(got) && got.Labels["test-deployment"] == "patched"
		})
		untilEvent(t, w, "scaled to 1 with the patched template", 60*time.Second, func(_ watch.EventType, got *appsv1.Deployment) bool {
			s := got.Status
			return static(got) && s.ReadyReplicas == 1 && s.UpdatedReplicas == 1 && s.UnavailableReplicas == 0 &&
				got.Spec.Template.Spec.Containers[0].Image == "busybox:1.36" &&
				*got.Spec.Template.Spec.TerminationGracePeriodSeconds == 2
		})

		all, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range all.Items {
			found = found || (it.Name == name && it.Namespace == ns)
		}
		if !found {
			t.Fatalf("the deployment is not in the list across namespaces (%d items)", len(all.Items))
		}

		// Replace: upstream updates its original object (no
		// resourceVersion: an unconditional update) with a label, 2
		// replicas and a third image.
		d.Labels["test-deployment"] = "updated"
		d.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
		two := int32(2)
		d.Spec.Replicas = &two
		if _, err := dc.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("unconditional update: %v", err)
		}
		untilEvent(t, w, "MODIFIED by the update", 30*time.Second, func(ty watch.EventType, got *appsv1.Deployment) bool {
			return ty == watch.Modified && static(got) && got.Labels["test-deployment"] == "updated"
		})
		getStatus := func() *appsv1.Deployment {
			t.Helper()
			raw, err := cs.AppsV1().RESTClient().Get().Namespace(ns).Resource("deployments").Name(name).SubResource("status").
				SetHeader("Accept", "application/json").DoRaw(ctx)
			if err != nil {
				t.Fatalf("get status: %v", err)
			}
			var got appsv1.Deployment
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if got.Spec.Template.Spec.Containers[0].Image != "busybox:1.37" || got.Labels["test-deployment"] != "updated" {
				t.Fatalf("status read: image %s labels %v, want busybox:1.37 and test-deployment=updated",
					got.Spec.Template.Spec.Containers[0].Image, got.Labels)
			}
			return &got
		}
		getStatus()
		complete := func(what string) {
			t.Helper()
			untilEvent(t, w, what, 60*time.Second, func(_ watch.EventType, got *appsv1.Deployment) bool {
				s := got.Status
				return static(got) && s.ReadyReplicas == 2 && s.UpdatedReplicas == 2 && s.UnavailableReplicas == 0 &&
					got.Spec.Template.Spec.Containers[0].Image == "busybox:1.37"
			})
		}
		complete("2 ready replicas of the updated template")

		// Patch /status: the counts are written (and then put back by the
		// controller), the label is not (a status write keeps metadata's
		// labels, as upstream's deploymentStatusStrategy).
		statusPatch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"labels": map[string]string{"test-deployment": "patched-status"}},
			"status":   map[string]any{"readyReplicas": 0, "availableReplicas": 0},
		})
		res, err := dc.Patch(ctx, name, types.StrategicMergePatchType, statusPatch, metav1.PatchOptions{}, "status")
		if err != nil {
			t.Fatalf("patch status: %v", err)
		}
		if res.Status.ReadyReplicas != 0 || res.Labels["test-deployment"] != "updated" {
			t.Fatalf("patch status returned readyReplicas %d labels %v", res.Status.ReadyReplicas, res.Labels)
		}
		untilEvent(t, w, "MODIFIED by the status patch", 30*time.Second, func(ty watch.EventType, got *appsv1.Deployment) bool {
			return ty == watch.Modified && static(got) && got.Status.ReadyReplicas == 0
		})
		getStatus()
		complete("the controller's counts back")

		one := int64(1)
		if err := dc.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &one}, metav1.ListOptions{LabelSelector: sel}); err != nil {
			t.Fatalf("delete collection: %v", err)
		}
		untilEvent(t, w, "DELETED", 60*time.Second, func(ty watch.EventType, got *appsv1.Deployment) bool {
			return ty == watch.Deleted && static(got)
		})
	})
}
