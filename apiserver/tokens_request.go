package apiserver

// tokens_request.go: the TokenRequest and TokenReview APIs.
//
//   - POST /api/v1/namespaces/NS/serviceaccounts/NAME/token takes an
//     authentication.k8s.io/v1 TokenRequest (JSON, YAML or protobuf) and
//     answers 201 with it and status.token, status.expirationTimestamp, as
//     kube-apiserver's TokenREST: spec.expirationSeconds defaults to 3600
//     and must be at least 600 and at most 2^32; spec.audiences default
//     to the API server's; spec.boundObjectRef binds the token to a Pod
//     (whose serviceAccountName must be NAME), a Secret or a Node of v1,
//     its uid checked when given. RBAC: create on serviceaccounts/token.
//     Listed in discovery as upstream (serviceaccounts/token, group
//     authentication.k8s.io, kind TokenRequest). `kubectl create token`
//     uses it. dryRun=All checks everything and issues no token.
//   - POST /apis/authentication.k8s.io/v1/tokenreviews answers whether
//     spec.token is a ServiceAccount token this server accepts for
//     spec.audiences (the API server's when empty), with the user or
//     upstream's error; it is a review (authreview.go): never stored.
//     Static and admin tokens are not reviewed (status.authenticated
//     false).

import (
	"context"
	"fmt"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

// tokenAPIResource is serviceaccounts/token in the core discovery
// document, as upstream's.
var tokenAPIResource = metav1.APIResource{Name: "serviceaccounts/token", Namespaced: true,
	Group: authenticationv1.GroupName, Version: "v1", Kind: "TokenRequest", Verbs: metav1.Verbs{"create"}}

func init() {
	reviewResources = append(reviewResources, reviewResource{ // authreview.go
		gv:     authenticationv1.SchemeGroupVersion,
		res:    metav1.APIResource{Name: "tokenreviews", SingularName: "tokenreview", Kind: "TokenReview", Verbs: metav1.Verbs{"create"}},
		newObj: func() runtime.Object { return &authenticationv1.TokenReview{} },
		create: createTokenReview,
	})
}

// defaultTokenExpirationSeconds is upstream's TokenRequestSpec default.
const defaultTokenExpirationSeconds = 3600

// maxTokenAudiences bounds spec.audiences (upstream has no bound; the
// body limit is the only one there).
const maxTokenAudiences = 64

func (h *httpHandler) serveTokenRequest(w http.ResponseWriter, req *http.Request, rq *request) {
	if req.Method != http.MethodPost {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	body, err := h.readObjectBody(req, "TokenRequest")
	if err != nil {
		writeError(w, err)
		return
	}
	want := authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
	obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(body, &want, &authenticationv1.TokenRequest{})
	if err != nil {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not a valid TokenRequest object: %v", err)))
		return
	}
	tr, ok := obj.(*authenticationv1.TokenRequest)
	if !ok || (gvk != nil && *gvk != want) {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s) for this URL", gvk, want)))
		return
	}
	if tr.Namespace != "" && tr.Namespace != rq.ns {
		writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	out, err := h.s.CreateToken(req.Context(), rq.ns, rq.name, tr)
	if err != nil {
		writeError(w, err)
		return
	}
	out.SetGroupVersionKind(want)
	writeJSON(w, http.StatusCreated, out)
}

// CreateToken answers a TokenRequest for the service account ns/name (see
// the file comment). tr is not modified.
func (s *Server) CreateToken(ctx context.Context, ns, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	out := tr.DeepCopy()
	out.Namespace = ns
	out.Status = authenticationv1.TokenRequestStatus{}
	if out.Spec.ExpirationSeconds == nil {
		es := int64(defaultTokenExpirationSeconds)
		out.Spec.ExpirationSeconds = &es
	}
	gk := schema.GroupKind{Group: authenticationv1.GroupName, Kind: "TokenRequest"}
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if es := *out.Spec.ExpirationSeconds; es < 600 {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), es, "may not specify a duration less than 10 minutes"))
	} else if es > 1<<32 {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), es, "may not specify a duration larger than 2^32 seconds"))
	}
	if len(out.Spec.Audiences) > maxTokenAudiences {
		errs = append(errs, field.TooMany(spec.Child("audiences"), len(out.Spec.Audiences), maxTokenAudiences))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(gk, name, errs)
	}
	iss, err := s.TokenIssuer()
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	saObj, err := s.Get(ctx, s.resources["/serviceaccounts"], ns, name)
	if err != nil {
		return nil, err
	}
	sa := saObj.(*corev1.ServiceAccount)
	var b tokenBinding
	if ref := out.Spec.BoundObjectRef; ref != nil {
		gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
		var uid string
		switch {
		case gvk.Group == "" && gvk.Kind == "Pod":
			obj, err := s.Get(ctx, s.resources["/pods"], ns, ref.Name)
			if err != nil {
				return nil, err
			}
			b.pod = obj.(*corev1.Pod)
			if san := b.pod.Spec.ServiceAccountName; san != name && !(san == "" && name == "default") {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", name))
			}
			uid = string(b.pod.UID)
			if nn := b.pod.Spec.NodeName; nn != "" {
				if obj, err := s.Get(ctx, s.resources["/nodes"], "", nn); err == nil {
					b.node = obj.(*corev1.Node)
				}
			}
		case gvk.Group == "" && gvk.Kind == "Secret":
			obj, err := s.Get(ctx, s.resources["/secrets"], ns, ref.Name)
			if err != nil {
				return nil, err
			}
			b.secret = obj.(*corev1.Secret)
			uid = string(b.secret.UID)
		case gvk.Group == "" && gvk.Kind == "Node":
			obj, err := s.Get(ctx, s.resources["/nodes"], "", ref.Name)
			if err != nil {
				return nil, err
			}
			b.node = obj.(*corev1.Node)
			uid = string(b.node.UID)
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gvk.String()))
		}
		if ref.UID != "" && string(ref.UID) != uid {
			return nil, apierrors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ref.Name,
				fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
		}
	}
	if len(out.Spec.Audiences) == 0 {
		out.Spec.Audiences = iss.Audiences()
	}
	if isDryRun(ctx) { // dryrun.go
		return out, nil
	}
	now := s.clock.Now()
	tok, err := iss.issue(sa, b, *out.Spec.ExpirationSeconds, out.Spec.Audiences, now)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("failed to generate token: %v", err))
	}
	out.Status = authenticationv1.TokenRequestStatus{Token: tok,
		ExpirationTimestamp: metav1.NewTime(now.Truncate(time.Second).Add(time.Duration(*out.Spec.ExpirationSeconds) * time.Second))}
	return out, nil
}

// createTokenReview answers a TokenReview (see the file comment).
func createTokenReview(s *Server, ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	tr := obj.(*authenticationv1.TokenReview)
	if tr.Spec.Token == "" {
		return nil, apierrors.NewBadRequest("token is required for TokenReview in authentication")
	}
	out := &authenticationv1.TokenReview{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.Now()}, Spec: tr.Spec}
	u, auds, ours, err := s.authenticateServiceAccountToken(ctx, tr.Spec.Token, tr.Spec.Audiences)
	switch {
	case !ours:
		out.Status.Error = "[invalid bearer token, token lookup failed]"
	case err != nil:
		out.Status.Error = err.Error()
	default:
		out.Status.Authenticated = true
		out.Status.Audiences = auds
		out.Status.User = authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
		for k, v := range u.GetExtra() {
			if out.Status.User.Extra == nil {
				out.Status.User.Extra = map[string]authenticationv1.ExtraValue{}
			}
			out.Status.User.Extra[k] = v
		}
	}
	return out, nil
}
