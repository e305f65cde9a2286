package apiserver

// dryrun.go: dryRun=All, as kube-apiserver (the dry-run KEP).
//
// Contracts:
//   - dryRun=All on create, update, patch, delete, deletecollection,
//     pods/binding and pods/eviction runs everything a real request runs:
//     defaulting, name generation, namespace checks, allocation (a Service's
//     clusterIP), validation, preconditions and the graceful-deletion and
//     finalizer rules. The store is read but never written, so no watch
//     event is emitted and no controller, scheduler or node agent reacts.
//   - The answer is the object that would have been stored: a create has
//     its generated name, uid and creationTimestamp, and an empty
//     resourceVersion; an update or patch keeps the current
//     resourceVersion; a graceful delete returns the object with its
//     deletionTimestamp (202), an immediate one the object as it was.
//   - A create of an existing name is still 409 AlreadyExists; a delete of
//     a missing object still 404.
//   - Any dryRun value other than "All" is 422 Invalid on
//     CreateOptions/UpdateOptions/PatchOptions/DeleteOptions.meta.k8s.io,
//     with upstream's "Unsupported value" message (ValidateDryRun).
//   - GET ignores dryRun, as upstream (GetOptions and ListOptions have no
//     such field).
//
// The marker travels in the request context: the Server's write paths
// (server.go) check isDryRun just before each store write.

import (
	"context"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type dryRunKey struct{}

// WithDryRun returns a context under which the Server's writes are dry
// runs: validated and answered, never stored.
func WithDryRun(ctx context.Context) context.Context {
	return context.WithValue(ctx, dryRunKey{}, true)
}

// isDryRun reports whether ctx carries the dry-run marker.
func isDryRun(ctx context.Context) bool {
	v, _ := ctx.Value(dryRunKey{}).(bool)
	return v
}

// validateDryRun checks dryRun values as upstream's handlers do: only
// "All" is known; anything else is 422 on the options kind.
func validateDryRun(kind string, values []string) error {
	if errs := metavalidation.ValidateDryRun(field.NewPath("dryRun"), values); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: kind}, "", errs)
	}
	return nil
}

// optionsKind names the options type of a write method.
func optionsKind(method string) string {
	switch method {
	case http.MethodPost:
		return "CreateOptions"
	case http.MethodPut:
		return "UpdateOptions"
	case http.MethodPatch:
		return "PatchOptions"
	case http.MethodDelete:
		return "DeleteOptions"
	}
	return ""
}

// dryRunRequest validates the dryRun query parameter of a write request
// and, when it is set, returns req with the dry-run marker in its context.
func dryRunRequest(req *http.Request) (*http.Request, error) {
	kind := optionsKind(req.Method)
	values := req.URL.Query()["dryRun"]
	if kind == "" || len(values) == 0 {
		return req, nil
	}
	if err := validateDryRun(kind, values); err != nil {
		return nil, err
	}
	return req.WithContext(WithDryRun(req.Context())), nil
}

// dryRunDelete adds the marker when delete options ask for a dry run (the
// options may come in the body).
func dryRunDelete(ctx context.Context, opts metav1.DeleteOptions) context.Context {
	if len(opts.DryRun) > 0 {
		return WithDryRun(ctx)
	}
	return ctx
}
