package apiserver

// pdb.go is the API side of policy/v1 PodDisruptionBudgets, as upstream's
// pkg/registry/policy/poddisruptionbudget/strategy.go and
// pkg/apis/policy/validation (written here from upstream's behaviour:
// k8s.io/kubernetes is not importable):
//
//   - namespaced, short name pdb, a status subresource (the disruption
//     controller, controllers/disruption, and the eviction subresource,
//     eviction.go, write it);
//   - create clears status and sets metadata.generation 1; a spec change
//     bumps the generation (PrepareForUpdate); policy/v1 has no defaults;
//   - validation (ValidatePodDisruptionBudgetSpec): minAvailable and
//     maxUnavailable are mutually exclusive ("minAvailable and
//     maxUnavailable cannot be both set"), each a non-negative integer or a
//     percentage of at most 100%; a valid label selector (invalid label
//     values are kept on update when the stored selector had them, as
//     upstream's AllowInvalidLabelValueInSelector); unhealthyPodEvictionPolicy
//     IfHealthyBudget or AlwaysAllow.

import (
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// pdbResource is policy/v1 poddisruptionbudgets.
func pdbResource() *Resource {
	return &Resource{GVR: policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"), Kind: "PodDisruptionBudget",
		Namespaced: true, ShortNames: []string{"pdb"}, Status: true,
		newObj:        func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
		newList:       func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		prepareCreate: preparePDBCreate, validate: validatePDB, validateUpdate: validatePDBUpdate}
}

// preparePDBCreate is upstream's PrepareForCreate: no status, generation 1.
func preparePDBCreate(_ *Server, obj runtime.Object) error {
	pdb := obj.(*policyv1.PodDisruptionBudget)
	pdb.Status = policyv1.PodDisruptionBudgetStatus{}
	pdb.Generation = 1
	return nil
}

func validatePDB(_ *Server, obj runtime.Object) error {
	pdb := obj.(*policyv1.PodDisruptionBudget)
	return pdbInvalid(pdb, validatePDBSpec(&pdb.Spec, nil, field.NewPath("spec")))
}

// validatePDBUpdate is upstream's PrepareForUpdate (a spec change bumps the
// generation; the status is the stored one, see prepareUpdate) and
// ValidateUpdate.
func validatePDBUpdate(_ *Server, obj, old runtime.Object) error {
	pdb, was := obj.(*policyv1.PodDisruptionBudget), old.(*policyv1.PodDisruptionBudget)
	pdb.Generation = was.Generation
	if !equality.Semantic.DeepEqual(pdb.Spec, was.Spec) {
		pdb.Generation = was.Generation + 1
	}
	return pdbInvalid(pdb, validatePDBSpec(&pdb.Spec, &was.Spec, field.NewPath("spec")))
}

func pdbInvalid(pdb *policyv1.PodDisruptionBudget, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget").GroupKind(), pdb.Name, errs)
}

// validatePDBSpec is upstream's ValidatePodDisruptionBudgetSpec; old is the
// stored spec on update.
func validatePDBSpec(spec, old *policyv1.PodDisruptionBudgetSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.MinAvailable != nil && spec.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(p, spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	if v := spec.MinAvailable; v != nil {
		errs = append(errs, validatePositiveIntOrPercent(*v, p.Child("minAvailable"))...) // workloads.go
		errs = append(errs, notMoreThan100Percent(*v, p.Child("minAvailable"))...)
	}
	if v := spec.MaxUnavailable; v != nil {
		errs = append(errs, validatePositiveIntOrPercent(*v, p.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(*v, p.Child("maxUnavailable"))...)
	}
	opts := metav1validation.LabelSelectorValidationOptions{}
	if old != nil && old.Selector != nil && len(metav1validation.ValidateLabelSelector(old.Selector, opts, nil)) > 0 {
		opts.AllowInvalidLabelValueInSelector = true
	}
	errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, opts, p.Child("selector"))...)
	if pol := spec.UnhealthyPodEvictionPolicy; pol != nil && *pol != policyv1.IfHealthyBudget && *pol != policyv1.AlwaysAllow {
		errs = append(errs, field.NotSupported(p.Child("unhealthyPodEvictionPolicy"), *pol,
			[]string{string(policyv1.AlwaysAllow), string(policyv1.IfHealthyBudget)}))
	}
	return errs
}
