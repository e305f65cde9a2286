package apiserver

// eviction.go serves pods/eviction (policy/v1 Eviction, the subresource
// `kubectl drain` uses), as kube-apiserver's EvictionREST does without
// PodDisruptionBudgets:
//
//   - POST .../pods/NAME/eviction with an Eviction (JSON, YAML or
//     protobuf; policy/v1 or policy/v1beta1) whose metadata.name, when
//     given, is NAME (400 otherwise: "name in URL does not match name in
//     Eviction object").
//   - A pod that is not yet terminal and not already being deleted gets the
//     condition DisruptionTarget=True (reason EvictionByEvictionAPI,
//     message "Eviction API: evicting"), then is deleted with the
//     Eviction's deleteOptions (grace period, preconditions; a
//     resourceVersion precondition is checked against the pod as it was,
//     then moved to the version the condition wrote, as upstream). The
//     answer is 201 with a Success Status.
//   - PodDisruptionBudgets are honoured as upstream's EvictionREST does
//     (pdb_eviction.go: Evict): 429 "Cannot evict pod as it would violate
//     the pod's disruption budget." when the budget allows no disruption.
//   - dryRun=All runs every check and stores nothing (dryrun.go).

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

// evictionAPIResource is pods/eviction in the core discovery document:
// kubectl drain looks for its group and version there.
var evictionAPIResource = metav1.APIResource{Name: "pods/eviction", Namespaced: true,
	Group: policyv1.GroupName, Version: "v1", Kind: "Eviction", Verbs: metav1.Verbs{"create"}}

func (h *httpHandler) serveEviction(w http.ResponseWriter, req *http.Request, rq *request) {
	if req.Method != http.MethodPost {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	body, err := h.readObjectBody(req, "Eviction")
	if err != nil {
		writeError(w, err)
		return
	}
	def := policyv1.SchemeGroupVersion.WithKind("Eviction")
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, &def, nil)
	if err != nil {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not a valid Eviction object: %v", err)))
		return
	}
	var name, ns string
	var opts *metav1.DeleteOptions
	switch ev := obj.(type) {
	case *policyv1.Eviction:
		name, ns, opts = ev.Name, ev.Namespace, ev.DeleteOptions
	case *policyv1beta1.Eviction:
		name, ns, opts = ev.Name, ev.Namespace, ev.DeleteOptions
	default:
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s) for this URL",
			obj.GetObjectKind().GroupVersionKind(), def)))
		return
	}
	if name != "" && name != rq.name {
		writeError(w, apierrors.NewBadRequest("name in URL does not match name in Eviction object"))
		return
	}
	if ns != "" && ns != rq.ns {
		writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	var dopts metav1.DeleteOptions
	if opts != nil {
		dopts = *opts
	}
	if len(dopts.DryRun) > 0 {
		if err := validateDryRun("DeleteOptions", dopts.DryRun); err != nil { // dryrun.go
			writeError(w, err)
			return
		}
	}
	if err := h.s.Evict(req.Context(), rq.ns, rq.name, dopts); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// addConditionAndDeletePod (upstream's name) evicts a pod once its
// budget allowed it (pdb_eviction.go): the DisruptionTarget condition, then
// a delete with opts (see the file comment).
func (s *Server) addConditionAndDeletePod(ctx context.Context, ns, name string, opts metav1.DeleteOptions) error {
	ctx = dryRunDelete(ctx, opts) // dryrun.go: the condition and the delete are dry runs too
	r := s.resources["/pods"]
	obj, err := s.Get(ctx, r, ns, name)
	if err != nil {
		return err
	}
	pod := obj.(*corev1.Pod)
	if pc := opts.Preconditions; pc != nil {
		if pc.UID != nil && *pc.UID != pod.UID {
			return apierrors.NewConflict(r.GVR.GroupResource(), name,
				fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", *pc.UID, pod.UID))
		}
		if pc.ResourceVersion != nil && *pc.ResourceVersion != pod.ResourceVersion {
			return apierrors.NewConflict(r.GVR.GroupResource(), name,
				fmt.Errorf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", *pc.ResourceVersion, pod.ResourceVersion))
		}
	}
	if !podTerminal(pod) && pod.DeletionTimestamp == nil {
		updated, err := s.update(ctx, r, ns, name, 0, func(old runtime.Object) (runtime.Object, error) {
			p := old.(*corev1.Pod)
			if p.UID != pod.UID {
				return nil, apierrors.NewConflict(r.GVR.GroupResource(), name, fmt.Errorf("the pod was replaced while it was evicted"))
			}
			setCondition(&p.Status, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: metav1.NewTime(s.clock.Now())})
			return p, nil
		}, "status")
		if err != nil {
			return err
		}
		if opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil {
			rv := updated.(*corev1.Pod).ResourceVersion
			pc := *opts.Preconditions
			pc.ResourceVersion = &rv
			opts.Preconditions = &pc
		}
	}
	_, err = s.Delete(ctx, r, ns, name, opts)
	return err
}
