package pods

import "github.com/wasmpod/wasmpod/apiserver"

// The capabilities through which the API server reaches an in-process
// agent's pods (apiserver/nodes.go, nodeproxy.go). They are checked here,
// not in the package, so that pods imports no part of the API server (the
// node agent's binary, cmd/wasmpod-agent, links none).
var (
	_ apiserver.NodeConnector = (*Agent)(nil)
	_ apiserver.PortForwarder = (*Agent)(nil)
	_ apiserver.Attacher      = (*Agent)(nil)
	_ apiserver.NodeProxier   = (*Agent)(nil)
)
