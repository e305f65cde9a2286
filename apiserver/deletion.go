package apiserver

// Cascading deletion on the API side, as kube-apiserver's generic registry
// store (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go:
// Delete, deletionFinalizersForGarbageCollection, shouldOrphanDependents,
// shouldDeleteDependents, markAsDeleting) and the kinds'
// DefaultGarbageCollectionPolicy:
//   - DeleteOptions.propagationPolicy Foreground adds the foregroundDeletion
//     finalizer and Orphan (or the legacy orphanDependents: true) the orphan
//     finalizer; the object stays, with deletionTimestamp, until the garbage
//     collector (controllers/garbagecollector) removes the finalizer.
//     Background (or orphanDependents: false) removes both finalizers; an
//     object left without finalizers is deleted at once.
//   - Without a policy, a finalizer already on the object decides; else the
//     kind's default: batch/v1 Jobs orphan their pods (with upstream's
//     warning), every other kind served here deletes them in the background.
//   - The finalizers follow the options also while a deletion is pending,
//     except for a pod in its graceful termination.
//   - A non-graceful deletion that leaves the object in place bumps
//     metadata.generation (when it is set), as markAsDeleting does.

import (
	"context"
	"net/http"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// jobDeleteWarning is upstream's deleteOptionWarnings
// (pkg/registry/batch/job/storage/storage.go).
const jobDeleteWarning = "child pods are preserved by default when jobs are deleted; " +
	"set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning"

// validateDeleteOptions checks propagationPolicy and orphanDependents as
// metav1 validation.ValidateDeleteOptions (dryRun is checked by
// validateDryRun).
func validateDeleteOptions(opts metav1.DeleteOptions) error {
	var errs field.ErrorList
	for _, e := range metavalidation.ValidateDeleteOptions(&opts) {
		if e.Field != "dryRun" {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "DeleteOptions"}, "", errs)
	}
	return nil
}

// orphansByDefault is the kind's DefaultGarbageCollectionPolicy being
// OrphanDependents: batch/v1 Job "for back compatibility"
// (pkg/registry/batch/job/strategy.go); apps/v1 kinds and CronJobs are
// DeleteDependents, the others have no default (background).
func orphansByDefault(r *Resource) bool {
	return r.GVR.Group == "batch" && r.GVR.Version == "v1" && r.GVR.Resource == "jobs"
}

// warnDefaultOrphan adds upstream's warning to a Job deletion that leaves
// the policy to the default (jobs' REST.Delete and DeleteCollection).
//
//nolint:staticcheck // OrphanDependents is deprecated but still honoured.
func warnDefaultOrphan(ctx context.Context, r *Resource, opts metav1.DeleteOptions) {
	if opts.PropagationPolicy == nil && opts.OrphanDependents == nil && orphansByDefault(r) {
		addWarning(ctx, jobDeleteWarning)
	}
}

// gcFinalizers is deletionFinalizersForGarbageCollection: the finalizers
// the object gets from the delete options, and whether they differ (as
// sets) from the current ones.
func gcFinalizers(r *Resource, m metav1.Object, opts metav1.DeleteOptions) (bool, []string) {
	orphan := shouldOrphanDependents(r, m, opts)
	foreground := shouldDeleteDependents(m, opts)
	cur := m.GetFinalizers()
	var fins []string
	for _, f := range cur {
		if f != metav1.FinalizerOrphanDependents && f != metav1.FinalizerDeleteDependents {
			fins = append(fins, f)
		}
	}
	if orphan {
		fins = append(fins, metav1.FinalizerOrphanDependents)
	}
	if foreground {
		fins = append(fins, metav1.FinalizerDeleteDependents)
	}
	if sameSet(cur, fins) {
		return false, cur
	}
	return true, fins
}

func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// shouldOrphanDependents as upstream: an explicit option, then a finalizer
// already present, then the kind's default.
//
//nolint:staticcheck // OrphanDependents is deprecated but still honoured.
func shouldOrphanDependents(r *Resource, m metav1.Object, opts metav1.DeleteOptions) bool {
	if opts.OrphanDependents != nil {
		return *opts.OrphanDependents
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationOrphan:
			return true
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
			return false
		}
	}
	for _, f := range m.GetFinalizers() {
		switch f {
		case metav1.FinalizerOrphanDependents:
			return true
		case metav1.FinalizerDeleteDependents:
			return false
		}
	}
	return orphansByDefault(r)
}

// shouldDeleteDependents (foreground) as upstream.
//
//nolint:staticcheck // OrphanDependents is deprecated but still honoured.
func shouldDeleteDependents(m metav1.Object, opts metav1.DeleteOptions) bool {
	if opts.OrphanDependents != nil {
		return false
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationForeground:
			return true
		case metav1.DeletePropagationBackground, metav1.DeletePropagationOrphan:
			return false
		}
	}
	return slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents)
}

// withWarnings lets a deletion add Warning headers to w (as the writes
// get from fieldValidationRequest).
func withWarnings(ctx context.Context, w http.ResponseWriter) context.Context {
	if _, ok := ctx.Value(warningsKey{}).(*warningRecorder); ok {
		return ctx
	}
	return context.WithValue(ctx, warningsKey{}, &warningRecorder{h: w.Header(), seen: map[string]bool{}})
}

// validateOwnerRefs checks metadata.ownerReferences of every kind as
// ValidateObjectMeta does (apiVersion, kind, name and uid required, a
// valid apiVersion, not a List kind, at most one controller).
func validateOwnerRefs(m metav1.Object) field.ErrorList {
	refs := m.GetOwnerReferences()
	if len(refs) == 0 {
		return nil
	}
	return apimachineryvalidation.ValidateOwnerReferences(refs, field.NewPath("metadata", "ownerReferences"))
}
