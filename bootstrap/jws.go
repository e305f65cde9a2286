package bootstrap

// jws.go: the detached JWS signatures of cluster-info (RFC 7515 appendix F,
// HS256 keyed by the token's secret, "kid" the token ID), byte for byte
// those of k8s.io/cluster-bootstrap/token/jws, which kubeadm writes and
// checks. That package pulls in the deprecated gopkg.in/go-jose/go-jose.v2
// for what is one HMAC; TestJWSMatchesUpstream checks upstream's vectors.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// detachedSignature is upstream's jws.ComputeDetachedSignature.
func detachedSignature(content, tokenID, tokenSecret string) string {
	hdr, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{"HS256", tokenID})
	enc := base64.RawURLEncoding
	protected := enc.EncodeToString(hdr)
	mac := hmac.New(sha256.New, []byte(tokenSecret))
	mac.Write([]byte(protected + "." + enc.EncodeToString([]byte(content))))
	return protected + ".." + enc.EncodeToString(mac.Sum(nil))
}

// detachedSignatureValid is upstream's jws.DetachedTokenIsValid, in
// constant time.
func detachedSignatureValid(sig, content, tokenID, tokenSecret string) bool {
	return hmac.Equal([]byte(sig), []byte(detachedSignature(content, tokenID, tokenSecret)))
}
