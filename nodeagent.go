package wasmpod

// nodeagent.go: the node agent as its own process lives in package
// nodeagent (which links no part of the control plane, so that
// cmd/wasmpod-agent stays small); these are its names in this package's API.

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/nodeagent"
)

// AgentOptions configures a node agent process (nodeagent.Options).
type AgentOptions = nodeagent.Options

// RunAgent runs a node agent joined to a control plane over HTTPS until ctx
// ends (nodeagent.Run).
func RunAgent(ctx context.Context, o AgentOptions) error { return nodeagent.Run(ctx, o) }

// WasmArch is the kubernetes.io/arch label of a node registered with
// AgentOptions.WasmArch (the Krustlet convention).
const WasmArch = nodeagent.WasmArch

// WasmArchTaints are the taints of a node registered with
// AgentOptions.WasmArch.
func WasmArchTaints() []corev1.Taint { return nodeagent.WasmArchTaints() }

// TunnelPortAnnotation is the Node annotation that publishes an agent's pod
// network tunnel port.
const TunnelPortAnnotation = nodeagent.TunnelPortAnnotation

// FailoverConfig is cfg connecting to the first of servers that accepts a
// connection (nodeagent.FailoverConfig).
func FailoverConfig(cfg *rest.Config, servers []string) (*rest.Config, error) {
	return nodeagent.FailoverConfig(cfg, servers)
}
