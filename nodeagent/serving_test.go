package nodeagent

import (
	"net/http"
	"testing"

	"github.com/wasmpod/wasmpod/apiserver"
)

// TestKubeletServingBounds: the kubelet API is served with the API
// server's bounds (header and idle timeouts, header size), named here
// because the agent links no part of the API server.
func TestKubeletServingBounds(t *testing.T) {
	h := http.NotFoundHandler()
	got, want := kubeletServer(h), apiserver.NewHTTPServer(h, apiserver.ServingOptions{})
	if got.ReadHeaderTimeout != want.ReadHeaderTimeout || got.IdleTimeout != want.IdleTimeout || got.MaxHeaderBytes != want.MaxHeaderBytes {
		t.Errorf("kubelet API: ReadHeaderTimeout %v, IdleTimeout %v, MaxHeaderBytes %d; the API server's: %v, %v, %d",
			got.ReadHeaderTimeout, got.IdleTimeout, got.MaxHeaderBytes, want.ReadHeaderTimeout, want.IdleTimeout, want.MaxHeaderBytes)
	}
}
