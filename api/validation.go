package api

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Options tunes ValidatePod.
type Options struct {
	// AllowHostPath permits hostPath volumes (off by default: a host path
	// gives a guest the host's files).
	AllowHostPath bool
	// AllowInvalidPodDeletionCost accepts a pod-deletion-cost annotation
	// that is no 32-bit integer (upstream's option of the same name: set
	// on an update of a pod that already has one).
	AllowInvalidPodDeletionCost bool
}

// PodDeletionCostAnnotation ranks a controller's victims
// (controller.kubernetes.io/pod-deletion-cost).
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// ValidPodDeletionCost is upstream's GetDeletionCostFromPodAnnotations
// test: absent, or a 32-bit integer with no '+' and no leading zero.
func ValidPodDeletionCost(annotations map[string]string) bool {
	v, ok := annotations[PodDeletionCostAnnotation]
	if !ok {
		return true
	}
	if v == "" || !(v[0] == '-' || v == "0" || (v[0] >= '1' && v[0] <= '9')) {
		return false
	}
	_, err := strconv.ParseInt(v, 10, 32)
	return err == nil
}

// validatePodDeletionCost is that part of upstream's
// ValidatePodSpecificAnnotations, at fldPath (the annotations' path).
func validatePodDeletionCost(annotations map[string]string, fldPath *field.Path, opts Options) field.ErrorList {
	if opts.AllowInvalidPodDeletionCost || ValidPodDeletionCost(annotations) {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath.Key(PodDeletionCostAnnotation), annotations[PodDeletionCostAnnotation], "must be a 32bit integer")}
}

// notSupported is the start of every Forbidden detail for a field that
// wasmpod cannot honour.
const notSupported = "not supported by wasmpod: "

// Bounds on a pod, so that everything the system derives from it (its
// status above all, which carries one entry per container) fits in the API
// server's request and storage limits. Upstream has no such counts; its
// bound is etcd's 1.5 MiB per object, which MaxPodSpecBytes keeps well
// inside with room for the status.
const (
	// MaxContainers bounds spec.containers.
	MaxContainers = 100
	// MaxInitContainers bounds spec.initContainers.
	MaxInitContainers = 100
	// MaxVolumes bounds spec.volumes.
	MaxVolumes = 256
	// MaxPodSpecBytes bounds the JSON encoding of spec.
	MaxPodSpecBytes = 1 << 20
	// MaxPodMetadataBytes bounds the JSON encoding of metadata (whose
	// annotations alone may take 256 KiB, as upstream).
	MaxPodMetadataBytes = 512 << 10
	// templateMetadataRoom is what a pod template's metadata leaves of
	// MaxPodMetadataBytes for the metadata a controller adds to its pods.
	templateMetadataRoom = 16 << 10
)

var (
	supportedRestartPolicies = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	supportedDNSPolicies     = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	supportedProtocols       = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	supportedPullPolicies    = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	supportedTermMsgPolicies = []corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}
	supportedEmptyDirMedia   = []corev1.StorageMedium{corev1.StorageMediumDefault, corev1.StorageMediumMemory}
	supportedHostPathTypes   = []corev1.HostPathType{corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate, corev1.HostPathFile}
	supportedResources       = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceEphemeralStorage, corev1.ResourceMemory}

	// envFieldPaths are the fieldRef paths an env var may use (besides
	// subscripted metadata.labels and metadata.annotations).
	envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid",
		"spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.podIP", "status.podIPs"}
	// envResourceFields are the resourceFieldRef resources an env var may use.
	envResourceFields = []string{"limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}

	cpuDivisors    = sets.New("1m", "1")
	memoryDivisors = sets.New("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
)

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// ValidatePod checks a (defaulted) Pod as upstream Kubernetes would on
// create, and forbids what a WASM sandbox cannot honour. It returns every
// problem found, each naming its field.
func ValidatePod(pod *corev1.Pod, opts Options) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMeta(&pod.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	if b, err := json.Marshal(&pod.ObjectMeta); err == nil && len(b) > MaxPodMetadataBytes {
		allErrs = append(allErrs, field.TooLong(field.NewPath("metadata"), "", MaxPodMetadataBytes))
	}
	allErrs = append(allErrs, validatePodDeletionCost(pod.Annotations, field.NewPath("metadata", "annotations"), opts)...)
	v := &podValidator{pod: pod, opts: opts}
	return append(allErrs, v.spec(field.NewPath("spec"))...)
}

// ValidatePodTemplateSpec checks a workload's (defaulted) pod template as
// upstream's ValidatePodTemplateSpec does: its labels and annotations (at
// fldPath.labels and fldPath.annotations, as upstream's paths), then its
// spec as ValidatePod checks a pod's, with paths under fldPath.spec.
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path, opts Options) field.ErrorList {
	allErrs := metav1validation.ValidateLabels(t.Labels, fldPath.Child("labels"))
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(t.Annotations, fldPath.Child("annotations"))...)
	allErrs = append(allErrs, validatePodDeletionCost(t.Annotations, fldPath.Child("annotations"), opts)...)
	// Its pods' metadata must fit MaxPodMetadataBytes with what the
	// controllers add (name, ownerReferences, their labels and
	// annotations) and the managedFields naming each label and annotation
	// key again ("f:KEY":{}), or every creation would fail.
	if b, err := json.Marshal(&t.ObjectMeta); err == nil {
		n := len(b)
		for _, m := range []map[string]string{t.Labels, t.Annotations} {
			for k := range m {
				n += len(k) + 8
			}
		}
		if n > MaxPodMetadataBytes-templateMetadataRoom {
			allErrs = append(allErrs, field.TooLong(fldPath.Child("metadata"), "", MaxPodMetadataBytes-templateMetadataRoom))
		}
	}
	ephemeral := t.Spec.EphemeralContainers
	p := &corev1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	p.Spec.EphemeralContainers = nil
	v := &podValidator{pod: p, opts: opts}
	allErrs = append(allErrs, v.spec(fldPath.Child("spec"))...)
	if len(ephemeral) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return allErrs
}

type podValidator struct {
	pod     *corev1.Pod
	opts    Options
	volumes sets.Set[string]
	errs    field.ErrorList
}

func (v *podValidator) add(errs ...*field.Error) { v.errs = append(v.errs, errs...) }

func (v *podValidator) spec(p *field.Path) field.ErrorList {
	spec := &v.pod.Spec
	if n := len(spec.Containers); n > MaxContainers {
		v.add(field.TooMany(p.Child("containers"), n, MaxContainers))
	}
	if n := len(spec.InitContainers); n > MaxInitContainers {
		v.add(field.TooMany(p.Child("initContainers"), n, MaxInitContainers))
	}
	if n := len(spec.Volumes); n > MaxVolumes {
		v.add(field.TooMany(p.Child("volumes"), n, MaxVolumes))
	}
	if b, err := json.Marshal(spec); err == nil && len(b) > MaxPodSpecBytes {
		v.add(field.TooLong(p, "", MaxPodSpecBytes))
	}
	if len(v.errs) > 0 {
		return v.errs // too big to be worth checking item by item
	}
	v.volumes = v.validateVolumes(spec.Volumes, p.Child("volumes"))
	v.hostAliases(spec.HostAliases, p.Child("hostAliases")) // validation_config.go

	names := sets.New[string]()
	for i := range spec.InitContainers {
		v.container(&spec.InitContainers[i], p.Child("initContainers").Index(i), names, true)
	}
	if len(spec.Containers) == 0 {
		v.add(field.Required(p.Child("containers"), "must contain at least one container"))
	}
	for i := range spec.Containers {
		v.container(&spec.Containers[i], p.Child("containers").Index(i), names, false)
	}
	v.hostPortConflicts(spec.Containers, p.Child("containers"))
	if len(spec.EphemeralContainers) > 0 {
		v.add(field.Forbidden(p.Child("ephemeralContainers"), "cannot be set on create"))
	}

	switch {
	case spec.RestartPolicy == "":
		v.add(field.Required(p.Child("restartPolicy"), ""))
	case !slices.Contains(supportedRestartPolicies, spec.RestartPolicy):
		v.add(field.NotSupported(p.Child("restartPolicy"), spec.RestartPolicy, strs(supportedRestartPolicies)))
	}
	if spec.DNSPolicy != "" && !slices.Contains(supportedDNSPolicies, spec.DNSPolicy) {
		v.add(field.NotSupported(p.Child("dnsPolicy"), spec.DNSPolicy, strs(supportedDNSPolicies)))
	}
	if s := spec.ActiveDeadlineSeconds; s != nil && (*s < 1 || *s > math.MaxInt32) {
		v.add(field.Invalid(p.Child("activeDeadlineSeconds"), *s, validation.InclusiveRangeError(1, math.MaxInt32)))
	}
	if s := spec.TerminationGracePeriodSeconds; s != nil {
		v.add(apivalidation.ValidateNonnegativeField(*s, p.Child("terminationGracePeriodSeconds"))...)
	}
	if spec.ServiceAccountName != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(spec.ServiceAccountName, false) {
			v.add(field.Invalid(p.Child("serviceAccountName"), spec.ServiceAccountName, msg))
		}
	}
	if spec.NodeName != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(spec.NodeName, false) {
			v.add(field.Invalid(p.Child("nodeName"), spec.NodeName, msg))
		}
	}
	if spec.Hostname != "" {
		for _, msg := range validation.IsDNS1123Label(spec.Hostname) {
			v.add(field.Invalid(p.Child("hostname"), spec.Hostname, msg))
		}
	}
	if spec.Subdomain != "" {
		for _, msg := range validation.IsDNS1123Label(spec.Subdomain) {
			v.add(field.Invalid(p.Child("subdomain"), spec.Subdomain, msg))
		}
	}
	for i, g := range spec.ReadinessGates { // upstream's validateReadinessGates
		for _, msg := range validation.IsQualifiedName(string(g.ConditionType)) {
			v.add(field.Invalid(p.Child("readinessGates").Index(i).Child("conditionType"), string(g.ConditionType), msg))
		}
	}
	if spec.Resources != nil {
		v.resources(spec.Resources, p.Child("resources"))
	}

	// What the sandbox cannot honour.
	if spec.HostNetwork {
		v.add(field.Forbidden(p.Child("hostNetwork"), notSupported+"pods get their own network"))
	}
	if spec.HostPID {
		v.add(field.Forbidden(p.Child("hostPID"), notSupported+"a WASM module cannot share the host's processes"))
	}
	if spec.HostIPC {
		v.add(field.Forbidden(p.Child("hostIPC"), notSupported+"a WASM module cannot share the host's IPC"))
	}
	if spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace {
		v.add(field.Forbidden(p.Child("shareProcessNamespace"), notSupported+"WASM modules have no process namespace"))
	}
	if sc := spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		v.add(field.Forbidden(p.Child("securityContext", "sysctls"), notSupported+"WASM modules have no kernel parameters"))
	}
	if len(spec.ResourceClaims) > 0 {
		v.add(field.Forbidden(p.Child("resourceClaims"), notSupported+"no devices can be given to a WASM module"))
	}
	return v.errs
}

func (v *podValidator) validateVolumes(vols []corev1.Volume, p *field.Path) sets.Set[string] {
	names := sets.New[string]()
	for i := range vols {
		vol := &vols[i]
		ip := p.Index(i)
		switch {
		case vol.Name == "":
			v.add(field.Required(ip.Child("name"), ""))
		case names.Has(vol.Name):
			v.add(field.Duplicate(ip.Child("name"), vol.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(vol.Name) {
				v.add(field.Invalid(ip.Child("name"), vol.Name, msg))
			}
		}
		if vol.Name != "" {
			names.Insert(vol.Name)
		}
		v.volumeSource(&vol.VolumeSource, ip)
	}
	return names
}

func (v *podValidator) volumeSource(s *corev1.VolumeSource, p *field.Path) {
	n := 0
	if s.EmptyDir != nil {
		n++
		ep := p.Child("emptyDir")
		if !slices.Contains(supportedEmptyDirMedia, s.EmptyDir.Medium) {
			v.add(field.NotSupported(ep.Child("medium"), s.EmptyDir.Medium, strs(supportedEmptyDirMedia)))
		}
		if q := s.EmptyDir.SizeLimit; q != nil && q.Sign() < 0 {
			v.add(field.Invalid(ep.Child("sizeLimit"), q.String(), "must be greater than or equal to 0"))
		}
	}
	if s.HostPath != nil {
		n++
		if n > 1 {
			v.add(field.Forbidden(p.Child("hostPath"), "may not specify more than 1 volume type"))
		} else {
			v.hostPath(s.HostPath, p.Child("hostPath"))
		}
	}
	v.configVolume(s, p, &n) // validation_config.go
	others := []struct {
		name string
		set  bool
	}{
		{"persistentVolumeClaim", s.PersistentVolumeClaim != nil},
		{"ephemeral", s.Ephemeral != nil}, {"image", s.Image != nil}, {"csi", s.CSI != nil},
		{"nfs", s.NFS != nil}, {"iscsi", s.ISCSI != nil}, {"gitRepo", s.GitRepo != nil},
		{"gcePersistentDisk", s.GCEPersistentDisk != nil}, {"awsElasticBlockStore", s.AWSElasticBlockStore != nil},
		{"glusterfs", s.Glusterfs != nil}, {"rbd", s.RBD != nil}, {"flexVolume", s.FlexVolume != nil},
		{"cinder", s.Cinder != nil}, {"cephfs", s.CephFS != nil}, {"flocker", s.Flocker != nil},
		{"fc", s.FC != nil}, {"azureFile", s.AzureFile != nil}, {"azureDisk", s.AzureDisk != nil},
		{"vsphereVolume", s.VsphereVolume != nil}, {"quobyte", s.Quobyte != nil},
		{"photonPersistentDisk", s.PhotonPersistentDisk != nil}, {"portworxVolume", s.PortworxVolume != nil},
		{"scaleIO", s.ScaleIO != nil}, {"storageos", s.StorageOS != nil},
	}
	for _, o := range others {
		if !o.set {
			continue
		}
		n++
		if n > 1 {
			v.add(field.Forbidden(p.Child(o.name), "may not specify more than 1 volume type"))
		} else {
			v.add(field.Forbidden(p.Child(o.name), notSupported+"only emptyDir, hostPath, configMap, secret, downwardAPI and projected volumes are supported"))
		}
	}
	if n == 0 {
		v.add(field.Required(p, "must specify a volume type"))
	}
}

func (v *podValidator) hostPath(h *corev1.HostPathVolumeSource, p *field.Path) {
	if !v.opts.AllowHostPath {
		v.add(field.Forbidden(p, notSupported+"hostPath volumes are disabled (allow them in the configuration)"))
		return
	}
	switch {
	case h.Path == "":
		v.add(field.Required(p.Child("path"), ""))
	case !path.IsAbs(h.Path):
		v.add(field.Invalid(p.Child("path"), h.Path, "must be an absolute path"))
	case hasBackstep(h.Path):
		v.add(field.Invalid(p.Child("path"), h.Path, "must not contain '..'"))
	default:
		v.noNUL(p.Child("path"), h.Path)
	}
	if h.Type != nil && !slices.Contains(supportedHostPathTypes, *h.Type) {
		v.add(field.NotSupported(p.Child("type"), *h.Type, strs(supportedHostPathTypes)))
	}
}

// noNUL refuses a NUL byte: argv, the environment and paths reach the
// guest and the host as C strings, which a NUL would cut short.
func (v *podValidator) noNUL(p *field.Path, s string) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		v.add(field.Invalid(p, s, fmt.Sprintf("must not contain a NUL byte (found at byte %d)", i)))
	}
}

func hasBackstep(p string) bool {
	return slices.Contains(strings.Split(p, "/"), "..")
}

func (v *podValidator) container(c *corev1.Container, p *field.Path, names sets.Set[string], init bool) {
	switch {
	case c.Name == "":
		v.add(field.Required(p.Child("name"), ""))
	case names.Has(c.Name):
		v.add(field.Duplicate(p.Child("name"), c.Name))
	default:
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			v.add(field.Invalid(p.Child("name"), c.Name, msg))
		}
	}
	if c.Name != "" {
		names.Insert(c.Name)
	}
	switch {
	case c.Image == "":
		v.add(field.Required(p.Child("image"), ""))
	case c.Image != strings.TrimSpace(c.Image):
		v.add(field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	default:
		v.noNUL(p.Child("image"), c.Image)
	}
	for i, a := range c.Command {
		v.noNUL(p.Child("command").Index(i), a)
	}
	for i, a := range c.Args {
		v.noNUL(p.Child("args").Index(i), a)
	}
	v.noNUL(p.Child("workingDir"), c.WorkingDir)
	if c.ImagePullPolicy != "" && !slices.Contains(supportedPullPolicies, c.ImagePullPolicy) {
		v.add(field.NotSupported(p.Child("imagePullPolicy"), c.ImagePullPolicy, strs(supportedPullPolicies)))
	}
	if c.TerminationMessagePolicy != "" && !slices.Contains(supportedTermMsgPolicies, c.TerminationMessagePolicy) {
		v.add(field.NotSupported(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, strs(supportedTermMsgPolicies)))
	}

	sidecar := false
	if c.RestartPolicy != nil {
		switch {
		case !init:
			v.add(field.Forbidden(p.Child("restartPolicy"), "may not be set for non-init containers"))
		case *c.RestartPolicy != corev1.ContainerRestartPolicyAlways:
			v.add(field.NotSupported(p.Child("restartPolicy"), *c.RestartPolicy, []string{string(corev1.ContainerRestartPolicyAlways)}))
		default:
			sidecar = true
		}
	}
	if len(c.RestartPolicyRules) > 0 {
		v.add(field.Forbidden(p.Child("restartPolicyRules"), notSupported+"container restart rules"))
	}
	if init && !sidecar {
		const msg = "may not be set for init containers without restartPolicy=Always"
		if c.LivenessProbe != nil {
			v.add(field.Forbidden(p.Child("livenessProbe"), msg))
		}
		if c.ReadinessProbe != nil {
			v.add(field.Forbidden(p.Child("readinessProbe"), msg))
		}
		if c.StartupProbe != nil {
			v.add(field.Forbidden(p.Child("startupProbe"), msg))
		}
		if c.Lifecycle != nil {
			v.add(field.Forbidden(p.Child("lifecycle"), msg))
		}
	}
	v.probe(c.LivenessProbe, p.Child("livenessProbe"), true)
	v.probe(c.ReadinessProbe, p.Child("readinessProbe"), false)
	v.probe(c.StartupProbe, p.Child("startupProbe"), true)
	if c.Lifecycle != nil {
		if c.Lifecycle.PostStart != nil {
			v.handler(c.Lifecycle.PostStart.Exec, c.Lifecycle.PostStart.HTTPGet, c.Lifecycle.PostStart.TCPSocket, nil, c.Lifecycle.PostStart.Sleep, p.Child("lifecycle", "postStart"))
		}
		if c.Lifecycle.PreStop != nil {
			v.handler(c.Lifecycle.PreStop.Exec, c.Lifecycle.PreStop.HTTPGet, c.Lifecycle.PreStop.TCPSocket, nil, c.Lifecycle.PreStop.Sleep, p.Child("lifecycle", "preStop"))
		}
	}

	v.ports(c.Ports, p.Child("ports"))
	v.env(c.Env, p.Child("env"))
	v.envFrom(c.EnvFrom, p.Child("envFrom")) // validation_config.go
	v.mounts(c.VolumeMounts, p.Child("volumeMounts"))
	if len(c.VolumeDevices) > 0 {
		v.add(field.Forbidden(p.Child("volumeDevices"), notSupported+"no block devices can be given to a WASM module"))
	}
	v.resources(&c.Resources, p.Child("resources"))

	if sc := c.SecurityContext; sc != nil {
		sp := p.Child("securityContext")
		if sc.Privileged != nil && *sc.Privileged {
			v.add(field.Forbidden(sp.Child("privileged"), notSupported+"a WASM module cannot be privileged"))
		}
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			v.add(field.Forbidden(sp.Child("capabilities", "add"), notSupported+"a WASM module has no Linux capabilities"))
		}
		if sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount {
			v.add(field.Forbidden(sp.Child("procMount"), notSupported+"a WASM module has no /proc"))
		}
	}
}

func (v *podValidator) probe(pr *corev1.Probe, p *field.Path, successMustBeOne bool) {
	if pr == nil {
		return
	}
	v.handler(pr.Exec, pr.HTTPGet, pr.TCPSocket, pr.GRPC, nil, p)
	v.add(apivalidation.ValidateNonnegativeField(int64(pr.InitialDelaySeconds), p.Child("initialDelaySeconds"))...)
	v.add(apivalidation.ValidateNonnegativeField(int64(pr.TimeoutSeconds), p.Child("timeoutSeconds"))...)
	v.add(apivalidation.ValidateNonnegativeField(int64(pr.PeriodSeconds), p.Child("periodSeconds"))...)
	v.add(apivalidation.ValidateNonnegativeField(int64(pr.SuccessThreshold), p.Child("successThreshold"))...)
	v.add(apivalidation.ValidateNonnegativeField(int64(pr.FailureThreshold), p.Child("failureThreshold"))...)
	if successMustBeOne && pr.SuccessThreshold != 1 {
		v.add(field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	if s := pr.TerminationGracePeriodSeconds; s != nil && *s <= 0 {
		v.add(field.Invalid(p.Child("terminationGracePeriodSeconds"), *s, "must be greater than 0"))
	}
}

func (v *podValidator) handler(exec *corev1.ExecAction, http *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction, grpc *corev1.GRPCAction, sleep *corev1.SleepAction, p *field.Path) {
	n := 0
	one := func(name string) bool {
		n++
		if n > 1 {
			v.add(field.Forbidden(p.Child(name), "may not specify more than 1 handler type"))
			return false
		}
		return true
	}
	if exec != nil && one("exec") {
		if len(exec.Command) == 0 {
			v.add(field.Required(p.Child("exec", "command"), ""))
		}
		for i, a := range exec.Command {
			v.noNUL(p.Child("exec", "command").Index(i), a)
		}
	}
	if http != nil && one("httpGet") {
		v.portRef(http.Port.IntValue(), http.Port.StrVal, p.Child("httpGet", "port"))
		if http.Scheme != "" && http.Scheme != corev1.URISchemeHTTP && http.Scheme != corev1.URISchemeHTTPS {
			v.add(field.NotSupported(p.Child("httpGet", "scheme"), http.Scheme, []string{"HTTP", "HTTPS"}))
		}
	}
	if tcp != nil && one("tcpSocket") {
		v.portRef(tcp.Port.IntValue(), tcp.Port.StrVal, p.Child("tcpSocket", "port"))
	}
	if grpc != nil && one("grpc") {
		for _, msg := range validation.IsValidPortNum(int(grpc.Port)) {
			v.add(field.Invalid(p.Child("grpc", "port"), grpc.Port, msg))
		}
		// mode as upstream with GRPCContainerProbeTLS on (pods/probe_grpc.go dials TLS).
		if m := grpc.Mode; m != nil && *m != corev1.GRPCProbeModePlaintext && *m != corev1.GRPCProbeModeTLS {
			v.add(field.NotSupported(p.Child("grpc", "mode"), *m, []string{string(corev1.GRPCProbeModePlaintext), string(corev1.GRPCProbeModeTLS)}))
		}
	}
	if sleep != nil && one("sleep") && sleep.Seconds < 0 {
		v.add(field.Invalid(p.Child("sleep", "seconds"), sleep.Seconds, "must be greater than or equal to 0"))
	}
	if n == 0 {
		v.add(field.Required(p, "must specify a handler type"))
	}
}

// portRef checks a port given by number or by name.
func (v *podValidator) portRef(num int, name string, p *field.Path) {
	if name != "" {
		for _, msg := range validation.IsValidPortName(name) {
			v.add(field.Invalid(p, name, msg))
		}
		return
	}
	for _, msg := range validation.IsValidPortNum(num) {
		v.add(field.Invalid(p, num, msg))
	}
}

func (v *podValidator) ports(ports []corev1.ContainerPort, p *field.Path) {
	names := sets.New[string]()
	for i, port := range ports {
		ip := p.Index(i)
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				v.add(field.Invalid(ip.Child("name"), port.Name, msg))
			}
			if names.Has(port.Name) {
				v.add(field.Duplicate(ip.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		if port.ContainerPort == 0 {
			v.add(field.Required(ip.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				v.add(field.Invalid(ip.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				v.add(field.Invalid(ip.Child("hostPort"), port.HostPort, msg))
			}
		}
		switch {
		case port.Protocol == "":
			v.add(field.Required(ip.Child("protocol"), ""))
		case !slices.Contains(supportedProtocols, port.Protocol):
			v.add(field.NotSupported(ip.Child("protocol"), port.Protocol, strs(supportedProtocols)))
		}
	}
}

// hostPortConflicts refuses two ports of the containers with the same
// protocol, hostIP and hostPort, as upstream's checkHostPortConflicts
// (AccumulateUniqueHostPorts): Duplicate value "TCP//8080".
func (v *podValidator) hostPortConflicts(ctrs []corev1.Container, p *field.Path) {
	seen := sets.New[string]()
	for ci := range ctrs {
		for pi, port := range ctrs[ci].Ports {
			if port.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", port.Protocol, port.HostIP, port.HostPort)
			if seen.Has(key) {
				v.add(field.Duplicate(p.Index(ci).Child("ports").Index(pi).Child("hostPort"), key))
			}
			seen.Insert(key)
		}
	}
}

var subscriptRE = regexp.MustCompile(`^metadata\.(labels|annotations)\['(.*)'\]$`)

func (v *podValidator) env(env []corev1.EnvVar, p *field.Path) {
	for i, ev := range env {
		ip := p.Index(i)
		if ev.Name == "" {
			v.add(field.Required(ip.Child("name"), ""))
		} else {
			for _, msg := range validation.IsEnvVarName(ev.Name) {
				v.add(field.Invalid(ip.Child("name"), ev.Name, msg))
			}
		}
		v.noNUL(ip.Child("value"), ev.Value)
		if ev.ValueFrom == nil {
			continue
		}
		vp := ip.Child("valueFrom")
		if ev.Value != "" {
			v.add(field.Invalid(vp, "", "may not be specified when `value` is not empty"))
		}
		vf := ev.ValueFrom
		n := 0
		if vf.FieldRef != nil {
			n++
			v.fieldRef(vf.FieldRef, vp.Child("fieldRef"))
		}
		if vf.ResourceFieldRef != nil {
			n++
			v.resourceFieldRef(vf.ResourceFieldRef, vp.Child("resourceFieldRef"))
		}
		if vf.ConfigMapKeyRef != nil {
			n++
			v.keyRef(vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, vp.Child("configMapKeyRef"))
		}
		if vf.SecretKeyRef != nil {
			n++
			v.keyRef(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, vp.Child("secretKeyRef"))
		}
		if vf.FileKeyRef != nil {
			n++
			v.add(field.Forbidden(vp.Child("fileKeyRef"), notSupported+"file key references are not supported yet"))
		}
		switch {
		case n == 0:
			v.add(field.Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case n > 1:
			v.add(field.Invalid(vp, "", "may not have more than one field specified at a time"))
		}
	}
}

func (v *podValidator) fieldRef(fs *corev1.ObjectFieldSelector, p *field.Path) {
	switch {
	case fs.APIVersion == "":
		v.add(field.Required(p.Child("apiVersion"), ""))
		return
	case fs.APIVersion != "v1":
		v.add(field.NotSupported(p.Child("apiVersion"), fs.APIVersion, []string{"v1"}))
		return
	}
	fp := p.Child("fieldPath")
	if fs.FieldPath == "" {
		v.add(field.Required(fp, ""))
		return
	}
	if m := subscriptRE.FindStringSubmatch(fs.FieldPath); m != nil {
		key := m[2]
		if m[1] == "annotations" {
			key = strings.ToLower(key)
		}
		for _, msg := range validation.IsQualifiedName(key) {
			v.add(field.Invalid(fp, fs.FieldPath, msg))
		}
		return
	}
	if !slices.Contains(envFieldPaths, fs.FieldPath) {
		v.add(field.NotSupported(fp, fs.FieldPath, append([]string{"metadata.annotations['<KEY>']", "metadata.labels['<KEY>']"}, envFieldPaths...)))
	}
}

func (v *podValidator) resourceFieldRef(rf *corev1.ResourceFieldSelector, p *field.Path) {
	if rf.ContainerName != "" && !v.hasContainer(rf.ContainerName) {
		v.add(field.NotFound(p.Child("containerName"), rf.ContainerName))
	}
	switch {
	case rf.Resource == "":
		v.add(field.Required(p.Child("resource"), ""))
		return
	case !slices.Contains(envResourceFields, rf.Resource):
		v.add(field.NotSupported(p.Child("resource"), rf.Resource, envResourceFields))
		return
	}
	if rf.Divisor.IsZero() {
		return
	}
	if strings.HasSuffix(rf.Resource, ".cpu") && !cpuDivisors.Has(rf.Divisor.String()) {
		v.add(field.Invalid(p.Child("divisor"), rf.Divisor.String(), "only divisor's values 1m and 1 are supported with the cpu resource"))
	}
	if strings.HasSuffix(rf.Resource, ".memory") && !memoryDivisors.Has(rf.Divisor.String()) {
		v.add(field.Invalid(p.Child("divisor"), rf.Divisor.String(), "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"))
	}
}

func (v *podValidator) hasContainer(name string) bool {
	for _, c := range v.pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range v.pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

func (v *podValidator) mounts(mounts []corev1.VolumeMount, p *field.Path) {
	paths := sets.New[string]()
	for i, m := range mounts {
		ip := p.Index(i)
		switch {
		case m.Name == "":
			v.add(field.Required(ip.Child("name"), ""))
		case !v.volumes.Has(m.Name):
			v.add(field.NotFound(ip.Child("name"), m.Name))
		}
		switch {
		case m.MountPath == "":
			v.add(field.Required(ip.Child("mountPath"), ""))
		case !path.IsAbs(m.MountPath):
			v.add(field.Invalid(ip.Child("mountPath"), m.MountPath, "must be an absolute path"))
		case paths.Has(path.Clean(m.MountPath)):
			v.add(field.Invalid(ip.Child("mountPath"), m.MountPath, "must be unique"))
		}
		if m.MountPath != "" {
			paths.Insert(path.Clean(m.MountPath))
		}
		v.noNUL(ip.Child("mountPath"), m.MountPath)
		v.noNUL(ip.Child("subPath"), m.SubPath)
		// As upstream's validateLocalDescendingPath, both checks, named
		// without the index (upstream passes volumeMounts' own path:
		// "spec.containers[0].volumeMounts.subPath").
		if m.SubPath != "" {
			if path.IsAbs(m.SubPath) {
				v.add(field.Invalid(p.Child("subPath"), m.SubPath, "must be a relative path"))
			}
			if hasBackstep(m.SubPath) {
				v.add(field.Invalid(p.Child("subPath"), m.SubPath, "must not contain '..'"))
			}
		}
		v.subPathExpr(&m, p, ip) // validation_config.go
		if m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone {
			v.add(field.Forbidden(ip.Child("mountPropagation"), notSupported+"mounts do not propagate into or out of a WASM module"))
		}
	}
}

func (v *podValidator) resources(r *corev1.ResourceRequirements, p *field.Path) {
	check := func(list corev1.ResourceList, lp *field.Path) {
		for _, name := range sortedResourceNames(list) {
			q := list[name]
			rp := lp.Key(string(name))
			if !slices.Contains(supportedResources, name) {
				v.add(field.NotSupported(rp, name, strs(supportedResources)))
				continue
			}
			if q.Sign() < 0 {
				v.add(field.Invalid(rp, q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	check(r.Limits, p.Child("limits"))
	check(r.Requests, p.Child("requests"))
	for _, name := range sortedResourceNames(r.Requests) {
		req := r.Requests[name]
		if lim, ok := r.Limits[name]; ok && lim.Sign() >= 0 && req.Cmp(lim) > 0 {
			v.add(field.Invalid(p.Child("requests").Key(string(name)), req.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	if len(r.Claims) > 0 {
		v.add(field.Forbidden(p.Child("claims"), notSupported+"no devices can be given to a WASM module"))
	}
}

func sortedResourceNames(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
