package api

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// Default values filled by SetDefaultsPod, as upstream Kubernetes fills them.
const (
	DefaultNamespace                     = "default"
	DefaultSchedulerName                 = "default-scheduler"
	DefaultTerminationGracePeriodSeconds = int64(30)
	DefaultTerminationMessagePath        = "/dev/termination-log"
	defaultVolumeMode                    = int32(0o644)
)

// SetDefaults fills the defaults of obj in place. Kinds without defaults
// here are left alone.
func SetDefaults(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		SetDefaultsPod(o)
	case *corev1.PodList:
		for i := range o.Items {
			SetDefaultsPod(&o.Items[i])
		}
	}
}

// SetDefaultsPod fills what upstream Kubernetes fills for a Pod (its
// SetDefaults_Pod and friends), plus namespace "default". It is idempotent.
func SetDefaultsPod(pod *corev1.Pod) {
	if pod.Namespace == "" {
		pod.Namespace = DefaultNamespace
	}
	if pod.APIVersion == "" && pod.Kind == "" {
		pod.APIVersion, pod.Kind = "v1", "Pod"
	}
	spec := &pod.Spec
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = ptr.To(DefaultTerminationGracePeriodSeconds)
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = DefaultSchedulerName
	}
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = ptr.To(corev1.DefaultEnableServiceLinks)
	}
	if spec.ServiceAccountName == "" && spec.DeprecatedServiceAccount != "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	if spec.Resources != nil {
		defaultRequests(spec.Resources)
	}
	for i := range spec.InitContainers {
		defaultContainer(&spec.InitContainers[i], spec.HostNetwork)
	}
	for i := range spec.Containers {
		defaultContainer(&spec.Containers[i], spec.HostNetwork)
	}
	for i := range spec.Volumes {
		defaultVolume(&spec.Volumes[i])
	}
}

// defaultRequests copies each limit without a request into requests.
func defaultRequests(r *corev1.ResourceRequirements) {
	if len(r.Limits) == 0 {
		return
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = q.DeepCopy()
		}
	}
}

func defaultContainer(c *corev1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = DefaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	defaultRequests(&c.Resources)
	defaultProbe(c.LivenessProbe)
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.StartupProbe)
	if c.Lifecycle != nil {
		defaultHandler(c.Lifecycle.PostStart)
		defaultHandler(c.Lifecycle.PreStop)
	}
}

// defaultPullPolicy is Always for an OCI reference tagged :latest or not
// tagged at all, IfNotPresent otherwise; local modules (a .wasm path,
// file:// or go://) are IfNotPresent.
func defaultPullPolicy(image string) corev1.PullPolicy {
	if image == "" || isLocalImage(image) {
		return corev1.PullIfNotPresent
	}
	if strings.Contains(image, "@") {
		return corev1.PullIfNotPresent // pinned by digest
	}
	last := image[strings.LastIndex(image, "/")+1:]
	tag := ""
	if i := strings.LastIndex(last, ":"); i >= 0 {
		tag = last[i+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// isLocalImage tells an image naming a local module from an OCI reference.
func isLocalImage(image string) bool {
	return strings.HasSuffix(image, ".wasm") ||
		strings.HasPrefix(image, "file://") || strings.HasPrefix(image, "go://") ||
		strings.HasPrefix(image, "/") || strings.HasPrefix(image, "./") || strings.HasPrefix(image, "../")
}

func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultHTTPGet(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = ptr.To("")
	}
}

func defaultHandler(h *corev1.LifecycleHandler) {
	if h != nil {
		defaultHTTPGet(h.HTTPGet)
	}
}

func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func defaultVolume(v *corev1.Volume) {
	if isZeroSource(&v.VolumeSource) {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if v.HostPath != nil && v.HostPath.Type == nil {
		v.HostPath.Type = ptr.To(corev1.HostPathUnset)
	}
	if v.Secret != nil && v.Secret.DefaultMode == nil {
		v.Secret.DefaultMode = ptr.To(defaultVolumeMode)
	}
	if v.ConfigMap != nil && v.ConfigMap.DefaultMode == nil {
		v.ConfigMap.DefaultMode = ptr.To(defaultVolumeMode)
	}
	if v.DownwardAPI != nil {
		if v.DownwardAPI.DefaultMode == nil {
			v.DownwardAPI.DefaultMode = ptr.To(defaultVolumeMode)
		}
		for i := range v.DownwardAPI.Items {
			if f := v.DownwardAPI.Items[i].FieldRef; f != nil && f.APIVersion == "" {
				f.APIVersion = "v1"
			}
		}
	}
	if v.Projected != nil {
		if v.Projected.DefaultMode == nil {
			v.Projected.DefaultMode = ptr.To(defaultVolumeMode)
		}
		for _, src := range v.Projected.Sources {
			if t := src.ServiceAccountToken; t != nil && t.ExpirationSeconds == nil {
				t.ExpirationSeconds = ptr.To[int64](3600) // upstream's SetDefaults_ServiceAccountTokenProjection
			}
			if src.DownwardAPI == nil {
				continue
			}
			for i := range src.DownwardAPI.Items {
				if f := src.DownwardAPI.Items[i].FieldRef; f != nil && f.APIVersion == "" {
					f.APIVersion = "v1"
				}
			}
		}
	}
}

func isZeroSource(s *corev1.VolumeSource) bool {
	return *s == corev1.VolumeSource{}
}
