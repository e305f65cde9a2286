package pods

// configvolumes_token.go: serviceAccountToken projections, as the
// kubelet's projected volume plugin and token manager:
//
//   - The token is requested through the API (Config.ServiceAccountTokens,
//     a TokenRequest for the pod's service account, "default" when the pod
//     names none), bound to the pod (name and uid), with the projection's
//     audience (none: the API server's) and expirationSeconds.
//   - It is kept and written again unchanged at every volume sync until it
//     needs a refresh, by the kubelet's rule: past 80% of its lifetime
//     (status.expirationTimestamp minus 20% of expirationSeconds), or 24 h
//     after it was issued. A refreshed token changes the payload, so the
//     volume is swapped with the same atomic rename as a ConfigMap update.
//   - A failure is upstream's FailedMount "failed to fetch token: ...";
//     at a later sync the old token stays in the volume.

import (
	"context"
	"errors"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tokenMaxTTL is the kubelet's maxTTL: a token is refreshed a day after it
// was issued whatever its lifetime.
const tokenMaxTTL = 24 * time.Hour

// tokenKey identifies one projection's token.
type tokenKey struct {
	serviceAccount, audience string
	expirationSeconds        int64
}

// tokenNeedsRefresh is the kubelet's requiresRefresh (without its jitter).
func tokenNeedsRefresh(tr *authenticationv1.TokenRequest, now time.Time) bool {
	if tr == nil || tr.Spec.ExpirationSeconds == nil {
		return true
	}
	ttl := time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	exp := tr.Status.ExpirationTimestamp.Time
	iat := exp.Add(-ttl)
	if now.After(iat.Add(tokenMaxTTL)) {
		return true
	}
	return now.After(exp.Add(-ttl * 20 / 100))
}

// serviceAccountName is the service account the pod runs as.
func serviceAccountName(pod *corev1.Pod) string {
	if n := pod.Spec.ServiceAccountName; n != "" {
		return n
	}
	return "default"
}

// tokenFile puts projection t's token into out.
func (w *Worker) tokenFile(out map[string]volFile, t *corev1.ServiceAccountTokenProjection, def *int32) error {
	tok, err := w.serviceAccountToken(t)
	if err != nil {
		return fmt.Errorf("failed to fetch token: %w", err)
	}
	out[t.Path] = volFile{data: []byte(tok), mode: fileMode(nil, def)}
	return nil
}

// serviceAccountToken returns the projection's token, requesting a new one
// when there is none or it needs a refresh.
func (w *Worker) serviceAccountToken(t *corev1.ServiceAccountTokenProjection) (string, error) {
	pod := w.state.pod
	es := int64(3600)
	if t.ExpirationSeconds != nil {
		es = *t.ExpirationSeconds
	}
	key := tokenKey{serviceAccount: serviceAccountName(pod), audience: t.Audience, expirationSeconds: es}
	cv := &w.cfgVols
	cv.tokMu.Lock()
	defer cv.tokMu.Unlock()
	now := w.clk.Now()
	if tr := cv.tokens[key]; tr != nil && !tokenNeedsRefresh(tr, now) {
		return tr.Status.Token, nil
	}
	if w.cfg.ServiceAccountTokens == nil {
		return "", errors.New("no client to request ServiceAccount tokens")
	}
	var auds []string
	if t.Audience != "" {
		auds = []string{t.Audience}
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         auds,
		ExpirationSeconds: &es,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), configGetTimeout)
	defer cancel()
	tr, err := w.cfg.ServiceAccountTokens(ctx, pod.Namespace, key.serviceAccount, req)
	if err != nil {
		return "", err
	}
	if tr.Status.Token == "" {
		return "", errors.New("the API server returned no token")
	}
	if tr.Spec.ExpirationSeconds == nil {
		tr.Spec.ExpirationSeconds = &es
	}
	if tr.Status.ExpirationTimestamp.IsZero() {
		tr.Status.ExpirationTimestamp = metav1.NewTime(now.Add(time.Duration(es) * time.Second))
	}
	if cv.tokens == nil {
		cv.tokens = map[tokenKey]*authenticationv1.TokenRequest{}
	}
	cv.tokens[key] = tr
	return tr.Status.Token, nil
}
