package apiserver

// tokens.go: ServiceAccount tokens, as kube-apiserver's bound service
// account tokens (pkg/serviceaccount):
//
//   - A TokenIssuer signs JWTs (ES256, golang-jwt) with one key: serve keeps
//     it in <data-dir>/pki/sa.key (LoadOrCreateServiceAccountKey), an
//     in-memory cluster generates one (Options.ServiceAccountTokens nil).
//     The "kid" header is upstream's: the base64url SHA-256 of the public
//     key's PKIX DER.
//   - Claims as upstream's: iss (DefaultServiceAccountIssuer), sub
//     system:serviceaccount:NS:NAME, aud, exp, iat, nbf, jti and
//     "kubernetes.io" with namespace, serviceaccount{name,uid} and, when
//     bound, pod{name,uid} (plus the pod's node{name,uid}), secret or
//     node. A pod-bound token of 3607 s for the API server's audiences
//     lasts a year with a warnafter claim at 3607 s (upstream's
//     --service-account-extend-token-expiration, on by default); the
//     TokenRequest still reports the 3607 s, which the kubelet refreshes.
//   - Authentication (authenticateServiceAccountToken): a token whose
//     issuer is ours must carry our signature, be within its validity
//     (one minute of leeway, as go-jose's default, which upstream uses;
//     the checks are go-jose's, in its order), name one of the
//     audiences asked for (the API server's own: the issuer), and its
//     service account and bound objects must still exist with the same
//     uids and not be deleted for more than the leeway; the messages are
//     upstream's. The user is the service account's, in
//     system:serviceaccounts, system:serviceaccounts:NS and
//     system:authenticated, with the pod, node and credential id extras.
//     A token of another issuer is not ours and is left to the other
//     authenticators.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	jwttoken "k8s.io/apiserver/pkg/authentication/token/jwt"
	"k8s.io/apiserver/pkg/authentication/user"
)

// DefaultServiceAccountIssuer is the tokens' iss claim and the API
// server's audience, as a kubeadm cluster's.
const DefaultServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// Upstream's constants (pkg/serviceaccount/claims.go).
const (
	// warnOnlyBoundTokenExpirationSeconds is the expiration the
	// ServiceAccount admission gives kube-api-access tokens.
	warnOnlyBoundTokenExpirationSeconds = 60*60 + 7
	// extendedExpirationSeconds is what such a token really lasts.
	extendedExpirationSeconds = 24 * 365 * 60 * 60
	// tokenLeeway is go-jose's jwt.DefaultLeeway, which upstream uses for
	// exp/nbf/iat and for objects deleted "before now".
	tokenLeeway = time.Minute
)

// maxServiceAccountKeyBytes bounds the key file read at start.
const maxServiceAccountKeyBytes = 64 << 10

// TokenIssuer signs and verifies ServiceAccount tokens.
type TokenIssuer struct {
	key       *ecdsa.PrivateKey
	kid       string
	issuer    string
	audiences []string
}

// NewTokenIssuer returns an issuer signing with key; issuer is the iss
// claim and the API server's one audience (DefaultServiceAccountIssuer
// when empty).
func NewTokenIssuer(key *ecdsa.PrivateKey, issuer string) (*TokenIssuer, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, errors.New("service account key: an ECDSA P-256 key is required")
	}
	if issuer == "" {
		issuer = DefaultServiceAccountIssuer
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	kid := base64.RawURLEncoding.EncodeToString(sum[:])
	return &TokenIssuer{key: key, kid: kid, issuer: issuer, audiences: []string{issuer}}, nil
}

// Issuer is the iss claim of the tokens.
func (t *TokenIssuer) Issuer() string { return t.issuer }

// Audiences are the API server's audiences: a token must name one of them
// to authenticate to it, and a TokenRequest without audiences gets them.
func (t *TokenIssuer) Audiences() []string { return append([]string(nil), t.audiences...) }

// GenerateServiceAccountKey makes a new signing key.
func GenerateServiceAccountKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// LoadOrCreateServiceAccountKey reads the PEM key at path, or creates one
// there (0600, written to a temporary file and renamed, in a 0700
// directory) when the file does not exist. A key that is not a regular
// file, is larger than 64 KiB or is not an ECDSA P-256 key is refused.
func LoadOrCreateServiceAccountKey(path string) (*ecdsa.PrivateKey, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := GenerateServiceAccountKey()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), ".sa.key-")
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp.Name())
		err = tmp.Chmod(0o600)
		if err == nil {
			err = pem.Encode(tmp, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		}
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			return nil, err
		}
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > maxServiceAccountKeyBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxServiceAccountKeyBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var k any
	switch blk.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%s: a %q PEM block, want an EC PRIVATE KEY", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not an ECDSA P-256 key", path)
	}
	return key, nil
}

// tokenState is the Server's token issuer (made on first use when
// Options.ServiceAccountTokens is nil) and the cluster's root CA.
type tokenState struct {
	once   sync.Once
	issuer *TokenIssuer
	err    error

	mu     sync.RWMutex
	rootCA []byte
}

// TokenIssuer returns the server's ServiceAccount token issuer.
func (s *Server) TokenIssuer() (*TokenIssuer, error) {
	s.tokens.once.Do(func() {
		if s.opts.ServiceAccountTokens != nil {
			s.tokens.issuer = s.opts.ServiceAccountTokens
			return
		}
		key, err := GenerateServiceAccountKey()
		if err == nil {
			s.tokens.issuer, err = NewTokenIssuer(key, "")
		}
		s.tokens.err = err
	})
	return s.tokens.issuer, s.tokens.err
}

// SetRootCA sets the PEM bundle that verifies the API server's serving
// certificate: the rootcacertpublisher controller publishes it as
// kube-root-ca.crt, and from then on the ServiceAccount admission mounts
// tokens into pods (serviceaccount_admission.go). Empty turns it off.
func (s *Server) SetRootCA(pem []byte) {
	s.tokens.mu.Lock()
	s.tokens.rootCA = append([]byte(nil), pem...)
	s.tokens.mu.Unlock()
}

// RootCA is the bundle SetRootCA set.
func (s *Server) RootCA() []byte {
	s.tokens.mu.RLock()
	defer s.tokens.mu.RUnlock()
	return append([]byte(nil), s.tokens.rootCA...)
}

// claimRef is upstream's ref claim.
type claimRef struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// k8sClaims is upstream's "kubernetes.io" private claim.
type k8sClaims struct {
	Namespace      string           `json:"namespace,omitempty"`
	ServiceAccount *claimRef        `json:"serviceaccount,omitempty"`
	Pod            *claimRef        `json:"pod,omitempty"`
	Secret         *claimRef        `json:"secret,omitempty"`
	Node           *claimRef        `json:"node,omitempty"`
	WarnAfter      *jwt.NumericDate `json:"warnafter,omitempty"`
}

// tokenClaims are a token's claims as authentication reads them.
type tokenClaims struct {
	jwt.RegisteredClaims
	Kubernetes *k8sClaims `json:"kubernetes.io,omitempty"`
}

// tokenBinding is what a token is bound to (at most one of pod, secret
// and node; a pod's node rides along).
type tokenBinding struct {
	pod    *corev1.Pod
	secret *corev1.Secret
	node   *corev1.Node
}

// issue signs a token for sa, valid for expSeconds from now (extended as
// the file comment says), and returns it with its jti.
func (t *TokenIssuer) issue(sa *corev1.ServiceAccount, b tokenBinding, expSeconds int64, auds []string, now time.Time) (string, error) {
	pc := &k8sClaims{Namespace: sa.Namespace, ServiceAccount: &claimRef{Name: sa.Name, UID: string(sa.UID)}}
	switch {
	case b.pod != nil:
		pc.Pod = &claimRef{Name: b.pod.Name, UID: string(b.pod.UID)}
		if b.node != nil {
			pc.Node = &claimRef{Name: b.node.Name, UID: string(b.node.UID)}
		}
	case b.secret != nil:
		pc.Secret = &claimRef{Name: b.secret.Name, UID: string(b.secret.UID)}
	case b.node != nil:
		pc.Node = &claimRef{Name: b.node.Name, UID: string(b.node.UID)}
	}
	if b.pod != nil && expSeconds == warnOnlyBoundTokenExpirationSeconds && sameAudiences(auds, t.audiences) {
		pc.WarnAfter = jwt.NewNumericDate(now.Add(time.Duration(expSeconds) * time.Second))
		expSeconds = extendedExpirationSeconds
	}
	now = now.Truncate(time.Second)
	// A map, as upstream's go-jose builder merges its claims into one:
	// the same bytes, keys sorted; aud is always a list, as upstream's.
	claims := jwt.MapClaims{
		"iss":           t.issuer,
		"sub":           serviceaccount.MakeUsername(sa.Namespace, sa.Name),
		"aud":           append([]string{}, auds...),
		"exp":           now.Add(time.Duration(expSeconds) * time.Second).Unix(),
		"iat":           now.Unix(),
		"nbf":           now.Unix(),
		"jti":           uuid.NewString(),
		"kubernetes.io": pc,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = t.kid
	return tok.SignedString(t.key)
}

// tokenAlgs are the signature algorithms a token of ours may name, as
// upstream's authenticator accepts them; a token naming another is not
// parsed as ours.
var tokenAlgs = []string{"ES256", "RS256", "ES384", "ES512", "PS256"}

// Time claim errors, checked as go-jose's Claims.ValidateWithLeeway does.
var (
	errTokenExpired      = errors.New("expired")
	errTokenNotValidYet  = errors.New("not valid yet")
	errTokenIssuedFuture = errors.New("issued in the future")
	errTokenDateRange    = errors.New("numeric date out of range")
)

// maxTokenNumericDate is go-jose's bound on a numeric date (2^62 s): past
// it time.Unix wraps, and a far nbf would compare as a past one.
const maxTokenNumericDate = int64(1) << 62

func tokenDateInRange(d *jwt.NumericDate) bool {
	return d == nil || (d.Unix() < maxTokenNumericDate && d.Unix() > -maxTokenNumericDate)
}

// validateTokenTimes checks nbf, exp and iat against now with the
// leeway, in go-jose's order (upstream's checks).
func validateTokenTimes(c *jwt.RegisteredClaims, now time.Time) error {
	if !tokenDateInRange(c.NotBefore) || !tokenDateInRange(c.ExpiresAt) || !tokenDateInRange(c.IssuedAt) {
		return errTokenDateRange
	}
	if c.NotBefore != nil && now.Add(tokenLeeway).Before(c.NotBefore.Time) {
		return errTokenNotValidYet
	}
	if c.ExpiresAt != nil && now.Add(-tokenLeeway).After(c.ExpiresAt.Time) {
		return errTokenExpired
	}
	if c.IssuedAt != nil && now.Add(tokenLeeway).Before(c.IssuedAt.Time) {
		return errTokenIssuedFuture
	}
	return nil
}

func sameAudiences(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// errSATokenInvalidated is upstream's message for a bound object that is
// gone.
var errSATokenInvalidated = errors.New("service account token has been invalidated")

// maxTokenBytes bounds what is parsed as a JWT.
const maxTokenBytes = 64 << 10

// authenticateServiceAccountToken checks tok. ours is false when tok is not
// a token of this issuer (another authenticator may know it); otherwise
// err says why it is refused, or u is its user. auds are the audiences
// asked for (the API server's when nil); the answer's audiences are those
// the token and auds share.
func (s *Server) authenticateServiceAccountToken(ctx context.Context, tok string, auds []string) (u user.Info, gotAuds []string, ours bool, err error) {
	iss, err := s.TokenIssuer()
	if err != nil || iss == nil || len(tok) > maxTokenBytes || strings.Count(tok, ".") != 2 {
		return nil, nil, false, nil
	}
	// A token that does not parse, names another algorithm or another
	// issuer is not ours; once the issuer is ours, any failure (the
	// signature) refuses it.
	var claims tokenClaims
	issuerOurs := false
	parser := jwt.NewParser(jwt.WithValidMethods(tokenAlgs), jwt.WithoutClaimsValidation())
	_, err = parser.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) {
		if claims.Issuer != iss.issuer {
			return nil, errors.New("another issuer")
		}
		issuerOurs = true
		return &iss.key.PublicKey, nil
	})
	if !issuerOurs {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, true, err
	}
	public, private := &claims.RegisteredClaims, &claims
	if len(auds) == 0 {
		auds = iss.audiences
	}
	tokenAuds := []string(public.Audience)
	if len(tokenAuds) == 0 {
		tokenAuds = iss.audiences // a legacy token without aud is for the API server
	}
	for _, a := range tokenAuds {
		for _, b := range auds {
			if a == b {
				gotAuds = append(gotAuds, a)
				break
			}
		}
	}
	if len(gotAuds) == 0 {
		return nil, nil, true, fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAuds, auds)
	}
	now := s.clock.Now()
	switch err := validateTokenTimes(public, now); {
	case err == nil:
	case errors.Is(err, errTokenExpired):
		return nil, nil, true, errors.New("service account token has expired")
	case errors.Is(err, errTokenNotValidYet):
		return nil, nil, true, errors.New("service account token is not valid yet")
	case errors.Is(err, errTokenIssuedFuture):
		return nil, nil, true, errors.New("service account token is issued in the future")
	default:
		return nil, nil, true, errors.New("service account token claims could not be validated due to unexpected validation error")
	}
	k := private.Kubernetes
	if k == nil || k.ServiceAccount == nil || k.Namespace == "" || k.ServiceAccount.Name == "" {
		return nil, nil, true, errors.New("service account token claims could not be validated due to unexpected private claim")
	}
	info, err := s.validateTokenObjects(ctx, k, now)
	if err != nil {
		return nil, nil, true, err
	}
	info.CredentialID = jwttoken.CredentialIDForJTI(public.ID)
	return withAuthenticatedGroup(info.UserInfo()), gotAuds, true, nil
}

// deletedBefore: the object's deletion started more than the leeway ago.
func deletedBefore(ts *metav1.Time, now time.Time) bool {
	return ts != nil && ts.Time.Before(now.Add(-tokenLeeway))
}

// validateTokenObjects checks that the service account and bound objects
// of k still exist, with upstream's messages.
func (s *Server) validateTokenObjects(ctx context.Context, k *k8sClaims, now time.Time) (*serviceaccount.ServiceAccountInfo, error) {
	ns := k.Namespace
	obj, err := s.Get(ctx, s.resources["/serviceaccounts"], ns, k.ServiceAccount.Name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("serviceaccounts %q not found", k.ServiceAccount.Name)
		}
		return nil, err
	}
	sa := obj.(*corev1.ServiceAccount)
	if deletedBefore(sa.DeletionTimestamp, now) {
		return nil, fmt.Errorf("service account %s/%s has been deleted", ns, sa.Name)
	}
	if string(sa.UID) != k.ServiceAccount.UID {
		return nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, k.ServiceAccount.UID)
	}
	info := &serviceaccount.ServiceAccountInfo{Namespace: ns, Name: sa.Name, UID: string(sa.UID)}
	if ref := k.Secret; ref != nil {
		obj, err := s.Get(ctx, s.resources["/secrets"], ns, ref.Name)
		if err != nil {
			return nil, errSATokenInvalidated
		}
		sec := obj.(*corev1.Secret)
		if deletedBefore(sec.DeletionTimestamp, now) {
			return nil, errSATokenInvalidated
		}
		if string(sec.UID) != ref.UID {
			return nil, fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", sec.UID, ref.UID)
		}
	}
	if ref := k.Pod; ref != nil {
		obj, err := s.Get(ctx, s.resources["/pods"], ns, ref.Name)
		if err != nil {
			return nil, errSATokenInvalidated
		}
		pod := obj.(*corev1.Pod)
		if deletedBefore(pod.DeletionTimestamp, now) {
			return nil, errSATokenInvalidated
		}
		if string(pod.UID) != ref.UID {
			return nil, fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", pod.UID, ref.UID)
		}
		info.PodName, info.PodUID = ref.Name, ref.UID
	}
	if ref := k.Node; ref != nil {
		if k.Pod == nil { // a node bound to directly must still be there
			obj, err := s.Get(ctx, s.resources["/nodes"], "", ref.Name)
			if err != nil {
				return nil, errSATokenInvalidated
			}
			node := obj.(*corev1.Node)
			if string(node.UID) != ref.UID {
				return nil, fmt.Errorf("node UID (%s) does not match service account node ref claim (%s)", node.UID, ref.UID)
			}
			if deletedBefore(node.DeletionTimestamp, now) {
				return nil, errSATokenInvalidated
			}
		}
		info.NodeName, info.NodeUID = ref.Name, ref.UID
	}
	return info, nil
}
