package apiserver

// apply.go: server-side apply, as kube-apiserver: PATCH with Content-Type
// application/apply-patch+yaml (kubectl apply --server-side, client-go's
// typed Apply).
//
// Contracts:
//   - The body is a partial object in YAML or JSON ("applied
//     configuration") of the URL's kind and apiVersion (anything else is
//     400 "invalid object type: ..."), with no metadata.managedFields (400
//     "metadata.managedFields must be nil").
//   - fieldManager is required (422 on PatchOptions: "fieldManager:
//     Required value: is required for apply patch"); force=true takes the
//     fields other managers own.
//   - The applied configuration is merged into the live object by
//     apimachinery's managedfields.FieldManager over
//     sigs.k8s.io/structured-merge-diff: fields the manager applied before
//     and no longer applies are removed unless another manager owns them;
//     a field another manager owns with another value is a 409 Conflict
//     (reason Conflict, one cause per field, message "Apply failed with N
//     conflict(s): conflict with \"manager\" ...: .path"), which kubectl
//     prints with its advice; the manager's entry has operation Apply.
//   - The client-side → server-side upgrade: fields set by
//     "kubectl-client-side-apply" whose values the
//     kubectl.kubernetes.io/last-applied-configuration annotation records
//     do not conflict with an apply of the same configuration, and the
//     annotation follows later applies (the library's last-applied
//     managers, as upstream).
//   - Applying to a missing object creates it (201) through Create, with
//     its namespace rules; the name must be the URL's (400 "the name of
//     the object (x) does not match the name on the URL (y)"), so
//     generateName never names it; a uid in the configuration of a
//     missing object is 409. On /status a missing object is 404. Creating
//     needs RBAC's create verb besides patch (403 otherwise, as upstream).
//   - metadata.resourceVersion in the configuration is a precondition
//     (409 when stale); otherwise concurrent writes are retried.
//   - dryRun=All works as for other writes (dryrun.go); an apply that
//     changes nothing stores nothing and keeps the resourceVersion.
//   - A configuration the type converter refuses (a field the schema does
//     not declare, duplicate keys in a keyed list) is 400 with the
//     library's message naming the field (upstream answers 500 there).
//   - fieldValidation: a duplicate field in the configuration is 400
//     "error strict decoding patch: ..." under Strict (kubectl's default)
//     and a Warning under Warn; an unknown field is always refused (the
//     type converter's 400 above).
//   - application/apply-patch+cbor is 415: client-go sends CBOR only
//     behind a feature gate that is off, and upstream serves it only
//     behind one too.

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	sigsyaml "sigs.k8s.io/yaml"
)

// Apply merges the applied configuration patch (YAML or JSON) into the
// object ns/name (subresource "" or "status") for opts.FieldManager, with
// opts.Force, and stores the result; it creates a missing object (created
// is then true). See the file comment for the rules.
func (s *Server) Apply(ctx context.Context, r *Resource, ns, name string, patch []byte, opts metav1.PatchOptions, subresource string) (obj runtime.Object, created bool, err error) {
	if subresource != "" && !(subresource == "status" && r.Status) {
		return nil, false, apierrors.NewNotFound(r.GVR.GroupResource(), name+"/"+subresource)
	}
	if errs := metavalidation.ValidatePatchOptions(&metav1.PatchOptions{FieldManager: opts.FieldManager, Force: opts.Force}, types.ApplyYAMLPatchType); len(errs) > 0 {
		return nil, false, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "PatchOptions"}, "", errs)
	}
	applied := &unstructured.Unstructured{Object: map[string]any{}}
	if err := sigsyaml.Unmarshal(patch, &applied.Object); err != nil {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	if applied.Object == nil {
		return nil, false, apierrors.NewBadRequest("error decoding patch: the applied configuration is empty")
	}
	want, err := parseRV(applied.GetResourceVersion())
	if err != nil {
		return nil, false, err
	}
	fm, err := fieldManagerFor(r, subresource)
	if isHPAV1Write(ctx) {
		fm, err = hpaV1FieldManager(subresource) // an apply at autoscaling/v1 (hpa_v1.go)
	}
	if err != nil {
		return nil, false, apierrors.NewInternalError(err)
	}
	force := opts.Force != nil && *opts.Force
	// merge applies the configuration to live and checks the result's
	// name and namespace as upstream's patch handler does.
	merge := func(live runtime.Object) (runtime.Object, error) {
		live.GetObjectKind().SetGroupVersionKind(r.GVK())
		out, err := fm.Apply(live, applied.DeepCopy(), opts.FieldManager, force)
		if err != nil {
			return nil, applyError(err)
		}
		m, err := meta.Accessor(out)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		switch {
		case !r.Namespaced:
			m.SetNamespace("")
		case m.GetNamespace() == "":
			m.SetNamespace(ns)
		case m.GetNamespace() != ns:
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		if m.GetName() != name {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), name))
		}
		return out, nil
	}
	ctx = withApplied(withFieldManagerName(ctx, opts.FieldManager))
	for attempt := 0; ; attempt++ {
		_, err := s.store.Get(ctx, r.key(ns, name))
		if err != nil && apierrors.IsNotFound(storeErr(r, name, err)) && subresource == "" && want == 0 {
			obj, err := merge(r.newObj())
			if err != nil {
				return nil, false, err
			}
			if err := s.authorizeApplyCreate(ctx, r, ns, name); err != nil {
				return nil, false, err
			}
			if m, _ := meta.Accessor(obj); m.GetUID() != "" {
				return nil, false, apierrors.NewConflict(r.GVR.GroupResource(), name,
					fmt.Errorf("uid mismatch: the provided object specified uid %s, and no existing object was found", m.GetUID()))
			}
			obj, err = s.Create(ctx, r, ns, obj)
			if apierrors.IsAlreadyExists(err) && attempt < 10 {
				continue // created meanwhile: apply to it
			}
			return obj, err == nil, err
		}
		if err != nil {
			return nil, false, storeErr(r, name, err)
		}
		obj, err := s.update(ctx, r, ns, name, want, merge, subresource)
		if apierrors.IsNotFound(err) && subresource == "" && want == 0 && attempt < 10 {
			continue // deleted meanwhile: create it
		}
		return obj, false, err
	}
}

// authorizeApplyCreate: an apply that creates the object needs the create
// verb as well as patch, as upstream's patch handler checks
// (rbac_authz.go; the Server's Go API callers are the admin).
func (s *Server) authorizeApplyCreate(ctx context.Context, r *Resource, ns, name string) error {
	u := UserFrom(ctx)
	if isMaster(u) {
		return nil
	}
	a := authorizer.AttributesRecord{User: u, Verb: "create", ResourceRequest: true, APIGroup: r.GVR.Group, APIVersion: r.GVR.Version,
		Resource: r.GVR.Resource, Namespace: ns, Name: name}
	if !s.authorizeAttrs(ctx, a).allowed {
		return forbidden(a, "")
	}
	return nil
}

// applyError keeps the library's Status errors (conflicts, bad requests)
// and makes a configuration the type converter refuses a 400.
func applyError(err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	// The configuration does not fit the kind's schema (or, with the
	// deduced type converter, its Go type).
	if msg := err.Error(); strings.HasPrefix(msg, "failed to create typed patch object") || strings.HasPrefix(msg, "failed to convert new object") {
		return apierrors.NewBadRequest(msg)
	}
	return apierrors.NewInternalError(err)
}

// serveApply answers PATCH with an apply patch type.
func (h *httpHandler) serveApply(w http.ResponseWriter, req *http.Request, rq *request, pt types.PatchType) {
	if pt != types.ApplyYAMLPatchType {
		writeError(w, unsupportedPatchType())
		return
	}
	var opts metav1.PatchOptions
	if err := decodeQuery(url1(req.URL.Query(), "force"), &opts); err != nil {
		writeError(w, err)
		return
	}
	opts.FieldManager = req.URL.Query().Get("fieldManager")
	data, err := readBody(req)
	if err != nil {
		writeError(w, err)
		return
	}
	j, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err)))
		return
	}
	if err := checkJSONDepth(j, h.opts.MaxJSONDepth); err != nil {
		writeError(w, err)
		return
	}
	// fieldValidation (fieldvalidation.go): the configuration is a map, so
	// only duplicate fields can be found, as upstream's strict YAML
	// decoding of an apply patch.
	if d := fieldDirective(req.Context()); d != metav1.FieldValidationIgnore {
		if err := sigsyaml.UnmarshalStrict(data, &map[string]any{}); err != nil {
			if d == metav1.FieldValidationStrict {
				writeError(w, apierrors.NewBadRequest(fmt.Sprintf("error strict decoding patch: %v", err)))
				return
			}
			warnStrict(req.Context(), []error{err})
		}
	}
	obj, created, err := h.s.Apply(req.Context(), rq.r, rq.ns, rq.name, j, opts, rq.subresource)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	respond(w, rq.r, code, obj, err)
}

// unsupportedPatchType is upstream's 415 for a PATCH body of another type.
func unsupportedPatchType() error {
	return statusErr(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s, %s",
			types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType))
}
