package scheduler

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// Default requests the scoring plugins assume for a container that requests
// nothing (upstream schedutil.DefaultMilliCPURequest / DefaultMemoryRequest).
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Taint keys upstream's node lifecycle controller and kubelet use.
const (
	TaintNodeNotReady      = "node.kubernetes.io/not-ready"
	TaintNodeUnreachable   = "node.kubernetes.io/unreachable"
	TaintNodeUnschedulable = "node.kubernetes.io/unschedulable"
)

// Resource is an amount of the resources the scheduler accounts for.
type Resource struct {
	MilliCPU int64
	Memory   int64
	// Pods is the number of pods: the pod capacity in NodeInfo.Allocatable,
	// the number of accounted pods in NodeInfo.Requested.
	Pods int64
}

// HostPort is one host port a pod holds on a node. IP "" is stored as
// "0.0.0.0" and Protocol "" as "TCP".
type HostPort struct {
	IP       string
	Protocol corev1.Protocol
	Port     int32
}

// NodeInfo is a node and the pods accounted to it. Treat it as read-only;
// change it through the Snapshot.
type NodeInfo struct {
	// Node is nil for a placeholder: pods bound to a node the snapshot has not
	// seen (yet, or any more). Placeholders are never scheduling candidates.
	Node *corev1.Node
	Pods []*corev1.Pod
	// Requested is the sum of the pods' requests.
	Requested Resource
	// NonZeroRequested is like Requested but counts a container without a cpu
	// or memory request as DefaultMilliCPURequest / DefaultMemoryRequest (used
	// by LeastAllocated scoring, as upstream).
	NonZeroRequested Resource
	// Allocatable is read from node.status.allocatable (falling back to
	// status.capacity for a resource allocatable does not list).
	Allocatable Resource
	// UsedPorts counts the pods holding each host port.
	UsedPorts map[HostPort]int

	// Derived from Node when it is set.
	noScheduleTaints []corev1.Taint // NoSchedule and NoExecute, incl. synthesized readiness taints
	taintStatus      []*Status      // TaintToleration failure status per noScheduleTaints entry
	unschedulable    bool           // Node.Spec.Unschedulable
	name             string         // Node.Name
	preferTaints     []corev1.Taint // PreferNoSchedule
	labels           []labelKV      // Node.Labels interned in the Snapshot's labelTable, sorted by key id
}

// Name is the node's name ("" for a placeholder).
func (n *NodeInfo) Name() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}

// NoScheduleTaints returns the node's NoSchedule and NoExecute taints,
// including the not-ready / unreachable taint derived from its Ready condition.
func (n *NodeInfo) NoScheduleTaints() []corev1.Taint { return n.noScheduleTaints }

// setNode replaces the node object, keeping the interned labels in lt in
// step (lt may be nil for a NodeInfo outside a Snapshot).
func (n *NodeInfo) setNode(lt *labelTable, node *corev1.Node) {
	if lt != nil {
		old := n.labels
		n.labels = nil
		if node != nil {
			n.labels = lt.internLabels(node.Labels)
		}
		lt.release(old) // after interning the new ones, so unchanged labels keep their ids
	}
	n.Node = node
	n.Allocatable = Resource{}
	n.noScheduleTaints, n.preferTaints, n.taintStatus = nil, nil, nil
	n.unschedulable, n.name = false, ""
	if node == nil {
		return
	}
	n.unschedulable, n.name = node.Spec.Unschedulable, node.Name
	alloc := func(name corev1.ResourceName) (q int64, ok bool, milli bool) {
		v, ok := node.Status.Allocatable[name]
		if !ok {
			v, ok = node.Status.Capacity[name]
		}
		if !ok {
			return 0, false, false
		}
		if name == corev1.ResourceCPU {
			return v.MilliValue(), true, true
		}
		return v.Value(), true, false
	}
	n.Allocatable.MilliCPU, _, _ = alloc(corev1.ResourceCPU)
	n.Allocatable.Memory, _, _ = alloc(corev1.ResourceMemory)
	n.Allocatable.Pods, _, _ = alloc(corev1.ResourcePods)

	hasKey := func(key string) bool {
		for i := range node.Spec.Taints {
			if node.Spec.Taints[i].Key == key && node.Spec.Taints[i].Effect == corev1.TaintEffectNoSchedule {
				return true
			}
		}
		return false
	}
	for _, t := range node.Spec.Taints {
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute:
			n.noScheduleTaints = append(n.noScheduleTaints, t)
		case corev1.TaintEffectPreferNoSchedule:
			n.preferTaints = append(n.preferTaints, t)
		}
	}
	for _, c := range node.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		var key string
		switch c.Status {
		case corev1.ConditionFalse:
			key = TaintNodeNotReady
		case corev1.ConditionUnknown:
			key = TaintNodeUnreachable
		}
		if key != "" && !hasKey(key) {
			n.noScheduleTaints = append(n.noScheduleTaints, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
		break
	}
	for _, t := range n.noScheduleTaints {
		n.taintStatus = append(n.taintStatus, NewStatus(TaintTolerationName, fmt.Sprintf(errReasonUntoleratedTaint, t.Key, t.Value)))
	}
}

func (n *NodeInfo) addPod(p *corev1.Pod) {
	r := computePodRequests(p)
	n.Pods = append(n.Pods, p)
	n.Requested.MilliCPU += r.req.MilliCPU
	n.Requested.Memory += r.req.Memory
	n.Requested.Pods++
	n.NonZeroRequested.MilliCPU += r.nonZero.MilliCPU
	n.NonZeroRequested.Memory += r.nonZero.Memory
	n.NonZeroRequested.Pods++
	for _, hp := range podHostPorts(p, nil) {
		if n.UsedPorts == nil {
			n.UsedPorts = make(map[HostPort]int)
		}
		n.UsedPorts[hp]++
	}
}

func (n *NodeInfo) removePod(key string) bool {
	for i, p := range n.Pods {
		if podKey(p) != key {
			continue
		}
		r := computePodRequests(p)
		n.Requested.MilliCPU -= r.req.MilliCPU
		n.Requested.Memory -= r.req.Memory
		n.Requested.Pods--
		n.NonZeroRequested.MilliCPU -= r.nonZero.MilliCPU
		n.NonZeroRequested.Memory -= r.nonZero.Memory
		n.NonZeroRequested.Pods--
		for _, hp := range podHostPorts(p, nil) {
			if n.UsedPorts[hp]--; n.UsedPorts[hp] <= 0 {
				delete(n.UsedPorts, hp)
			}
		}
		last := len(n.Pods) - 1
		n.Pods[i] = n.Pods[last]
		n.Pods[last] = nil
		n.Pods = n.Pods[:last]
		return true
	}
	return false
}

// Snapshot is the scheduler's view of the cluster: nodes (ordered by name)
// and the non-terminal pods bound or assumed onto them. It is updated
// incrementally (AddPod, RemovePod, UpdateNode, RemoveNode) and is not safe
// for concurrent mutation; reads from concurrent Schedule calls are safe.
type Snapshot struct {
	labels *labelTable
	byName map[string]*NodeInfo
	nodes  []*NodeInfo       // candidates (Node != nil), sorted by name
	podAt  map[string]string // pod key -> node name
	pods   map[string]*corev1.Pod
}

// NewSnapshot builds a snapshot from nodes and pods. Pods that are not bound
// (empty spec.nodeName) or are terminal (Succeeded/Failed) are ignored.
func NewSnapshot(nodes []*corev1.Node, pods []*corev1.Pod) *Snapshot {
	s := &Snapshot{
		labels: newLabelTable(),
		byName: make(map[string]*NodeInfo, len(nodes)),
		podAt:  make(map[string]string, len(pods)),
		pods:   make(map[string]*corev1.Pod, len(pods)),
	}
	for _, n := range nodes {
		if n == nil {
			continue
		}
		if ni, dup := s.byName[n.Name]; dup { // the last object for a name wins
			ni.setNode(s.labels, n)
			continue
		}
		ni := &NodeInfo{}
		ni.setNode(s.labels, n)
		s.nodes = append(s.nodes, ni)
		s.byName[n.Name] = ni
	}
	sort.Slice(s.nodes, func(i, j int) bool { return s.nodes[i].Node.Name < s.nodes[j].Node.Name })
	for _, p := range pods {
		s.AddPod(p)
	}
	return s
}

// NumNodes is the number of nodes (placeholders excluded).
func (s *Snapshot) NumNodes() int { return len(s.nodes) }

// Nodes returns the node infos ordered by name. Do not modify the slice.
func (s *Snapshot) Nodes() []*NodeInfo { return s.nodes }

// Get returns the NodeInfo of a node (possibly a placeholder) or nil.
func (s *Snapshot) Get(nodeName string) *NodeInfo { return s.byName[nodeName] }

// Has reports whether the pod is accounted in the snapshot, and on which node.
func (s *Snapshot) Has(pod *corev1.Pod) (nodeName string, ok bool) {
	nodeName, ok = s.podAt[podKey(pod)]
	return nodeName, ok
}

// UpdateNode adds a node or replaces its object, keeping the pods accounted
// to it.
func (s *Snapshot) UpdateNode(node *corev1.Node) {
	if node == nil {
		return
	}
	ni, ok := s.byName[node.Name]
	if !ok {
		ni = &NodeInfo{}
		s.byName[node.Name] = ni
	}
	wasCandidate := ni.Node != nil
	ni.setNode(s.labels, node)
	if !wasCandidate {
		i := sort.Search(len(s.nodes), func(i int) bool { return s.nodes[i].Node.Name >= node.Name })
		s.nodes = append(s.nodes, nil)
		copy(s.nodes[i+1:], s.nodes[i:])
		s.nodes[i] = ni
	}
}

// RemoveNode removes a node. Pods still accounted to it stay on a
// placeholder until they are removed, as in upstream's cache.
func (s *Snapshot) RemoveNode(name string) {
	ni, ok := s.byName[name]
	if !ok || ni.Node == nil {
		return
	}
	i := sort.Search(len(s.nodes), func(i int) bool { return s.nodes[i].Node.Name >= name })
	if i < len(s.nodes) && s.nodes[i] == ni {
		s.nodes = append(s.nodes[:i], s.nodes[i+1:]...)
	}
	ni.setNode(s.labels, nil)
	if len(ni.Pods) == 0 {
		delete(s.byName, name)
	}
}

// AddPod accounts a bound, non-terminal pod to its node (replacing an earlier
// version of the same pod, wherever it was). Unbound or terminal pods are
// removed instead.
func (s *Snapshot) AddPod(pod *corev1.Pod) {
	if pod == nil {
		return
	}
	key := podKey(pod)
	if _, ok := s.podAt[key]; ok {
		s.RemovePod(pod)
	}
	if pod.Spec.NodeName == "" || isTerminal(pod) {
		return
	}
	ni, ok := s.byName[pod.Spec.NodeName]
	if !ok {
		ni = &NodeInfo{}
		s.byName[pod.Spec.NodeName] = ni
	}
	ni.addPod(pod)
	s.podAt[key] = pod.Spec.NodeName
	s.pods[key] = pod
}

// RemovePod removes a pod (matched by UID, or namespace/name without UID).
func (s *Snapshot) RemovePod(pod *corev1.Pod) {
	if pod == nil {
		return
	}
	key := podKey(pod)
	node, ok := s.podAt[key]
	if !ok {
		return
	}
	delete(s.podAt, key)
	delete(s.pods, key)
	if ni := s.byName[node]; ni != nil {
		ni.removePod(key)
		if ni.Node == nil && len(ni.Pods) == 0 {
			delete(s.byName, node)
		}
	}
}

func podKey(p *corev1.Pod) string {
	if p.UID != "" {
		return string(p.UID)
	}
	return p.Namespace + "/" + p.Name
}

func isTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}
