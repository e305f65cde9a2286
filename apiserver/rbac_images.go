package apiserver

// rbac_images.go: only an admin (system:masters) may create or update pods,
// or the pod templates of workloads, whose images read the server's host:
// paths ("/x.wasm", "./x.wasm", "x.wasm"), file:// URLs and go:// builds
// (images.ClassifyRef). Anyone else gets 403 naming the field, e.g.
//
//	pods "p" is forbidden: spec.containers[0].image: Forbidden: only an admin (system:masters) may run host-path or go:// images, which read the server's files; ...
//
// An update is refused only for an image the object did not have before,
// so a user may still label or scale an admin's workload. Calls without a
// user in the context (the controllers, in-process) are the admin's.

import (
	"context"
	"errors"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wasmpod/wasmpod/images"
)

const hostPathMsg = "only an admin (system:masters) may mount host paths, which read and write the server's files"

const hostImageMsg = "only an admin (system:masters) may run host-path or go:// images, which read the server's files; use a wasmpod.local image"

// podSpecOf returns the pod spec an object runs, and its field path.
func podSpecOf(obj runtime.Object) (*corev1.PodSpec, *field.Path) {
	if o, ok := obj.(*corev1.Pod); ok {
		return &o.Spec, field.NewPath("spec")
	}
	if t, p := workloadTemplate(obj); t != nil { // modules.go
		return &t.Spec, p.Child("spec")
	}
	return nil, nil
}

// manifestDirOf is the manifest-dir annotation of the pod obj is or makes.
func manifestDirOf(obj runtime.Object) string {
	if o, ok := obj.(*corev1.Pod); ok {
		return o.Annotations[manifestDirAnnotation]
	}
	if t, _ := workloadTemplate(obj); t != nil {
		return t.Annotations[manifestDirAnnotation]
	}
	return ""
}

// hostImageErrors lists the host images of obj that old did not have.
func hostImageErrors(obj, old runtime.Object) field.ErrorList {
	ps, p := podSpecOf(obj)
	if ps == nil {
		return nil
	}
	had := map[string]bool{}
	// A relative image names a file under the manifest-dir annotation: a
	// moved annotation makes every relative image a new one.
	moved := old != nil && manifestDirOf(obj) != manifestDirOf(old)
	if old != nil {
		if ops, _ := podSpecOf(old); ops != nil {
			for _, c := range ops.InitContainers {
				had[c.Image] = true
			}
			for _, c := range ops.Containers {
				had[c.Image] = true
			}
			for _, c := range ops.EphemeralContainers {
				had[c.Image] = true
			}
		}
	}
	var errs field.ErrorList
	check := func(img string, fp *field.Path) {
		if (!had[img] || moved && images.IsRelative(img)) && images.ClassifyRef(img).Host() {
			errs = append(errs, field.Forbidden(fp, hostImageMsg))
		}
	}
	for i, c := range ps.InitContainers {
		check(c.Image, p.Child("initContainers").Index(i).Child("image"))
	}
	for i, c := range ps.Containers {
		check(c.Image, p.Child("containers").Index(i).Child("image"))
	}
	for i, c := range ps.EphemeralContainers {
		check(c.Image, p.Child("ephemeralContainers").Index(i).Child("image"))
	}
	// hostPath volumes (where the node allows them at all) read and write
	// the server's files: the admin's too. One the object had is kept.
	hadPath := map[string]bool{}
	if old != nil {
		if ops, _ := podSpecOf(old); ops != nil {
			for _, v := range ops.Volumes {
				if v.HostPath != nil {
					hadPath[v.HostPath.Path] = true
				}
			}
		}
	}
	for i, v := range ps.Volumes {
		if v.HostPath != nil && !hadPath[v.HostPath.Path] {
			errs = append(errs, field.Forbidden(p.Child("volumes").Index(i).Child("hostPath"), hostPathMsg))
		}
	}
	return errs
}

// admitHostImages is the admit hook of pods and the workload kinds.
func admitHostImages(ctx context.Context, s *Server, obj, old runtime.Object) error {
	if isMaster(UserFrom(ctx)) {
		return nil
	}
	errs := hostImageErrors(obj, old)
	if len(errs) == 0 {
		return nil
	}
	name := ""
	if m, err := meta.Accessor(obj); err == nil {
		name = m.GetName()
	}
	gr := corev1.Resource("pods")
	switch obj.(type) {
	case *appsv1.Deployment:
		gr = appsv1.Resource("deployments")
	case *appsv1.ReplicaSet:
		gr = appsv1.Resource("replicasets")
	case *appsv1.DaemonSet:
		gr = appsv1.Resource("daemonsets")
	case *appsv1.StatefulSet:
		gr = appsv1.Resource("statefulsets")
	case *batchv1.Job:
		gr = batchv1.Resource("jobs")
	case *batchv1.CronJob:
		gr = batchv1.Resource("cronjobs")
	}
	return apierrors.NewForbidden(gr, name, errors.New(errs.ToAggregate().Error()))
}
