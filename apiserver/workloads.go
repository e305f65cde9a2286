package apiserver

// The API side of the workload kinds (apps/v1 Deployment, ReplicaSet,
// DaemonSet; batch/v1 Job, CronJob): upstream's defaulting
// (pkg/apis/apps/v1/defaults.go, pkg/apis/batch/v1/defaults.go, and the pod
// template's PodSpec defaults), the strategies' create and update rules
// (pkg/registry/apps/*/strategy.go, pkg/registry/batch/*/strategy.go:
// status cleared on create, metadata.generation, the Job's generated
// selector) and validation (pkg/apis/apps/validation, pkg/apis/batch/
// validation), written here from upstream's behaviour: k8s.io/kubernetes is
// not importable.

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // CronJob timeZone names without the host's zoneinfo, as kube-apiserver

	"github.com/robfig/cron/v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/wasmpod/wasmpod/api"
)

// workloadStrategy gives a workload resource its create and update hooks.
func workloadStrategy(r *Resource) *Resource {
	r.prepareCreate, r.validate, r.validateUpdate = prepareWorkloadCreate, validateWorkload, validateWorkloadUpdate
	return r
}

// tracksGeneration tells the kinds whose metadata.generation upstream's
// strategies keep (1 on create, +1 on every spec change): pods and the
// workload kinds. The others (ConfigMaps, Secrets, Services, Namespaces,
// Nodes, ...) have none.
func tracksGeneration(obj runtime.Object) bool {
	switch obj.(type) {
	case *corev1.Pod, *appsv1.Deployment, *appsv1.ReplicaSet, *appsv1.DaemonSet, *appsv1.StatefulSet, *batchv1.Job, *batchv1.CronJob:
		return true
	}
	return false
}

// initialGeneration is metadata.generation of a new object: 1 for the
// kinds that track it, none (0) for the others.
func initialGeneration(obj runtime.Object) int64 {
	if tracksGeneration(obj) {
		return 1
	}
	return 0
}

// --- defaulting -------------------------------------------------------------

// setWorkloadDefaults fills what upstream's defaulting fills for the
// workload kinds, on every request body.
func setWorkloadDefaults(obj runtime.Object) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		setDefaultsDeployment(o)
		setDefaultsPodTemplate(&o.Spec.Template)
	case *appsv1.ReplicaSet:
		// upstream SetDefaults_ReplicaSet
		if o.Spec.Replicas == nil {
			o.Spec.Replicas = ptr.To[int32](1)
		}
		setDefaultsPodTemplate(&o.Spec.Template)
	case *appsv1.DaemonSet:
		setDefaultsDaemonSet(o)
		setDefaultsPodTemplate(&o.Spec.Template)
	case *batchv1.Job:
		setDefaultsJob(o)
		setDefaultsPodFailurePolicy(o.Spec.PodFailurePolicy)
		setDefaultsPodTemplate(&o.Spec.Template)
	case *batchv1.CronJob:
		setDefaultsCronJob(o)
		setDefaultsPodFailurePolicy(o.Spec.JobTemplate.Spec.PodFailurePolicy)
		setDefaultsPodTemplate(&o.Spec.JobTemplate.Spec.Template)
	}
}

// setDefaultsDeployment is upstream's SetDefaults_Deployment (apps/v1).
func setDefaultsDeployment(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = ptr.To[int32](1)
	}
	st := &d.Spec.Strategy
	if st.Type == "" {
		st.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if st.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			st.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("25%"))
		}
		if st.RollingUpdate.MaxSurge == nil {
			st.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
	}
}

// setDaemonSetTemplateGeneration stores spec.templateGeneration (of the
// internal type) where apps/v1 shows it: the annotation
// deprecated.daemonset.template.generation (the DaemonSet controller
// labels its pods pod-template-generation with it). 0 is left out.
func setDaemonSetTemplateGeneration(ds *appsv1.DaemonSet, g int64) {
	if g == 0 {
		delete(ds.Annotations, appsv1.DeprecatedTemplateGeneration)
		return
	}
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[appsv1.DeprecatedTemplateGeneration] = strconv.FormatInt(g, 10)
}

// setDefaultsDaemonSet is upstream's SetDefaults_DaemonSet (apps/v1).
func setDefaultsDaemonSet(ds *appsv1.DaemonSet) {
	st := &ds.Spec.UpdateStrategy
	if st.Type == "" {
		st.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if st.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			st.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
		if st.RollingUpdate.MaxSurge == nil {
			st.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
}

// setDefaultsJob is upstream's SetDefaults_Job (batch/v1).
func setDefaultsJob(j *batchv1.Job) {
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions, s.Parallelism = ptr.To[int32](1), ptr.To[int32](1)
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr.To[int32](1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr.To[int32](math.MaxInt32)
		} else {
			s.BackoffLimit = ptr.To[int32](6)
		}
	}
	if l := s.Template.Labels; l != nil && len(j.Labels) == 0 {
		j.Labels = copyLabels(l)
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptr.To(false)
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
}

// setDefaultsPodFailurePolicy is upstream's
// SetDefaults_PodFailurePolicyOnPodConditionsPattern: a pattern's status
// defaults to True.
func setDefaultsPodFailurePolicy(p *batchv1.PodFailurePolicy) {
	if p == nil {
		return
	}
	for i := range p.Rules {
		for j := range p.Rules[i].OnPodConditions {
			if c := &p.Rules[i].OnPodConditions[j]; c.Status == "" {
				c.Status = corev1.ConditionTrue
			}
		}
	}
}

// setDefaultsCronJob is upstream's SetDefaults_CronJob (batch/v1).
func setDefaultsCronJob(cj *batchv1.CronJob) {
	if cj.Spec.ConcurrencyPolicy == "" {
		cj.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if cj.Spec.Suspend == nil {
		cj.Spec.Suspend = ptr.To(false)
	}
	if cj.Spec.SuccessfulJobsHistoryLimit == nil {
		cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
	}
	if cj.Spec.FailedJobsHistoryLimit == nil {
		cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](1)
	}
}

// setDefaultsPodTemplate gives a pod template the defaults a pod's spec gets
// (api.SetDefaultsPod: upstream's SetDefaults_PodSpec, container, probe,
// volume ... defaults), except the two upstream fills only on a Pod
// (SetDefaults_Pod): enableServiceLinks and requests copied from limits.
func setDefaultsPodTemplate(t *corev1.PodTemplateSpec) {
	orig := t.Spec.DeepCopy()
	p := &corev1.Pod{Spec: t.Spec}
	api.SetDefaultsPod(p)
	spec := p.Spec
	spec.EnableServiceLinks = orig.EnableServiceLinks
	spec.Resources = orig.Resources
	for i := range spec.Containers {
		spec.Containers[i].Resources = orig.Containers[i].Resources
	}
	for i := range spec.InitContainers {
		spec.InitContainers[i].Resources = orig.InitContainers[i].Resources
	}
	t.Spec = spec
}

func copyLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}

// --- create and update --------------------------------------------------------

// prepareWorkloadCreate is the strategies' PrepareForCreate after
// defaulting: status cleared (controllers write it), and a Job's selector
// generated (upstream's generateSelector, unless manualSelector).
func prepareWorkloadCreate(_ *Server, obj runtime.Object) error {
	setWorkloadDefaults(obj)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Status = appsv1.DeploymentStatus{}
	case *appsv1.ReplicaSet:
		o.Status = appsv1.ReplicaSetStatus{}
	case *appsv1.DaemonSet:
		o.Status = appsv1.DaemonSetStatus{}
		setDaemonSetTemplateGeneration(o, 1)
	case *batchv1.Job:
		o.Status = batchv1.JobStatus{}
		if o.Spec.ManualSelector == nil || !*o.Spec.ManualSelector {
			generateJobSelector(o)
		}
		// upstream's defaulting runs again when the stored Job is read: the
		// Job without labels takes its template's, generated ones included.
		if len(o.Labels) == 0 && o.Spec.Template.Labels != nil {
			o.Labels = copyLabels(o.Spec.Template.Labels)
		}
	case *batchv1.CronJob:
		o.Status = batchv1.CronJobStatus{}
	}
	return nil
}

// generateJobSelector is upstream's generateSelector (job strategy): the
// template gets the job-name and controller-uid labels (legacy and
// batch.kubernetes.io/ ones) unless set, and the selector matches
// batch.kubernetes.io/controller-uid.
func generateJobSelector(j *batchv1.Job) {
	if j.Spec.Template.Labels == nil {
		j.Spec.Template.Labels = map[string]string{}
	}
	l := j.Spec.Template.Labels
	for _, k := range []string{legacyJobNameLabel, batchv1.JobNameLabel} {
		if _, ok := l[k]; !ok {
			l[k] = j.Name
		}
	}
	for _, k := range []string{legacyControllerUIDLabel, batchv1.ControllerUidLabel} {
		if _, ok := l[k]; !ok {
			l[k] = string(j.UID)
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(j.UID)
	}
}

func workloadInvalid(obj runtime.Object, errs field.ErrorList) error {
	m, _ := meta.Accessor(obj)
	gk := obj.GetObjectKind().GroupVersionKind().GroupKind()
	switch obj.(type) {
	case *appsv1.Deployment:
		gk = appsv1.SchemeGroupVersion.WithKind("Deployment").GroupKind()
	case *appsv1.ReplicaSet:
		gk = appsv1.SchemeGroupVersion.WithKind("ReplicaSet").GroupKind()
	case *appsv1.DaemonSet:
		gk = appsv1.SchemeGroupVersion.WithKind("DaemonSet").GroupKind()
	case *batchv1.Job:
		gk = batchv1.SchemeGroupVersion.WithKind("Job").GroupKind()
	case *batchv1.CronJob:
		gk = batchv1.SchemeGroupVersion.WithKind("CronJob").GroupKind()
	case *policyv1.PodDisruptionBudget:
		gk = policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget").GroupKind()
	}
	return apierrors.NewInvalid(gk, m.GetName(), errs)
}

// validateWorkload is the create validation (after prepareWorkloadCreate),
// then the relative-image check every workload template gets (modules.go).
func validateWorkload(s *Server, obj runtime.Object) error {
	if errs := validateWorkloadObject(s, obj, nil); len(errs) > 0 {
		return workloadInvalid(obj, errs)
	}
	return validateWorkloadImages(s, obj)
}

// validateWorkloadUpdate defaults the new object (upstream defaults every
// request body), sets metadata.generation from the defaulted spec (so a PUT
// that leaves out defaulted fields does not count as a change), and runs
// the update validation.
func validateWorkloadUpdate(s *Server, obj, old runtime.Object) error {
	setWorkloadDefaults(obj)
	nm, _ := meta.Accessor(obj)
	om, _ := meta.Accessor(old)
	if changed, _ := specChanged(obj, old); changed {
		nm.SetGeneration(om.GetGeneration() + 1)
	} else {
		nm.SetGeneration(om.GetGeneration())
	}
	if ds, ok := obj.(*appsv1.DaemonSet); ok {
		// The daemonset strategy's PrepareForUpdate: templateGeneration is
		// the server's, +1 when the template changed.
		ods := old.(*appsv1.DaemonSet)
		g, _ := strconv.ParseInt(ods.Annotations[appsv1.DeprecatedTemplateGeneration], 10, 64)
		if !equality.Semantic.DeepEqual(ds.Spec.Template, ods.Spec.Template) {
			g++
		}
		setDaemonSetTemplateGeneration(ds, g)
	}
	if errs := validateWorkloadObject(s, obj, old); len(errs) > 0 {
		return workloadInvalid(obj, errs)
	}
	return validateWorkloadImagesUpdate(s, obj, old)
}

// validateWorkloadObject dispatches to the kind's validation; old is nil on
// create.
func validateWorkloadObject(s *Server, obj, old runtime.Object) field.ErrorList {
	var errs field.ErrorList
	metaPath := field.NewPath("metadata")
	if old == nil {
		errs = apivalidation.ValidateObjectMeta(objectMeta(obj), true, apivalidation.NameIsDNSSubdomain, metaPath)
	} else {
		errs = apivalidation.ValidateObjectMetaUpdate(objectMeta(obj), objectMeta(old), metaPath)
	}
	opts := s.opts.Validation
	if t := podTemplateOf(old); t != nil {
		// A template stored with a bad pod-deletion-cost may keep it
		// (GetValidationOptionsFromPodTemplate).
		opts.AllowInvalidPodDeletionCost = !api.ValidPodDeletionCost(t.Annotations)
	}
	specPath := field.NewPath("spec")
	switch o := obj.(type) {
	case *appsv1.Deployment:
		errs = append(errs, validateDeploymentSpec(&o.Spec, specPath, opts)...)
		if old != nil {
			errs = append(errs, apivalidation.ValidateImmutableField(o.Spec.Selector, old.(*appsv1.Deployment).Spec.Selector, specPath.Child("selector"))...)
		}
	case *appsv1.ReplicaSet:
		errs = append(errs, validateReplicaSetSpec(&o.Spec, specPath, opts)...)
		if old != nil {
			errs = append(errs, apivalidation.ValidateImmutableField(o.Spec.Selector, old.(*appsv1.ReplicaSet).Spec.Selector, specPath.Child("selector"))...)
		}
	case *appsv1.DaemonSet:
		errs = append(errs, validateDaemonSetSpec(&o.Spec, specPath, opts)...)
		if old != nil {
			errs = append(errs, apivalidation.ValidateImmutableField(o.Spec.Selector, old.(*appsv1.DaemonSet).Spec.Selector, specPath.Child("selector"))...)
		}
	case *batchv1.Job:
		if old == nil {
			errs = append(errs, validateGeneratedSelector(o)...)
			errs = append(errs, validateJobSpec(&o.Spec, specPath, opts)...)
			if o.Spec.CompletionMode != nil && *o.Spec.CompletionMode == batchv1.IndexedCompletion && o.Spec.Completions != nil && *o.Spec.Completions > 0 {
				// The job controller names indexed pods' hostnames NAME-INDEX.
				host := fmt.Sprintf("%s-%d", o.Name, *o.Spec.Completions-1)
				if len(validation.IsDNS1123Label(host)) > 0 {
					errs = append(errs, field.Invalid(metaPath.Child("name"), o.Name, "will not able to create pod with invalid DNS label: "+host))
				}
			}
		} else {
			errs = append(errs, validateJobSpecUpdate(o, old.(*batchv1.Job), specPath, opts)...)
		}
	case *batchv1.CronJob:
		var oldSpec *batchv1.CronJobSpec
		if old != nil {
			oldSpec = &old.(*batchv1.CronJob).Spec
		} else if len(o.Name) > validation.DNS1035LabelMaxLength-11 {
			// The controller appends an 11-character suffix to its Jobs' names.
			errs = append(errs, field.Invalid(metaPath.Child("name"), o.Name, "must be no more than 52 characters"))
		}
		errs = append(errs, validateCronJobSpec(&o.Spec, oldSpec, specPath, opts)...)
	}
	return errs
}

// podTemplateOf is the pod template of a workload object (nil for none).
func podTemplateOf(obj runtime.Object) *corev1.PodTemplateSpec {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template
	case *appsv1.ReplicaSet:
		return &o.Spec.Template
	case *appsv1.DaemonSet:
		return &o.Spec.Template
	case *batchv1.Job:
		return &o.Spec.Template
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template
	}
	return nil
}

func objectMeta(obj runtime.Object) *metav1.ObjectMeta {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.ObjectMeta
	case *appsv1.ReplicaSet:
		return &o.ObjectMeta
	case *appsv1.DaemonSet:
		return &o.ObjectMeta
	case *batchv1.Job:
		return &o.ObjectMeta
	case *batchv1.CronJob:
		return &o.ObjectMeta
	}
	return &metav1.ObjectMeta{}
}

// --- apps/v1 validation ---------------------------------------------------------

// validateSelectorAndTemplate is upstream's ValidateReplicaSetSpec /
// ValidateDeploymentSpec selector part with
// ValidatePodTemplateSpecForReplicaSet: the selector required and not
// empty, the template's labels matched by it, restartPolicy Always, no
// activeDeadlineSeconds.
func validateSelectorAndTemplate(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, kind, emptyMsg string, specPath *field.Path, opts api.Options) field.ErrorList {
	var errs field.ErrorList
	selPath := specPath.Child("selector")
	if sel == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, selPath)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(selPath, sel, emptyMsg))
		}
	}
	tPath := specPath.Child("template")
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		errs = append(errs, field.Invalid(selPath, sel, "invalid label selector"))
	} else if !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(tPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, api.ValidatePodTemplateSpec(t, tPath, opts)...)
	if rp := t.Spec.RestartPolicy; rp != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tPath.Child("spec", "restartPolicy"), rp, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

// validateReplicaSetSpec is upstream's ValidateReplicaSetSpec.
func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, p *field.Path, opts api.Options) field.ErrorList {
	var errs field.ErrorList
	if spec.Replicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.Replicas), p.Child("replicas"))...)
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	return append(errs, validateSelectorAndTemplate(spec.Selector, &spec.Template, "ReplicaSet", "empty selector is invalid for deployment", p, opts)...)
}

// validateDeploymentSpec is upstream's ValidateDeploymentSpec.
func validateDeploymentSpec(spec *appsv1.DeploymentSpec, p *field.Path, opts api.Options) field.ErrorList {
	var errs field.ErrorList
	if spec.Replicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.Replicas), p.Child("replicas"))...)
	}
	errs = append(errs, validateSelectorAndTemplate(spec.Selector, &spec.Template, "ReplicaSet", "empty selector is invalid for deployment", p, opts)...)
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, p.Child("strategy"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), p.Child("revisionHistoryLimit"))...)
	}
	if pds := spec.ProgressDeadlineSeconds; pds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*pds), p.Child("progressDeadlineSeconds"))...)
		if *pds <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), *pds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// validateDeploymentStrategy is upstream's ValidateDeploymentStrategy and
// ValidateRollingUpdateDeployment.
func validateDeploymentStrategy(st *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		ru := st.RollingUpdate
		if ru == nil {
			return append(errs, field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil"))
		}
		rp := p.Child("rollingUpdate")
		mu, ms := intOrZero(ru.MaxUnavailable), intOrZero(ru.MaxSurge)
		errs = append(errs, validatePositiveIntOrPercent(mu, rp.Child("maxUnavailable"))...)
		errs = append(errs, validatePositiveIntOrPercent(ms, rp.Child("maxSurge"))...)
		if intOrPercentValue(mu) == 0 && intOrPercentValue(ms) == 0 {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), mu, "may not be 0 when `maxSurge` is 0"))
		}
		errs = append(errs, notMoreThan100Percent(mu, rp.Child("maxUnavailable"))...)
	default:
		errs = append(errs, field.NotSupported(p, *st, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)}))
	}
	return errs
}

// validateDaemonSetSpec is upstream's ValidateDaemonSetSpec.
func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec, p *field.Path, opts api.Options) field.ErrorList {
	errs := validateSelectorAndTemplate(spec.Selector, &spec.Template, "DaemonSet", "empty selector is invalid for daemonset", p, opts)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	sp := p.Child("updateStrategy")
	switch st := spec.UpdateStrategy; st.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := st.RollingUpdate
		if ru == nil {
			errs = append(errs, field.Required(sp.Child("rollingUpdate"), ""))
			break
		}
		rp := sp.Child("rollingUpdate")
		mu, ms := intOrZero(ru.MaxUnavailable), intOrZero(ru.MaxSurge)
		errs = append(errs, validatePositiveIntOrPercent(mu, rp.Child("maxUnavailable"))...)
		errs = append(errs, validatePositiveIntOrPercent(ms, rp.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(mu, rp.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(ms, rp.Child("maxSurge"))...)
		hasU, hasS := intOrPercentValue(mu) != 0, intOrPercentValue(ms) != 0
		switch {
		case hasU && hasS:
			errs = append(errs, field.Invalid(rp.Child("maxSurge"), ms, "may not be set when maxUnavailable is non-zero"))
		case !hasU && !hasS:
			errs = append(errs, field.Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
	default:
		errs = append(errs, field.NotSupported(sp, st, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}))
	}
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), p.Child("revisionHistoryLimit"))...)
	}
	return errs
}

func intOrZero(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

// validatePositiveIntOrPercent is upstream's ValidatePositiveIntOrPercent.
func validatePositiveIntOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		var errs field.ErrorList
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(p, v, msg))
		}
		return errs
	case intstr.Int:
		return apivalidation.ValidateNonnegativeField(int64(v.IntValue()), p)
	}
	return field.ErrorList{field.Invalid(p, v, "must be an integer or percentage (e.g '5%')")}
}

// intOrPercentValue is the number of an int or a percentage ("25%" is 25).
func intOrPercentValue(v intstr.IntOrString) int {
	if v.Type == intstr.String {
		n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
		if err != nil {
			return 0
		}
		return n
	}
	return v.IntValue()
}

// notMoreThan100Percent is upstream's IsNotMoreThan100Percent.
func notMoreThan100Percent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) > 0 || intOrPercentValue(v) <= 100 {
		return nil
	}
	return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
}

// --- batch/v1 validation --------------------------------------------------------

// The Job labels upstream still sets beside the batch.kubernetes.io/ ones.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

const (
	maxParallelismForIndexedJob            = 100000
	maxFailedIndexesForIndexedJob          = 100000
	maxCompletionsWithBackoffLimitPerIndex = 100000
)

// validateGeneratedSelector is upstream's validateGeneratedSelector: unless
// manualSelector, the template carries the generated labels and the
// selector selects the controller-uid.
func validateGeneratedSelector(j *batchv1.Job) field.ErrorList {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return nil
	}
	mp := field.NewPath("spec", "template", "metadata")
	if j.Spec.Template.Labels == nil {
		return field.ErrorList{field.Required(mp.Child("labels"), "")}
	}
	var errs field.ErrorList
	has := func(k, want string) {
		got, ok := j.Spec.Template.Labels[k]
		switch {
		case !ok:
			errs = append(errs, field.Required(mp.Child("labels").Key(k), ""))
		case got != want:
			errs = append(errs, field.Invalid(mp.Child("labels").Key(k), got, fmt.Sprintf("must be '%s'", want)))
		}
	}
	has(legacyControllerUIDLabel, string(j.UID))
	has(legacyJobNameLabel, j.Name)
	has(batchv1.ControllerUidLabel, string(j.UID))
	has(batchv1.JobNameLabel, j.Name)
	if len(errs) > 0 {
		return errs
	}
	sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set{legacyControllerUIDLabel: string(j.UID), batchv1.ControllerUidLabel: string(j.UID)}) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// validateJobSpec is upstream's ValidateJobSpec: validateJobSpecFields,
// the selector required and matching the template.
func validateJobSpec(spec *batchv1.JobSpec, p *field.Path, opts api.Options) field.ErrorList {
	errs := validateJobSpecFields(spec, p, opts)
	if spec.Selector == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateJobSpecFields is upstream's validateJobSpec (shared by Jobs and
// CronJobs' jobTemplate).
func validateJobSpecFields(spec *batchv1.JobSpec, p *field.Path, opts api.Options) field.ErrorList {
	var errs field.ErrorList
	nonneg := func(v *int32, name string) {
		if v != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*v), p.Child(name))...)
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*spec.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	nonneg(spec.Parallelism, "parallelism")
	nonneg(spec.Completions, "completions")
	nonneg(spec.BackoffLimit, "backoffLimit")
	nonneg(spec.TTLSecondsAfterFinished, "ttlSecondsAfterFinished")
	nonneg(spec.BackoffLimitPerIndex, "backoffLimitPerIndex")
	if spec.MaxFailedIndexes != nil {
		nonneg(spec.MaxFailedIndexes, "maxFailedIndexes")
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	if cm := spec.CompletionMode; cm != nil {
		if *cm != batchv1.NonIndexedCompletion && *cm != batchv1.IndexedCompletion {
			errs = append(errs, field.NotSupported(p.Child("completionMode"), *cm, []string{string(batchv1.NonIndexedCompletion), string(batchv1.IndexedCompletion)}))
		}
		if indexed {
			if spec.Completions == nil {
				errs = append(errs, field.Required(p.Child("completions"), "when completion mode is Indexed"))
			}
			if spec.Parallelism != nil && *spec.Parallelism > maxParallelismForIndexedJob {
				errs = append(errs, field.Invalid(p.Child("parallelism"), *spec.Parallelism, fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", maxParallelismForIndexedJob)))
			}
			if spec.Completions != nil && spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > *spec.Completions {
				errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "must be less than or equal to completions"))
			}
			if spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > maxFailedIndexesForIndexedJob {
				errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
			}
			if spec.Completions != nil && spec.BackoffLimitPerIndex != nil && *spec.Completions > maxCompletionsWithBackoffLimitPerIndex {
				errs = append(errs, field.Invalid(p.Child("completions"), *spec.Completions, fmt.Sprintf("must be less than or equal to %d when backoffLimitPerIndex is specified", maxCompletionsWithBackoffLimitPerIndex)))
			}
		}
	}
	if !indexed {
		if spec.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(p.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(p.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if prp := spec.PodReplacementPolicy; prp != nil {
		switch *prp {
		case batchv1.TerminatingOrFailed:
			if spec.PodFailurePolicy != nil {
				errs = append(errs, field.NotSupported(p.Child("podReplacementPolicy"), *prp, []string{string(batchv1.Failed)}))
			}
		case batchv1.Failed:
		default:
			errs = append(errs, field.NotSupported(p.Child("podReplacementPolicy"), *prp, []string{string(batchv1.Failed), string(batchv1.TerminatingOrFailed)}))
		}
	}
	tPath := p.Child("template")
	errs = append(errs, api.ValidatePodTemplateSpec(&spec.Template, tPath, opts)...)
	rpPath := tPath.Child("spec", "restartPolicy")
	switch rp := spec.Template.Spec.RestartPolicy; {
	case rp == corev1.RestartPolicyAlways || rp == "":
		errs = append(errs, field.Required(rpPath, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(rpPath, rp, []string{string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}))
	case spec.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(rpPath, rp, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

// validateJobSpecUpdate is upstream's ValidateJobSpecUpdate: what may
// change after creation.
func validateJobSpecUpdate(j, old *batchv1.Job, p *field.Path, opts api.Options) field.ErrorList {
	spec, oldSpec := &j.Spec, &old.Spec
	errs := validateJobSpec(spec, p, opts)
	// completions: immutable, except for Indexed Jobs changed in tandem
	// with parallelism (upstream's elastic Indexed Jobs).
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	switch {
	case !indexed:
		errs = append(errs, apivalidation.ValidateImmutableField(spec.Completions, oldSpec.Completions, p.Child("completions"))...)
	case !equality.Semantic.DeepEqual(spec.Completions, oldSpec.Completions) && spec.Completions != nil:
		if spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
			errs = append(errs, field.Invalid(p.Child("completions"), *spec.Completions, "can only be modified in tandem with spec.parallelism"))
		}
	}
	errs = append(errs, apivalidation.ValidateImmutableField(spec.Selector, oldSpec.Selector, p.Child("selector"))...)
	// The template is immutable, except that a suspended Job that never
	// started may change its scheduling directives (upstream's
	// AllowMutableSchedulingDirectives).
	oldT := oldSpec.Template.DeepCopy()
	if oldSpec.Suspend != nil && *oldSpec.Suspend && old.Status.StartTime == nil {
		t := &spec.Template
		switch {
		case t.Spec.Affinity == nil && oldT.Spec.Affinity != nil:
			oldT.Spec.Affinity.NodeAffinity = nil
			if equality.Semantic.DeepEqual(*oldT.Spec.Affinity, corev1.Affinity{}) {
				oldT.Spec.Affinity = nil
			}
		case t.Spec.Affinity != nil && oldT.Spec.Affinity == nil:
			oldT.Spec.Affinity = &corev1.Affinity{NodeAffinity: t.Spec.Affinity.NodeAffinity}
		case t.Spec.Affinity != nil && oldT.Spec.Affinity != nil:
			oldT.Spec.Affinity.NodeAffinity = t.Spec.Affinity.NodeAffinity
		}
		oldT.Spec.NodeSelector = t.Spec.NodeSelector
		oldT.Spec.Tolerations = t.Spec.Tolerations
		oldT.Annotations = t.Annotations
		oldT.Labels = t.Labels
		oldT.Spec.SchedulingGates = t.Spec.SchedulingGates
	}
	errs = append(errs, apivalidation.ValidateImmutableField(&spec.Template, oldT, p.Child("template"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.CompletionMode, oldSpec.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.PodFailurePolicy, oldSpec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.BackoffLimitPerIndex, oldSpec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.ManagedBy, oldSpec.ManagedBy, p.Child("managedBy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.SuccessPolicy, oldSpec.SuccessPolicy, p.Child("successPolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.PodReplacementPolicy, oldSpec.PodReplacementPolicy, p.Child("podReplacementPolicy"))...)
	return errs
}

// validTimeZoneCharacters is upstream's: a time zone name's components
// (https://data.iana.org/time-zones/theory.html#naming).
var validTimeZoneCharacters = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

// validateCronJobSpec is upstream's validateCronJobSpec (old nil on
// create).
func validateCronJobSpec(spec, old *batchv1.CronJobSpec, p *field.Path, opts api.Options) field.ErrorList {
	var errs field.ErrorList
	sp := p.Child("schedule")
	if spec.Schedule == "" {
		errs = append(errs, field.Required(sp, ""))
	} else {
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		if err := parseSchedule(spec.Schedule); err != nil {
			errs = append(errs, field.Invalid(sp, spec.Schedule, err.Error()))
		}
		switch {
		case allowTZ && strings.Contains(spec.Schedule, "TZ") && spec.TimeZone != nil:
			errs = append(errs, field.Invalid(sp, spec.Schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		case !allowTZ && strings.Contains(spec.Schedule, "TZ"):
			errs = append(errs, field.Invalid(sp, spec.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	if spec.StartingDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*spec.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	}
	if old == nil || !ptr.Equal(old.TimeZone, spec.TimeZone) {
		errs = append(errs, validateTimeZone(spec.TimeZone, p.Child("timeZone"))...)
	}
	cp := p.Child("concurrencyPolicy")
	switch spec.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(cp, ""))
	default:
		errs = append(errs, field.NotSupported(cp, spec.ConcurrencyPolicy, []string{string(batchv1.AllowConcurrent), string(batchv1.ForbidConcurrent), string(batchv1.ReplaceConcurrent)}))
	}
	// upstream's ValidateJobTemplateSpec
	jp := p.Child("jobTemplate")
	errs = append(errs, validateJobSpecFields(&spec.JobTemplate.Spec, jp.Child("spec"), opts)...)
	if spec.JobTemplate.Spec.Selector != nil {
		errs = append(errs, field.Invalid(jp.Child("spec", "selector"), spec.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ms := spec.JobTemplate.Spec.ManualSelector; ms != nil && *ms {
		errs = append(errs, field.NotSupported(jp.Child("spec", "manualSelector"), *ms, []string{"nil", "false"}))
	}
	if spec.SuccessfulJobsHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.SuccessfulJobsHistoryLimit), p.Child("successfulJobsHistoryLimit"))...)
	}
	if spec.FailedJobsHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.FailedJobsHistoryLimit), p.Child("failedJobsHistoryLimit"))...)
	}
	return errs
}

// parseSchedule parses a cron schedule as upstream (robfig/cron's
// ParseStandard), without its panic on a TZ= or CRON_TZ= prefix with
// nothing after it ("TZ=UTC" slices out of range in robfig/cron v3.0.1).
func parseSchedule(s string) (err error) {
	if (strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=")) && !strings.Contains(s, " ") {
		return fmt.Errorf("expected a schedule after the time zone: %s", s)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid schedule: %v", r)
		}
	}()
	_, err = cron.ParseStandard(s)
	return err
}

// validateTimeZone is upstream's validateTimeZone.
func validateTimeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(p, *tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZoneCharacters.MatchString(part) {
			return field.ErrorList{field.Invalid(p, *tz, "unknown time zone "+*tz)}
		}
	}
	var errs field.ErrorList
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(p, *tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(p, *tz, err.Error()))
	}
	return errs
}

// --- status updates -------------------------------------------------------------

// validateWorkloadStatus is upstream's Validate{ReplicaSet,Deployment,
// DaemonSet}StatusUpdate for a write of /status (obj is the old object
// with the request's status): counts non-negative, none above
// status.replicas, available not above ready, collisionCount never
// decremented; PodDisruptionBudget's and Job's (job_status.go) too. Other
// kinds are not checked.
func validateWorkloadStatus(obj, old runtime.Object) error {
	var errs field.ErrorList
	sp := field.NewPath("status")
	nonneg := func(v int64, name string) {
		errs = append(errs, apivalidation.ValidateNonnegativeField(v, sp.Child(name))...)
	}
	notAbove := func(v, limit int32, name, msg string) {
		if v > limit {
			errs = append(errs, field.Invalid(sp.Child(name), v, msg))
		}
	}
	const aboveReplicas = "cannot be greater than status.replicas"
	collision := func(cur, prev *int32) {
		if cur != nil {
			nonneg(int64(*cur), "collisionCount")
		}
		if prev != nil && (cur == nil || *cur < *prev) {
			var v int32
			if cur != nil {
				v = *cur
			}
			errs = append(errs, field.Invalid(sp.Child("collisionCount"), v, "cannot be decremented"))
		}
	}
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		s := o.Status
		nonneg(int64(s.Replicas), "replicas")
		nonneg(int64(s.FullyLabeledReplicas), "fullyLabeledReplicas")
		nonneg(int64(s.ReadyReplicas), "readyReplicas")
		nonneg(int64(s.AvailableReplicas), "availableReplicas")
		if s.TerminatingReplicas != nil {
			nonneg(int64(*s.TerminatingReplicas), "terminatingReplicas")
		}
		nonneg(s.ObservedGeneration, "observedGeneration")
		notAbove(s.FullyLabeledReplicas, s.Replicas, "fullyLabeledReplicas", aboveReplicas)
		notAbove(s.ReadyReplicas, s.Replicas, "readyReplicas", aboveReplicas)
		notAbove(s.AvailableReplicas, s.Replicas, "availableReplicas", aboveReplicas)
		notAbove(s.AvailableReplicas, s.ReadyReplicas, "availableReplicas", "cannot be greater than readyReplicas")
	case *appsv1.Deployment:
		s := o.Status
		nonneg(s.ObservedGeneration, "observedGeneration")
		nonneg(int64(s.Replicas), "replicas")
		nonneg(int64(s.UpdatedReplicas), "updatedReplicas")
		nonneg(int64(s.ReadyReplicas), "readyReplicas")
		nonneg(int64(s.AvailableReplicas), "availableReplicas")
		nonneg(int64(s.UnavailableReplicas), "unavailableReplicas")
		if s.TerminatingReplicas != nil {
			nonneg(int64(*s.TerminatingReplicas), "terminatingReplicas")
		}
		notAbove(s.UpdatedReplicas, s.Replicas, "updatedReplicas", aboveReplicas)
		notAbove(s.ReadyReplicas, s.Replicas, "readyReplicas", aboveReplicas)
		notAbove(s.AvailableReplicas, s.Replicas, "availableReplicas", aboveReplicas)
		notAbove(s.AvailableReplicas, s.ReadyReplicas, "availableReplicas", "cannot be greater than readyReplicas")
		collision(s.CollisionCount, old.(*appsv1.Deployment).Status.CollisionCount)
	case *appsv1.DaemonSet:
		s := o.Status
		nonneg(int64(s.CurrentNumberScheduled), "currentNumberScheduled")
		nonneg(int64(s.NumberMisscheduled), "numberMisscheduled")
		nonneg(int64(s.DesiredNumberScheduled), "desiredNumberScheduled")
		nonneg(int64(s.NumberReady), "numberReady")
		nonneg(s.ObservedGeneration, "observedGeneration")
		nonneg(int64(s.UpdatedNumberScheduled), "updatedNumberScheduled")
		nonneg(int64(s.NumberAvailable), "numberAvailable")
		nonneg(int64(s.NumberUnavailable), "numberUnavailable")
		collision(s.CollisionCount, old.(*appsv1.DaemonSet).Status.CollisionCount)
	case *policyv1.PodDisruptionBudget:
		// upstream's ValidatePodDisruptionBudgetStatusUpdate (policy/v1)
		s := o.Status
		nonneg(int64(s.DisruptionsAllowed), "disruptionsAllowed")
		nonneg(int64(s.CurrentHealthy), "currentHealthy")
		nonneg(int64(s.DesiredHealthy), "desiredHealthy")
		nonneg(int64(s.ExpectedPods), "expectedPods")
		errs = append(errs, metav1validation.ValidateConditions(s.Conditions, sp.Child("conditions"))...)
	case *batchv1.Job:
		errs = validateJobStatusUpdate(o, old.(*batchv1.Job)) // job_status.go
	case *autoscalingv2.HorizontalPodAutoscaler:
		return hpaInvalid(o, validateHPAStatusUpdate(&o.Status)) // hpa.go
	default:
		return nil
	}
	if len(errs) > 0 {
		return workloadInvalid(obj, errs)
	}
	return nil
}
