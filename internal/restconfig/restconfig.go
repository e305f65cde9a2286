// Package restconfig builds client-go configurations for a wasmpod API
// server over a Unix socket or TCP with a bearer token (the API server's
// own, apiserver.UnixSocketConfig and TCPConfig, are these), without
// linking the API server: the node agent's binary uses them.
package restconfig

import (
	"context"
	"net"

	"k8s.io/client-go/rest"
)

// UnixSocket returns a client-go config that talks HTTP over the Unix
// socket at path (the socket's file mode is the authentication).
func UnixSocket(path string) *rest.Config {
	return &rest.Config{
		Host:          "http://localhost",
		ContentConfig: rest.ContentConfig{ContentType: "application/json"},
		QPS:           -1,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
}

// TCP returns a client-go config for url (http(s)://host:port) with a
// bearer token (none when empty).
func TCP(url, token string) *rest.Config {
	return &rest.Config{Host: url, BearerToken: token, ContentConfig: rest.ContentConfig{ContentType: "application/json"}, QPS: -1}
}
