package apiserver

// serviceaccounts.go is the ServiceAccount (core/v1) strategy: names are
// DNS subdomains (upstream's ValidateServiceAccountName), with upstream's
// message. The "default" ServiceAccount of every namespace is made by the
// serviceaccount controller (controllers/serviceaccount), through the API,
// as upstream's serviceaccounts-controller. Tokens for a service account
// come from its token subresource (TokenRequest, tokens_request.go) and
// authenticate as it (tokens.go); pods get one mounted by the
// ServiceAccount admission (serviceaccount_admission.go).

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func serviceAccountResource() *Resource {
	r := &Resource{GVR: corev1.SchemeGroupVersion.WithResource("serviceaccounts"), Kind: "ServiceAccount", Namespaced: true,
		ShortNames: []string{"sa"},
		newObj:     func() runtime.Object { return &corev1.ServiceAccount{} },
		newList:    func() runtime.Object { return &corev1.ServiceAccountList{} }}
	r.validate = func(s *Server, obj runtime.Object) error { return validateServiceAccount(obj) }
	r.validateUpdate = func(s *Server, obj, old runtime.Object) error { return validateServiceAccount(obj) }
	return r
}

func validateServiceAccount(obj runtime.Object) error {
	sa := obj.(*corev1.ServiceAccount)
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(sa.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), sa.Name, msg))
	}
	for i, ref := range sa.Secrets {
		if ref.Name == "" {
			errs = append(errs, field.Required(field.NewPath("secrets").Index(i).Child("name"), ""))
		}
	}
	if len(errs) > 0 {
		return invalid("ServiceAccount", sa.Name, errs)
	}
	return nil
}
