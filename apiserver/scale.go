package apiserver

// The scale subresource (autoscaling/v1 Scale) of deployments and
// replicasets, as upstream's ScaleREST in pkg/registry/apps/*/storage: GET
// answers the object's replicas and selector, PUT and PATCH change
// spec.replicas through the ordinary update (validation, generation,
// resourceVersion compare-and-swap).

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
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

// decodeScale reads a Scale (JSON or protobuf) from body.
func decodeScale(body []byte) (*autoscalingv1.Scale, error) {
	if len(body) == 0 {
		return nil, apierrors.NewBadRequest("the request body is empty; expected a Scale object")
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, &scaleGVK, nil)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not a valid Scale object: %v", err))
	}
	sc, ok := obj.(*autoscalingv1.Scale)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s) for this URL",
			obj.GetObjectKind().GroupVersionKind(), scaleGVK))
	}
	return sc, nil
}

// serveScale serves GET, PUT and PATCH of NAME/scale.
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
			sc, err = decodeScale(body)
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
		case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
		default: // server-side apply of a Scale is not served (upstream's is)
			writeError(w, statusErr(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
				fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s",
					types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType)))
			return
		}
		data, err := readBody(req)
		if err == nil {
			err = checkJSONDepth(data, h.opts.MaxJSONDepth)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		h.writeScale(w, req, rq, 0, func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
			return patchScale(rq.r.GVR.GroupResource(), cur, pt, data)
		})
	default:
		writeError(w, methodNotAllowed(req.Method))
	}
}

// writeScale updates the object with the Scale that next makes of its
// current one (compare-and-swap; want pins the resourceVersion) and
// answers the new Scale.
func (h *httpHandler) writeScale(w http.ResponseWriter, req *http.Request, rq *request, want int64, next func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error)) {
	obj, err := h.s.update(req.Context(), rq.r, rq.ns, rq.name, want, func(old runtime.Object) (runtime.Object, error) {
		cur, err := scaleOf(old)
		if err != nil {
			return nil, err
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
	sc, err := decodeScale(out)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
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
