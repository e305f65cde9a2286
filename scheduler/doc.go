// Package scheduler places pods onto nodes, modelled on the kube-scheduler
// framework (upstream Kubernetes is the reference for every rule and message).
//
// It has three layers:
//
//   - A pure decision function, [Framework.Schedule], over a [Snapshot] of
//     nodes and the pods bound to them. Filter plugins (NodeUnschedulable,
//     NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, in
//     upstream order) reject nodes; score plugins (TaintToleration ×3,
//     NodeAffinity ×2, NodeResourcesFit LeastAllocated ×1,
//     NodeResourcesBalancedAllocation ×1) rank the feasible ones. When nothing
//     fits it returns a [*FitError] whose message is upstream's
//     ("0/3 nodes are available: 1 node(s) ..., 2 Insufficient memory."), or
//     [ErrNoNodesAvailable] when the snapshot has no nodes. Ties are broken by
//     node name; no wall clock and no randomness are involved.
//   - A [Queue] with upstream's three sub-queues (activeQ ordered by priority
//     then FIFO, backoffQ with per-pod backoff 1 s doubling to 10 s, and the
//     unschedulable pods, flushed after 5 min), driven by an injected clock.
//   - A [Scheduler] loop that owns a Snapshot kept up to date by event intake
//     methods (OnNodeAdd, OnPodUpdate, ...), pops pods, decides, assumes the
//     pod on the chosen node (so following decisions see its resources before
//     the binding is observed through a watch) and binds asynchronously
//     through a [Binder] supplied by the embedder.
//
// Concurrency: Framework.Schedule may be called from several goroutines as
// long as each Snapshot is not mutated concurrently with it. Snapshot is not
// safe for concurrent mutation. Queue and Scheduler are safe for concurrent
// use. The package has no global state; plugins live in an explicit
// [Registry] value.
//
// Performance: with the built-in plugins (any weights, default filter order)
// Schedule takes a fused path that evaluates each node in one function over
// precomputed NodeInfo fields and node labels interned in the Snapshot
// (maintained incrementally by UpdateNode/RemoveNode); it computes exactly
// what the plugins compute. Custom registries go through the plugins.
//
// Not-ready nodes: upstream's node lifecycle controller taints a node whose
// Ready condition is False with node.kubernetes.io/not-ready:NoSchedule and
// one whose Ready condition is Unknown with node.kubernetes.io/unreachable:NoSchedule.
// This package applies those taints itself when it reads a node, so pods that
// tolerate them may still land there. A node with no Ready condition at all is
// treated as ready.
package scheduler
