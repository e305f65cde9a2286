package apiserver

// authn_ws.go: a bearer token carried in a WebSocket subprotocol, as
// kube-apiserver's WebSocket protocol authenticator. Browsers cannot set
// an Authorization header on a WebSocket, so a client (the dashboard's
// exec terminal, ui/) offers the subprotocol
// "base64url.bearer.authorization.k8s.io.<token base64url-encoded, no
// padding>" next to the channel protocols. Only a WebSocket upgrade that
// carries no Authorization header is looked at; the token protocol is
// removed from the request, so that the upgrader never selects it and the
// handlers never see it. An undecodable or empty token, or more than one,
// is no token: the request is then unauthenticated (401).

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// wsBearerProtocolPrefix is upstream's subprotocol prefix.
const wsBearerProtocolPrefix = "base64url.bearer.authorization.k8s.io."

// websocketBearer returns "Bearer <token>" from req's WebSocket token
// subprotocol, or "" when req has none (or a bad one). It strips the token
// subprotocol from req's Sec-WebSocket-Protocol header either way.
func websocketBearer(req *http.Request) string {
	if !isWebSocketUpgrade(req) {
		return ""
	}
	values := req.Header.Values("Sec-WebSocket-Protocol")
	if len(values) == 0 {
		return ""
	}
	var keep, tokens []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if strings.HasPrefix(p, wsBearerProtocolPrefix) {
				tokens = append(tokens, strings.TrimPrefix(p, wsBearerProtocolPrefix))
				continue
			}
			keep = append(keep, p)
		}
	}
	if len(tokens) == 0 {
		return ""
	}
	req.Header.Del("Sec-WebSocket-Protocol")
	if len(keep) > 0 {
		req.Header.Set("Sec-WebSocket-Protocol", strings.Join(keep, ", "))
	}
	if len(tokens) != 1 {
		return ""
	}
	tok, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tokens[0], "="))
	if err != nil || len(tok) == 0 || strings.ContainsAny(string(tok), " \t\r\n") {
		return ""
	}
	return "Bearer " + string(tok)
}
