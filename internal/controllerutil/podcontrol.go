package controllerutil

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// Event reasons of upstream's RealPodControl.
const (
	FailedCreatePodReason     = "FailedCreate"
	SuccessfulCreatePodReason = "SuccessfulCreate"
	FailedDeletePodReason     = "FailedDelete"
	SuccessfulDeletePodReason = "SuccessfulDelete"
)

// PodsPrefix is the generateName of a controller's pods: "<name>-", or
// the name alone when that is no valid prefix (getPodsPrefix).
func PodsPrefix(controllerName string) string {
	prefix := controllerName + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		return controllerName
	}
	return prefix
}

// PodFromTemplate makes the pod a controller creates from its template
// (GetPodFromTemplate): the template's labels, annotations, finalizers and
// spec, generateName from the controller's name, and the controller
// reference.
func PodFromTemplate(t *corev1.PodTemplateSpec, namespace, controllerName string, ref *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    namespace,
			GenerateName: PodsPrefix(controllerName),
			Labels:       maps.Clone(t.Labels),
			Annotations:  maps.Clone(t.Annotations),
			Finalizers:   slices.Clone(t.Finalizers),
		},
		Spec: *t.Spec.DeepCopy(),
	}
	if ref != nil {
		p.OwnerReferences = []metav1.OwnerReference{*ref}
	}
	return p
}

// PodControl creates and deletes pods for a controller and records its
// events (RealPodControl).
type PodControl struct {
	Client   kubernetes.Interface
	Recorder record.EventRecorder
}

// CreatePod creates a pod from the template for object: SuccessfulCreate
// "Created pod: NAME", or FailedCreate "Error creating: ERR" unless the
// namespace is terminating.
func (c *PodControl) CreatePod(ctx context.Context, t *corev1.PodTemplateSpec, object runtime.Object, meta metav1.Object, ref *metav1.OwnerReference) (*corev1.Pod, error) {
	return c.CreatePodWithGenerateName(ctx, t, object, meta, ref, "")
}

// CreatePodWithGenerateName is CreatePod with another generateName than
// "<owner>-" when generateName is not empty (upstream's
// CreatePodsWithGenerateName; an Indexed Job's "<job>-<index>-").
func (c *PodControl) CreatePodWithGenerateName(ctx context.Context, t *corev1.PodTemplateSpec, object runtime.Object, meta metav1.Object, ref *metav1.OwnerReference, generateName string) (*corev1.Pod, error) {
	p := PodFromTemplate(t, meta.GetNamespace(), meta.GetName(), ref)
	if generateName != "" {
		p.GenerateName = generateName
	}
	if len(p.Labels) == 0 {
		return nil, fmt.Errorf("unable to create pods, no labels")
	}
	np, err := c.Client.CoreV1().Pods(meta.GetNamespace()).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.Recorder.Eventf(object, corev1.EventTypeWarning, FailedCreatePodReason, "Error creating: %v", err)
		}
		return nil, err
	}
	c.Recorder.Eventf(object, corev1.EventTypeNormal, SuccessfulCreatePodReason, "Created pod: %v", np.Name)
	return np, nil
}

// DeletePod deletes a pod of object: SuccessfulDelete "Deleted pod: NAME",
// or FailedDelete "Error deleting: ERR"; NotFound is returned as is, with
// no event.
func (c *PodControl) DeletePod(ctx context.Context, namespace, name string, object runtime.Object) error {
	err := c.Client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.Recorder.Eventf(object, corev1.EventTypeWarning, FailedDeletePodReason, "Error deleting: %v", err)
		return fmt.Errorf("unable to delete pods: %v", err)
	}
	c.Recorder.Eventf(object, corev1.EventTypeNormal, SuccessfulDeletePodReason, "Deleted pod: %v", name)
	return nil
}
