package apiserver

// The scale subresource (autoscaling/v1 Scale) of deployments and
// replicasets, as upstream's ScaleREST in pkg/registry/apps/*/storage: GET
// answers the object's replicas and selector, PUT and PATCH change
// spec.replicas through the ordinary update (validation, generation,
// resourceVersion compare-and-swap).
//
// Contracts:
//   - PATCH takes JSON, merge, strategic merge and apply patches
//     (application/apply-patch+yaml: client-go's ApplyScale); an apply
//     needs a fieldManager, honours force, is 404 on a missing object (the
//     scale subresource never creates) and conflicts (409) with the other
//     managers of spec.replicas, as upstream.
//   - managedFields: every scale write is recorded on the object under
//     subresource "scale" (operation Update, or Apply), apiVersion apps/v1,
//     owning only spec.replicas: the Scale's field manager works on the
//     object's entries that own spec.replicas (managedfields.ScaleHandler
//     with upstream's replicasPathInDeployment mapping), and a manager of
//     the Scale's replicas takes spec.replicas from the others. A later
//     apply of the object itself conflicts with the scale's manager.
//   - A PUT body is decoded as upstream's update handler does (JSON, YAML
//     or protobuf by Content-Type, strict under fieldValidation Strict,
//     warnings under Warn), and one that does not decode is a BadRequest
//     in upstream's transformDecodeError words (see decodeScale).

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// hasScale tells the resources with a scale subresource.
func hasScale(r *Resource) bool {
	return r.GVR.Group == appsv1.GroupName && (r.GVR.Resource == "deployments" || r.GVR.Resource == "replicasets")
}

// scaleAPIResource is r's scale entry in its discovery document: the
// group and version of its kind are autoscaling/v1, which client-go's scale
// client (kubectl scale) looks up there.
func scaleAPIResource(r *Resource) metav1.APIResource {
	return metav1.APIResource{Name: r.GVR.Resource + "/scale", Namespaced: true,
		Group: autoscalingv1.GroupName, Version: "v1", Kind: "Scale", Verbs: metav1.Verbs{"get", "patch", "update"}}
}

// scaleOf is obj's Scale.
func scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var om metav1.ObjectMeta
	var replicas, current int32
	var sel *metav1.LabelSelector
	switch o := obj.(type) {
	case *appsv1.Deployment:
		om, sel, current = o.ObjectMeta, o.Spec.Selector, o.Status.Replicas
		if o.Spec.Replicas != nil {
			replicas = *o.Spec.Replicas
		}
	case *appsv1.ReplicaSet:
		om, sel, current = o.ObjectMeta, o.Spec.Selector, o.Status.Replicas
		if o.Spec.Replicas != nil {
			replicas = *o.Spec.Replicas
		}
	default:
		return nil, fmt.Errorf("no scale for %T", obj)
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid label selector: %v", err))
	}
	sc := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: om.Name, Namespace: om.Namespace, UID: om.UID,
			ResourceVersion: om.ResourceVersion, CreationTimestamp: om.CreationTimestamp},
		Spec:   autoscalingv1.ScaleSpec{Replicas: replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: current, Selector: selector.String()},
	}
	sc.SetGroupVersionKind(scaleGVK)
	return sc, nil
}

// setReplicas writes a Scale's replicas into obj.
func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	}
}

// validateScale is upstream's ValidateScale.
func validateScale(sc *autoscalingv1.Scale) error {
	errs := apivalidation.ValidateObjectMeta(&sc.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	if sc.Spec.Replicas < 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "replicas"), sc.Spec.Replicas, "must be greater than or equal to 0"))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(scaleGVK.GroupKind(), sc.Name, errs)
	}
	return nil
}

// decodeScale reads a PUT's Scale (JSON, YAML or protobuf, as
// mediaType says) as upstream's update handler decodes it: the
// fieldValidation directive of ctx picks the strict decoder (unknown and
// duplicate fields fail under Strict, are warnings under Warn), and a body
// that does not decode is a BadRequest worded by upstream's
// transformDecodeError ("Scale in version \"v1\" cannot be handled as a
// Scale: ..." when the body names its kind, else "the object provided is
// unrecognized (must be of type Scale): ... (summary of the body)").
func decodeScale(ctx context.Context, mediaType string, body []byte) (*autoscalingv1.Scale, error) {
	if mediaType == "" {
		mediaType = runtime.ContentTypeJSON
	}
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		var accepted []string
		for _, i := range scheme.Codecs.SupportedMediaTypes() {
			accepted = append(accepted, i.MediaType)
		}
		return nil, statusErr(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
			"the body of the request was in an unknown format - accepted media types include: "+strings.Join(accepted, ", "))
	}
	d := fieldDirective(ctx)
	dec := info.Serializer
	if (d == metav1.FieldValidationWarn || d == metav1.FieldValidationStrict) && info.StrictSerializer != nil {
		dec = info.StrictSerializer
	}
	obj, gvk, err := dec.Decode(body, &scaleGVK, &autoscalingv1.Scale{})
	if err != nil {
		se, strict := runtime.AsStrictDecodingError(err)
		if !strict || obj == nil || d != metav1.FieldValidationWarn {
			return nil, scaleDecodeError(err, gvk, body)
		}
		warnStrict(ctx, se.Errors())
	}
	sc, ok := obj.(*autoscalingv1.Scale)
	if !ok { // upstream converts what it decoded to its internal Scale
		return nil, scaleDecodeError(fmt.Errorf("converting (%v) to (autoscaling.Scale): unknown conversion", reflect.TypeOf(obj).Elem()), gvk, body)
	}
	if gv := gvk.GroupVersion(); gv != scaleGVK.GroupVersion() {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", gv, scaleGVK.GroupVersion()))
	}
	sc.SetGroupVersionKind(scaleGVK)
	return sc, nil
}

// scaleDecodeError is upstream's transformDecodeError for a Scale.
func scaleDecodeError(err error, gvk *schema.GroupVersionKind, body []byte) error {
	if gvk != nil && gvk.Kind != "" {
		return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a Scale: %v", gvk.Kind, gvk.Version, err))
	}
	return apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type Scale): %v (%s)", err, summarizeBody(body, 30)))
}

// summarizeBody is upstream's summarizeData: JSON cut to max bytes, other
// bodies in hex.
func summarizeBody(data []byte, max int) string {
	cut, more := data, ""
	if len(data) > max {
		cut, more = data[:max], " ..."
	}
	switch {
	case len(data) == 0:
		return "<empty>"
	case data[0] == '{':
		return string(cut) + more
	default:
		return hex.EncodeToString(cut) + more
	}
}

// serveScale serves GET, PUT and PATCH (JSON, merge, strategic merge and
// apply patches) of NAME/scale.
func (h *httpHandler) serveScale(w http.ResponseWriter, req *http.Request, rq *request) {
	ctx, s, r := req.Context(), h.s, rq.r
	switch req.Method {
	case http.MethodGet:
		obj, err := s.Get(ctx, r, rq.ns, rq.name)
		if err != nil {
			writeError(w, err)
			return
		}
		sc, err := scaleOf(obj)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, sc)
	case http.MethodPut:
		body, err := readBody(req)
		if err == nil {
			err = checkJSONDepth(body, h.opts.MaxJSONDepth)
		}
		var sc *autoscalingv1.Scale
		if err == nil {
			mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
			sc, err = decodeScale(ctx, mt, body)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		if sc.Name == "" {
			sc.Name = rq.name
		}
		if sc.Namespace == "" {
			sc.Namespace = rq.ns
		}
		if sc.Name != rq.name {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", sc.Name, rq.name)))
			return
		}
		if sc.Namespace != rq.ns {
			writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
			return
		}
		if err := validateScale(sc); err != nil {
			writeError(w, err)
			return
		}
		want, err := parseRV(sc.ResourceVersion) // a precondition, as upstream's
		if err != nil {
			writeError(w, err)
			return
		}
		h.writeScale(w, req, rq, want, func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error) { return sc, nil })
	case http.MethodPatch:
		ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		pt := types.PatchType(ct)
		switch pt {
		case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType:
		default:
			writeError(w, unsupportedPatchType()) // apply.go
			return
		}
		data, err := readBody(req)
		if err == nil && pt == types.ApplyYAMLPatchType {
			data, err = applyConfiguration(req, data)
		}
		if err == nil {
			err = checkJSONDepth(data, h.opts.MaxJSONDepth)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		if pt == types.ApplyYAMLPatchType {
			h.applyScale(w, req, rq, data)
			return
		}
		h.writeScale(w, req, rq, 0, func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
			return patchScale(rq.r.GVR.GroupResource(), cur, pt, data)
		})
	default:
		writeError(w, methodNotAllowed(req.Method))
	}
}

// applyConfiguration checks an apply patch's body as serveApply does
// (fieldValidation finds duplicate fields) and returns it as JSON.
func applyConfiguration(req *http.Request, data []byte) ([]byte, error) {
	j, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	if d := fieldDirective(req.Context()); d != metav1.FieldValidationIgnore {
		if err := sigsyaml.UnmarshalStrict(data, &map[string]any{}); err != nil {
			if d == metav1.FieldValidationStrict {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("error strict decoding patch: %v", err))
			}
			warnStrict(req.Context(), []error{err})
		}
	}
	return j, nil
}

// applyScale serves server-side apply of a Scale, as upstream: the
// applied configuration is merged into the current Scale by the Scale's
// field manager (subresource "scale"), over the managedFields the
// ScaleHandler maps from the object's; a missing object is 404 (the scale
// subresource never creates).
func (h *httpHandler) applyScale(w http.ResponseWriter, req *http.Request, rq *request, data []byte) {
	var opts metav1.PatchOptions
	if err := decodeQuery(url1(req.URL.Query(), "force"), &opts); err != nil {
		writeError(w, err)
		return
	}
	opts.FieldManager = req.URL.Query().Get("fieldManager")
	if errs := metavalidation.ValidatePatchOptions(&opts, types.ApplyYAMLPatchType); len(errs) > 0 {
		writeError(w, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "PatchOptions"}, "", errs))
		return
	}
	applied := &unstructured.Unstructured{Object: map[string]any{}}
	if err := json.Unmarshal(data, &applied.Object); err != nil || applied.Object == nil {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", pick(err != nil, err, fmt.Errorf("the applied configuration is empty")))))
		return
	}
	fm, err := scaleFieldManager()
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	force := opts.Force != nil && *opts.Force
	h.writeScaleManaged(w, req, rq, 0, func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
		out, err := fm.Apply(cur, applied.DeepCopy(), opts.FieldManager, force)
		if err != nil {
			return nil, applyError(err)
		}
		sc, ok := out.(*autoscalingv1.Scale)
		if !ok {
			return nil, apierrors.NewInternalError(fmt.Errorf("apply of a Scale made a %T", out))
		}
		if sc.Name != cur.Name {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", sc.Name, cur.Name))
		}
		if sc.Namespace != cur.Namespace {
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		if sc.ResourceVersion != cur.ResourceVersion {
			return nil, apierrors.NewConflict(rq.r.GVR.GroupResource(), cur.Name, fmt.Errorf(registryConflictMsg))
		}
		if err := validateScale(sc); err != nil {
			return nil, err
		}
		return sc, nil
	})
}

// replicasPaths maps the group versions of deployments and replicasets to
// their replicas field, as upstream's replicasPathInDeployment and
// replicasPathInReplicaSet.
var replicasPaths = managedfields.ResourcePathMappings{
	"apps/v1":      fieldpath.MakePathOrDie("spec", "replicas"),
	"apps/v1beta1": fieldpath.MakePathOrDie("spec", "replicas"),
	"apps/v1beta2": fieldpath.MakePathOrDie("spec", "replicas"),
}

var (
	scaleFMOnce sync.Once
	scaleFM     *managedfields.FieldManager
	scaleFMErr  error
)

// scaleFieldManager is the field manager of autoscaling/v1 Scale under
// subresource "scale", as kube-apiserver's installer builds for the scale
// subresources (ScaleREST has no reset fields).
func scaleFieldManager() (*managedfields.FieldManager, error) {
	scaleFMOnce.Do(func() {
		tc, err := typeConverter() // managedfields.go
		if err != nil {
			scaleFMErr = err
			return
		}
		scaleFM, scaleFMErr = managedfields.NewDefaultFieldManager(tc, runtime.UnsafeObjectConvertor(scheme.Scheme), scheme.Scheme, scheme.Scheme,
			scaleGVK, scaleGVK.GroupVersion(), "scale", nil)
	})
	return scaleFM, scaleFMErr
}

// writeScale updates the object with the Scale that next makes of its
// current one (compare-and-swap; want pins the resourceVersion), records
// the write as an Update by the request's manager under subresource
// "scale", and answers the new Scale.
func (h *httpHandler) writeScale(w http.ResponseWriter, req *http.Request, rq *request, want int64, next func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error)) {
	h.writeScaleManaged(w, req, rq, want, func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
		sc, err := next(cur)
		if err != nil {
			return nil, err
		}
		fm, err := scaleFieldManager()
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		sc.SetGroupVersionKind(scaleGVK)
		out, ok := fm.UpdateNoErrors(cur, sc, fieldManagerName(req.Context())).(*autoscalingv1.Scale)
		if !ok {
			return nil, apierrors.NewInternalError(fmt.Errorf("managed fields of a Scale"))
		}
		return out, nil
	})
}

// writeScaleManaged is upstream's scaleUpdatedObjectInfo: object -> its
// Scale, whose managedFields are the object's entries owning spec.replicas
// (managedfields.ScaleHandler.ToSubresource) -> the new Scale, whose
// managedFields next computed -> the object with the new replicas and the
// entries mapped back (ToParent: a manager of the Scale's replicas takes
// spec.replicas from the others, with subresource "scale").
func (h *httpHandler) writeScaleManaged(w http.ResponseWriter, req *http.Request, rq *request, want int64, next func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error)) {
	ctx := withApplied(req.Context()) // the managedFields are computed here
	obj, err := h.s.update(ctx, rq.r, rq.ns, rq.name, want, func(old runtime.Object) (runtime.Object, error) {
		cur, err := scaleOf(old)
		if err != nil {
			return nil, err
		}
		m, err := meta.Accessor(old)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		mfh := managedfields.NewScaleHandler(m.GetManagedFields(), rq.r.GVR.GroupVersion(), replicasPaths)
		if cur.ManagedFields, err = mfh.ToSubresource(); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		sc, err := next(cur)
		if err != nil {
			return nil, err
		}
		if sc.UID != "" && sc.UID != cur.UID {
			return nil, apierrors.NewConflict(rq.r.GVR.GroupResource(), rq.name,
				fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", sc.UID, cur.UID))
		}
		setReplicas(old, sc.Spec.Replicas)
		entries, err := mfh.ToParent(sc.ManagedFields)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		m.SetManagedFields(entries)
		return old, nil
	}, "")
	if err != nil {
		writeError(w, err)
		return
	}
	sc, err := scaleOf(obj)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}

// patchScale applies a JSON, merge or strategic merge patch to cur.
func patchScale(gr schema.GroupResource, cur *autoscalingv1.Scale, pt types.PatchType, data []byte) (*autoscalingv1.Scale, error) {
	orig, err := json.Marshal(cur)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	var out []byte
	switch pt {
	case types.JSONPatchType:
		p, perr := jsonpatch.DecodePatch(data)
		if perr != nil {
			return nil, apierrors.NewBadRequest(perr.Error())
		}
		out, err = p.Apply(orig)
	case types.MergePatchType:
		out, err = jsonpatch.MergePatch(orig, data)
	default:
		out, err = strategicpatch.StrategicMergePatch(orig, data, autoscalingv1.Scale{})
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	sc, err := decodeScale(context.Background(), runtime.ContentTypeJSON, out)
	if err != nil {
		return nil, err
	}
	if sc.ResourceVersion != cur.ResourceVersion {
		return nil, apierrors.NewConflict(gr, cur.Name, fmt.Errorf(registryConflictMsg))
	}
	if sc.Name != cur.Name || sc.Namespace != cur.Namespace {
		return nil, apierrors.NewBadRequest("the patch may not change metadata.name or metadata.namespace")
	}
	if err := validateScale(sc); err != nil {
		return nil, err
	}
	return sc, nil
}
