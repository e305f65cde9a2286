package controllerutil

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
)

// NewControllerRef is the ownerReference a controller puts on what it
// controls: controller and blockOwnerDeletion true (metav1.NewControllerRef).
func NewControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) *metav1.OwnerReference {
	return metav1.NewControllerRef(owner, gvk)
}

// PodClaimer is upstream's PodControllerRefManager for one sync of one
// controller.
type PodClaimer struct {
	Client   kubernetes.Interface
	Owner    metav1.Object
	GVK      schema.GroupVersionKind
	Selector labels.Selector
	// CanAdopt is called once, before the first adoption; an error stops
	// adoptions (RecheckDeletionTimestamp of a fresh read of the owner).
	CanAdopt func(ctx context.Context) error
	// Finalizers are added to an adopted pod with the controller
	// reference (the Job's batch.kubernetes.io/job-tracking).
	Finalizers []string

	once     sync.Once
	adoptErr error
}

// RecheckDeletionTimestamp makes a CanAdopt from a fresh read of the
// owner: an owner that is gone, re-created (another UID) or being deleted
// does not adopt (upstream's RecheckDeletionTimestamp).
func RecheckDeletionTimestamp(get func(ctx context.Context) (metav1.Object, error), owner metav1.Object) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := get(ctx)
		if err != nil {
			return err
		}
		if fresh.GetUID() != owner.GetUID() {
			return fmt.Errorf("original %v/%v is gone: got uid %v, wanted %v", owner.GetNamespace(), owner.GetName(), fresh.GetUID(), owner.GetUID())
		}
		if fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%v/%v has just been deleted at %v", owner.GetNamespace(), owner.GetName(), fresh.GetDeletionTimestamp())
		}
		return nil
	}
}

// ClaimPods returns the pods the owner controls after adopting matching
// orphans and releasing its pods that stopped matching (ClaimPods /
// ClaimObject). Pods controlled by others are left alone. Errors of
// single pods are collected; the claimed pods are returned with them.
func (m *PodClaimer) ClaimPods(ctx context.Context, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	var claimed []*corev1.Pod
	var errs []error
	for _, p := range pods {
		ok, err := m.claim(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, p)
		}
	}
	if len(errs) > 0 {
		return claimed, fmt.Errorf("claiming pods: %v", errs)
	}
	return claimed, nil
}

func (m *PodClaimer) claim(ctx context.Context, p *corev1.Pod) (bool, error) {
	match := m.Selector.Matches(labels.Set(p.Labels))
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		if ref.UID != m.Owner.GetUID() {
			return false, nil // another controller's
		}
		if match {
			return true, nil
		}
		if m.Owner.GetDeletionTimestamp() != nil {
			return false, nil // the owner is going: leave it to the GC
		}
		return false, m.release(ctx, p)
	}
	if m.Owner.GetDeletionTimestamp() != nil || !match || p.DeletionTimestamp != nil || p.Namespace != m.Owner.GetNamespace() {
		return false, nil
	}
	m.once.Do(func() {
		if m.CanAdopt != nil {
			m.adoptErr = m.CanAdopt(ctx)
		}
	})
	if m.adoptErr != nil {
		return false, fmt.Errorf("can't adopt Pod %v/%v (%v): %v", p.Namespace, p.Name, p.UID, m.adoptErr)
	}
	if err := m.adopt(ctx, p); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) || apierrors.IsConflict(err) {
			return false, nil // gone, or no longer the pod we saw
		}
		return false, err
	}
	return true, nil
}

type patchMeta struct {
	Metadata struct {
		OwnerReferences []map[string]any `json:"ownerReferences"`
		UID             types.UID        `json:"uid"`
		Finalizers      []string         `json:"finalizers,omitempty"`
	} `json:"metadata"`
}

// adopt adds the controller reference by a strategic merge patch that
// names the pod's UID (so a re-created pod of the same name is not
// adopted in its place).
func (m *PodClaimer) adopt(ctx context.Context, p *corev1.Pod) error {
	var pm patchMeta
	pm.Metadata.UID = p.UID
	pm.Metadata.OwnerReferences = []map[string]any{{
		"apiVersion": m.GVK.GroupVersion().String(), "kind": m.GVK.Kind, "name": m.Owner.GetName(),
		"uid": m.Owner.GetUID(), "controller": true, "blockOwnerDeletion": true,
	}}
	pm.Metadata.Finalizers = m.Finalizers
	body, _ := json.Marshal(pm)
	_, err := m.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
	return err
}

// release removes the owner's reference ($patch: delete by uid); a pod
// that is gone or was replaced is already released.
func (m *PodClaimer) release(ctx context.Context, p *corev1.Pod) error {
	var pm patchMeta
	pm.Metadata.UID = p.UID
	pm.Metadata.OwnerReferences = []map[string]any{{"$patch": "delete", "uid": m.Owner.GetUID()}}
	body, _ := json.Marshal(pm)
	_, err := m.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return err
}
