package scheduler

import (
	"math"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
)

// Plugin names, as upstream.
const (
	NodeUnschedulableName        = "NodeUnschedulable"
	NodeNameName                 = "NodeName"
	TaintTolerationName          = "TaintToleration"
	NodeAffinityName             = "NodeAffinity"
	NodePortsName                = "NodePorts"
	NodeResourcesFitName         = "NodeResourcesFit"
	BalancedAllocationName       = "NodeResourcesBalancedAllocation"
	MaxNodeScore           int64 = 100
)

// Filter failure reasons, verbatim from upstream.
const (
	ErrReasonUnschedulable    = "node(s) were unschedulable"
	ErrReasonNodeName         = "node(s) didn't match the requested node name"
	ErrReasonNodeAffinity     = "node(s) didn't match Pod's node affinity/selector"
	ErrReasonNodePorts        = "node(s) didn't have free ports for the requested pod ports"
	ErrReasonTooManyPods      = "Too many pods"
	ErrReasonInsufficientCPU  = "Insufficient cpu"
	ErrReasonInsufficientMem  = "Insufficient memory"
	errReasonUntoleratedTaint = "node(s) had untolerated taint {%s: %s}"
)

// Plugin is the common part of every plugin.
type Plugin interface {
	Name() string
}

// FilterPlugin rejects nodes the pod cannot run on. Filter returns nil when
// the node fits. It is called concurrently for different nodes and must not
// mutate pod or node.
type FilterPlugin interface {
	Plugin
	Filter(pod *PodInfo, node *NodeInfo) *Status
}

// ScorePlugin ranks a feasible node. Scores are in [0, MaxNodeScore] after
// normalization. Score is called concurrently for different nodes.
type ScorePlugin interface {
	Plugin
	Score(pod *PodInfo, node *NodeInfo) int64
}

// ScoreNormalizer is an optional capability of a ScorePlugin: it rescales
// the raw scores of all the nodes considered in one decision.
type ScoreNormalizer interface {
	NormalizeScores(pod *PodInfo, scores []int64)
}

// Status is a filter failure: the plugin and the reasons (each counted once
// per node in FitError's message). A nil *Status means success.
type Status struct {
	plugin  string
	reasons []string
}

// NewStatus returns a failure status.
func NewStatus(plugin string, reasons ...string) *Status {
	return &Status{plugin: plugin, reasons: reasons}
}

// Plugin names the plugin that failed the node.
func (s *Status) Plugin() string { return s.plugin }

// Reasons returns the failure reasons.
func (s *Status) Reasons() []string { return s.reasons }

var discard = logr.Discard()

// tolerates reports whether any toleration tolerates the taint (operators
// Equal and Exists; the alpha Lt/Gt operators are disabled, as upstream's
// default feature gates).
func tolerates(tols []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tols {
		if tols[i].ToleratesTaint(discard, taint, false) {
			return true
		}
	}
	return false
}

// --- NodeUnschedulable

type nodeUnschedulable struct{}

var statusUnschedulable = NewStatus(NodeUnschedulableName, ErrReasonUnschedulable)

func (nodeUnschedulable) Name() string { return NodeUnschedulableName }
func (nodeUnschedulable) Filter(pod *PodInfo, node *NodeInfo) *Status {
	if node.unschedulable && !pod.toleratesUnschedulable {
		return statusUnschedulable
	}
	return nil
}

// --- NodeName

type nodeName struct{}

var statusNodeName = NewStatus(NodeNameName, ErrReasonNodeName)

func (nodeName) Name() string { return NodeNameName }
func (nodeName) Filter(pod *PodInfo, node *NodeInfo) *Status {
	if n := pod.Pod.Spec.NodeName; n != "" && n != node.name {
		return statusNodeName
	}
	return nil
}

// --- TaintToleration

type taintToleration struct{}

func (taintToleration) Name() string { return TaintTolerationName }

// Filter rejects a node with a NoSchedule/NoExecute taint the pod does not
// tolerate, naming the first such taint as upstream does.
func (taintToleration) Filter(pod *PodInfo, node *NodeInfo) *Status {
	taints := node.noScheduleTaints
	for i := range taints {
		if !tolerates(pod.Pod.Spec.Tolerations, &taints[i]) {
			return node.taintStatus[i]
		}
	}
	return nil
}

// Score counts the PreferNoSchedule taints the pod does not tolerate.
func (taintToleration) Score(pod *PodInfo, node *NodeInfo) int64 {
	var n int64
	for i := range node.preferTaints {
		if !tolerates(pod.preferTolerations, &node.preferTaints[i]) {
			n++
		}
	}
	return n
}

// NormalizeScores: fewer intolerable taints score higher.
func (taintToleration) NormalizeScores(_ *PodInfo, scores []int64) {
	defaultNormalizeScore(MaxNodeScore, true, scores)
}

// --- NodeAffinity

type nodeAffinity struct{}

var statusNodeAffinity = NewStatus(NodeAffinityName, ErrReasonNodeAffinity)

func (nodeAffinity) Name() string { return NodeAffinityName }

// Filter applies spec.nodeSelector and the required node affinity terms.
func (nodeAffinity) Filter(pod *PodInfo, node *NodeInfo) *Status {
	if pod.required == nil {
		return nil
	}
	if !pod.required.matches(node.Node) {
		return statusNodeAffinity
	}
	return nil
}

// Score sums the weights of the matching preferred terms.
func (nodeAffinity) Score(pod *PodInfo, node *NodeInfo) int64 {
	var score int64
	for i := range pod.preferred {
		if pod.preferred[i].matches(node.Node) {
			score += pod.preferred[i].weight
		}
	}
	return score
}

func (nodeAffinity) NormalizeScores(_ *PodInfo, scores []int64) {
	defaultNormalizeScore(MaxNodeScore, false, scores)
}

// --- NodePorts

type nodePorts struct{}

var statusNodePorts = NewStatus(NodePortsName, ErrReasonNodePorts)

func (nodePorts) Name() string { return NodePortsName }
func (nodePorts) Filter(pod *PodInfo, node *NodeInfo) *Status {
	if len(pod.HostPorts) == 0 || len(node.UsedPorts) == 0 {
		return nil
	}
	for _, want := range pod.HostPorts {
		if portConflict(node.UsedPorts, want) {
			return statusNodePorts
		}
	}
	return nil
}

// portConflict follows upstream HostPortInfo.CheckConflict: 0.0.0.0
// conflicts with every IP for the same protocol and port.
func portConflict(used map[HostPort]int, want HostPort) bool {
	if want.IP == "0.0.0.0" {
		for hp := range used {
			if hp.Port == want.Port && hp.Protocol == want.Protocol {
				return true
			}
		}
		return false
	}
	if used[want] > 0 {
		return true
	}
	return used[HostPort{IP: "0.0.0.0", Protocol: want.Protocol, Port: want.Port}] > 0
}

// --- NodeResourcesFit

type nodeResourcesFit struct{}

// statusFit[mask]: bit 0 too many pods, bit 1 cpu, bit 2 memory.
var statusFit = func() (s [8]*Status) {
	for m := 1; m < 8; m++ {
		var r []string
		if m&1 != 0 {
			r = append(r, ErrReasonTooManyPods)
		}
		if m&2 != 0 {
			r = append(r, ErrReasonInsufficientCPU)
		}
		if m&4 != 0 {
			r = append(r, ErrReasonInsufficientMem)
		}
		s[m] = NewStatus(NodeResourcesFitName, r...)
	}
	return s
}()

func (nodeResourcesFit) Name() string { return NodeResourcesFitName }

// Filter checks the pod count and the cpu and memory requests against the
// node's allocatable minus what its pods request, reporting every shortage.
func (nodeResourcesFit) Filter(pod *PodInfo, node *NodeInfo) *Status {
	m := 0
	if int64(len(node.Pods))+1 > node.Allocatable.Pods {
		m |= 1
	}
	r := &pod.Requests
	if r.MilliCPU > 0 && r.MilliCPU > node.Allocatable.MilliCPU-node.Requested.MilliCPU {
		m |= 2
	}
	if r.Memory > 0 && r.Memory > node.Allocatable.Memory-node.Requested.Memory {
		m |= 4
	}
	return statusFit[m]
}

// Score is upstream's LeastAllocated strategy over cpu and memory (weight 1
// each), using non-zero requests.
func (nodeResourcesFit) Score(pod *PodInfo, node *NodeInfo) int64 {
	var score, weights int64
	if a := node.Allocatable.MilliCPU; a > 0 {
		score += leastRequestedScore(node.NonZeroRequested.MilliCPU+pod.NonZeroRequests.MilliCPU, a)
		weights++
	}
	if a := node.Allocatable.Memory; a > 0 {
		score += leastRequestedScore(node.NonZeroRequested.Memory+pod.NonZeroRequests.Memory, a)
		weights++
	}
	if weights == 0 {
		return 0
	}
	return score / weights
}

func leastRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * MaxNodeScore / capacity
}

// --- NodeResourcesBalancedAllocation

type balancedAllocation struct{}

func (balancedAllocation) Name() string { return BalancedAllocationName }

// Score favours nodes whose cpu and memory utilisation (after placing the
// pod, using actual requests) are close: (1 - |fcpu - fmem| / 2) * 100.
func (balancedAllocation) Score(pod *PodInfo, node *NodeInfo) int64 {
	var fr [2]float64
	n := 0
	if a := node.Allocatable.MilliCPU; a > 0 {
		fr[n] = min(float64(node.Requested.MilliCPU+pod.Requests.MilliCPU)/float64(a), 1)
		n++
	}
	if a := node.Allocatable.Memory; a > 0 {
		fr[n] = min(float64(node.Requested.Memory+pod.Requests.Memory)/float64(a), 1)
		n++
	}
	std := 0.0
	if n == 2 {
		std = math.Abs((fr[0] - fr[1]) / 2)
	}
	return int64((1 - std) * float64(MaxNodeScore))
}

// defaultNormalizeScore is upstream's helper.DefaultNormalizeScore.
func defaultNormalizeScore(maxPriority int64, reverse bool, scores []int64) {
	var maxCount int64
	for _, s := range scores {
		maxCount = max(maxCount, s)
	}
	if maxCount == 0 {
		if reverse {
			for i := range scores {
				scores[i] = maxPriority
			}
		}
		return
	}
	for i, s := range scores {
		s = maxPriority * s / maxCount
		if reverse {
			s = maxPriority - s
		}
		scores[i] = s
	}
}
