package apiserver

// objectmeta.go: the metadata checks upstream's ValidateObjectMeta makes of
// every kind (its name rule, labels, annotations), for the kinds whose own
// validation does not already make them. Without them a ConfigMap, Secret,
// Namespace, Node, Role, Lease, Event, EndpointSlice, PDB... could be named
// "Bad_Name", "a/../../b", a newline or 40,000 bytes (a 500 from the store),
// and carry label keys no selector can name.

import (
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ownMetaValidation lists the resources whose create and update validation
// already runs upstream's ValidateObjectMeta (or its name rule): checking
// again would report each error twice.
var ownMetaValidation = map[string]bool{
	"pods": true, "services": true, "serviceaccounts": true,
	"deployments": true, "replicasets": true, "daemonsets": true, "jobs": true, "cronjobs": true,
}

// maxNameBytes bounds the names the rules above leave unbounded (RBAC
// kinds, CSRs): upstream's etcd takes keys of any length, bbolt's keys end
// at 32 KiB (past it the write was a 500).
const maxNameBytes = 4096

// nameRule is the resource's upstream name validation: a DNS label for
// Namespaces, a path segment for RBAC kinds (system:... names), anything
// for CSRs, a DNS subdomain otherwise.
func nameRule(r *Resource) apivalidation.ValidateNameFunc {
	switch {
	case r.GVR.Group == "" && r.GVR.Resource == "namespaces":
		return apivalidation.ValidateNamespaceName
	case r.GVR.Group == "rbac.authorization.k8s.io":
		return path.ValidatePathSegmentName
	case r.GVR.Group == "certificates.k8s.io":
		return func(string, bool) []string { return nil }
	}
	return apivalidation.NameIsDNSSubdomain
}

// validateMeta checks m's name (create only: the generated one, not
// generateName, as Events are made with "NAME."), labels and annotations
// as upstream does for r, and, on create, that the name can be a store key (a
// path segment: upstream's key functions refuse others with 400).
func validateMeta(r *Resource, m metav1.Object, create bool) error {
	var errs field.ErrorList
	p := field.NewPath("metadata")
	if !ownMetaValidation[r.GVR.Resource] {
		if create {
			if n := m.GetName(); n != "" {
				for _, msg := range nameRule(r)(n, false) {
					errs = append(errs, field.Invalid(p.Child("name"), n, msg))
				}
			}
		}
		errs = append(errs, metav1validation.ValidateLabels(m.GetLabels(), p.Child("labels"))...)
		errs = append(errs, apivalidation.ValidateAnnotations(m.GetAnnotations(), p.Child("annotations"))...)
	}
	if create && len(errs) == 0 && len(m.GetName()) > maxNameBytes {
		errs = append(errs, field.TooLong(p.Child("name"), "", maxNameBytes))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(r.GVK().GroupKind(), m.GetName(), errs)
	}
	if create {
		if msgs := path.IsValidPathSegmentName(m.GetName()); len(msgs) > 0 {
			return apierrors.NewBadRequest(fmt.Sprintf("Name parameter invalid: %q: %s", m.GetName(), strings.Join(msgs, ";")))
		}
	}
	return nil
}
