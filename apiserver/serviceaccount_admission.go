package apiserver

// serviceaccount_admission.go is upstream's ServiceAccount admission
// plugin (plugin/pkg/admission/serviceaccount), on pod create, once the
// server has a root CA (SetRootCA: serve with TLS) to publish as
// kube-root-ca.crt; without one pods are admitted unchanged, since their
// token volume could never be set up.
//
//   - spec.serviceAccountName defaults to "default";
//   - the service account must exist (403 "error looking up service
//     account NS/NAME: serviceaccount "NAME" not found"); "default" is
//     looked up again for up to about 2 s, as upstream, since the
//     serviceaccount controller may not have made it yet in a new
//     namespace;
//   - unless automountServiceAccountToken is false (the pod's, else the
//     service account's), a projected volume kube-api-access-XXXXX (a
//     pod-bound token of 3607 s at "token", kube-root-ca.crt's ca.crt, the
//     namespace from the downward API; defaultMode 0644) is added and
//     mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount
//     in every init and regular container that mounts nothing there.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
)

// Upstream's names.
const (
	// DefaultAPITokenMountPath is where containers find the token.
	DefaultAPITokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// serviceAccountVolumePrefix names the token volume.
	serviceAccountVolumePrefix = "kube-api-access"
	rootCAConfigMap            = "kube-root-ca.crt"
)

// tokenVolumeSource is upstream's TokenVolumeSource.
func tokenVolumeSource() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To(corev1.ProjectedVolumeSourceDefaultMode),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](warnOnlyBoundTokenExpirationSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
}

// admitServiceAccount applies the plugin to a new pod (see the file
// comment).
func (s *Server) admitServiceAccount(pod *corev1.Pod) error {
	if len(s.RootCA()) == 0 {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	sa, err := s.lookupServiceAccount(pod.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name,
			fmt.Errorf("error looking up service account %s/%s: %w", pod.Namespace, pod.Spec.ServiceAccountName, err))
	}
	automount := true
	if pod.Spec.AutomountServiceAccountToken != nil {
		automount = *pod.Spec.AutomountServiceAccountToken
	} else if sa.AutomountServiceAccountToken != nil {
		automount = *sa.AutomountServiceAccountToken
	}
	if !automount {
		return nil
	}
	name := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, serviceAccountVolumePrefix+"-") {
			name = v.Name
			break
		}
	}
	hasVolume := name != ""
	if !hasVolume {
		name = serviceAccountVolumePrefix + "-" + utilrand.String(5)
	}
	mount := corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: DefaultAPITokenMountPath}
	needs := false
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			mounted := false
			for _, m := range cs[i].VolumeMounts {
				mounted = mounted || m.MountPath == DefaultAPITokenMountPath
			}
			if !mounted {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
				needs = true
			}
		}
	}
	if needs && !hasVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: tokenVolumeSource()}})
	}
	return nil
}

// lookupServiceAccount gets ns/name; "default" is tried up to 10 times,
// 100–200 ms apart, as upstream's getServiceAccount. The error is the
// lister's ("serviceaccount "x" not found").
func (s *Server) lookupServiceAccount(ns, name string) (*corev1.ServiceAccount, error) {
	attempts := 1
	if name == "default" {
		attempts = 10
	}
	wait := time.Duration(100+rand.IntN(100)) * time.Millisecond
	for i := 0; ; i++ {
		obj, err := s.Get(context.Background(), s.resources["/serviceaccounts"], ns, name)
		if err == nil {
			return obj.(*corev1.ServiceAccount), nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		if i+1 >= attempts {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccount"}, name)
		}
		time.Sleep(wait)
	}
}
