package apiserver

// authreview.go serves the review APIs kubectl's `auth whoami` and
// `auth can-i` use:
//
//   - authentication.k8s.io/v1 selfsubjectreviews (create): the request's
//     user, in status.userInfo;
//   - authorization.k8s.io/v1 selfsubjectaccessreviews (create): whether
//     the request's user may do what spec.resourceAttributes or
//     spec.nonResourceAttributes describe, validated with upstream's rules
//     and messages;
//   - authorization.k8s.io/v1 selfsubjectrulesreviews (create): what the
//     user may do in spec.namespace.
//
// They are created and answered (201), never stored, and are listed in
// discovery with the single verb "create", as upstream. Bodies may be
// JSON, YAML or protobuf (client-go's typed clients send protobuf).
//
// Identity: the request's user (authn.go). Access and rules reviews are
// answered by the authorizer (rbac_authz.go): system:masters may do
// everything; anyone else what their RBAC bindings allow. The rules review
// lists the RBAC rules that apply in spec.namespace (cluster-wide ones
// included), as upstream's.

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

// reviewResource is a create-only review kind.
type reviewResource struct {
	gv     schema.GroupVersion
	res    metav1.APIResource
	newObj func() runtime.Object
	create func(s *Server, ctx context.Context, obj runtime.Object) (runtime.Object, error)
}

var reviewResources = []reviewResource{
	{
		gv:     authenticationv1.SchemeGroupVersion,
		res:    metav1.APIResource{Name: "selfsubjectreviews", SingularName: "selfsubjectreview", Kind: "SelfSubjectReview", Verbs: metav1.Verbs{"create"}},
		newObj: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
		create: createSelfSubjectReview,
	},
	{
		gv:     authorizationv1.SchemeGroupVersion,
		res:    metav1.APIResource{Name: "selfsubjectaccessreviews", SingularName: "selfsubjectaccessreview", Kind: "SelfSubjectAccessReview", Verbs: metav1.Verbs{"create"}},
		newObj: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} },
		create: createSelfSubjectAccessReview,
	},
	{
		gv:     authorizationv1.SchemeGroupVersion,
		res:    metav1.APIResource{Name: "selfsubjectrulesreviews", SingularName: "selfsubjectrulesreview", Kind: "SelfSubjectRulesReview", Verbs: metav1.Verbs{"create"}},
		newObj: func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} },
		create: createSelfSubjectRulesReview,
	},
}

// addReviewGroups adds the review kinds' groups to a discovery group list.
func addReviewGroups(list *metav1.APIGroupList) {
	for _, rr := range reviewResources {
		have := false
		for _, g := range list.Groups {
			have = have || g.Name == rr.gv.Group
		}
		if !have {
			gvd := metav1.GroupVersionForDiscovery{GroupVersion: rr.gv.String(), Version: rr.gv.Version}
			list.Groups = append(list.Groups, metav1.APIGroup{Name: rr.gv.Group, PreferredVersion: gvd, Versions: []metav1.GroupVersionForDiscovery{gvd}})
		}
	}
}

// reviewAPIResources are the review kinds of gv, for its discovery list.
func reviewAPIResources(gv schema.GroupVersion) []metav1.APIResource {
	var out []metav1.APIResource
	for _, rr := range reviewResources {
		if rr.gv == gv {
			out = append(out, rr.res)
		}
	}
	return out
}

// serveReview serves POST /apis/{group}/{version}/{resource} for a review
// kind; it reports false when the path is not one.
func (h *httpHandler) serveReview(w http.ResponseWriter, req *http.Request, group, version, resource string) bool {
	for _, rr := range reviewResources {
		if rr.gv.Group != group || rr.gv.Version != version || rr.res.Name != resource {
			continue
		}
		if req.Method != http.MethodPost {
			writeError(w, methodNotAllowed(req.Method))
			return true
		}
		obj, err := h.decodeReview(req, rr)
		if err != nil {
			writeError(w, err)
			return true
		}
		out, err := rr.create(h.s, req.Context(), obj)
		if err != nil {
			writeError(w, err)
			return true
		}
		out.GetObjectKind().SetGroupVersionKind(rr.gv.WithKind(rr.res.Kind))
		writeJSON(w, http.StatusCreated, out)
		return true
	}
	return false
}

// readObjectBody reads the body of a POST of one kind's object: bounded,
// not empty, nested at most MaxJSONDepth levels.
func (h *httpHandler) readObjectBody(req *http.Request, kind string) ([]byte, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		article := "a"
		if strings.ContainsRune("AEIOU", rune(kind[0])) {
			article = "an"
		}
		return nil, apierrors.NewBadRequest("the request body is empty; expected " + article + " " + kind + " object")
	}
	if err := checkJSONDepth(body, h.opts.MaxJSONDepth); err != nil {
		return nil, err
	}
	return body, nil
}

// decodeReview reads a review from a JSON, YAML or protobuf body.
func (h *httpHandler) decodeReview(req *http.Request, rr reviewResource) (runtime.Object, error) {
	want := rr.gv.WithKind(rr.res.Kind)
	body, err := h.readObjectBody(req, want.Kind)
	if err != nil {
		return nil, err
	}
	obj := rr.newObj()
	got, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(body, &want, obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not a valid %s object: %v", want.Kind, err))
	}
	if gvk != nil && *gvk != want {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s) for this URL", gvk, want))
	}
	return got, nil
}

func createSelfSubjectReview(_ *Server, ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	u := UserFrom(ctx)
	out := &authenticationv1.SelfSubjectReview{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.Now()},
		Status: authenticationv1.SelfSubjectReviewStatus{UserInfo: authenticationv1.UserInfo{
			Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}},
	}
	for k, v := range u.GetExtra() {
		if out.Status.UserInfo.Extra == nil {
			out.Status.UserInfo.Extra = map[string]authenticationv1.ExtraValue{}
		}
		out.Status.UserInfo.Extra[k] = v
	}
	return out, nil
}

func createSelfSubjectAccessReview(s *Server, ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	sar := obj.(*authorizationv1.SelfSubjectAccessReview)
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if sar.Spec.ResourceAttributes != nil && sar.Spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(spec.Child("nonResourceAttributes"), sar.Spec.NonResourceAttributes, `cannot be specified in combination with resourceAttributes`))
	}
	if sar.Spec.ResourceAttributes == nil && sar.Spec.NonResourceAttributes == nil {
		errs = append(errs, field.Invalid(spec.Child("resourceAttributes"), sar.Spec.NonResourceAttributes, `exactly one of nonResourceAttributes or resourceAttributes must be specified`))
	}
	om := sar.ObjectMeta
	om.ManagedFields = nil
	if !equality.Semantic.DeepEqual(metav1.ObjectMeta{}, om) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), sar.ObjectMeta, `must be empty`))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview").GroupKind(), "", errs)
	}
	a := authorizer.AttributesRecord{User: UserFrom(ctx)}
	if ra := sar.Spec.ResourceAttributes; ra != nil {
		a.Verb, a.Namespace, a.APIGroup, a.APIVersion = ra.Verb, ra.Namespace, ra.Group, ra.Version
		a.Resource, a.Subresource, a.Name, a.ResourceRequest = ra.Resource, ra.Subresource, ra.Name, true
	} else {
		a.Verb, a.Path = sar.Spec.NonResourceAttributes.Verb, sar.Spec.NonResourceAttributes.Path
	}
	d := s.authorizeAttrs(ctx, a)
	sar.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: d.allowed, Reason: d.reason}
	return sar, nil
}

func createSelfSubjectRulesReview(s *Server, ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	srr := obj.(*authorizationv1.SelfSubjectRulesReview)
	if srr.Spec.Namespace == "" {
		return nil, apierrors.NewBadRequest("no namespace on request")
	}
	out := &authorizationv1.SelfSubjectRulesReview{Spec: srr.Spec}
	out.Status.ResourceRules = []authorizationv1.ResourceRule{}
	out.Status.NonResourceRules = []authorizationv1.NonResourceRule{}
	rules, errs := s.rulesFor(ctx, UserFrom(ctx), srr.Spec.Namespace)
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 {
			out.Status.NonResourceRules = append(out.Status.NonResourceRules, authorizationv1.NonResourceRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
			continue
		}
		out.Status.ResourceRules = append(out.Status.ResourceRules, authorizationv1.ResourceRule{
			Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
	}
	if len(errs) > 0 {
		out.Status.Incomplete = true
		out.Status.EvaluationError = fmt.Sprint(errs)
	}
	return out, nil
}
