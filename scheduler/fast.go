package scheduler

import (
	"math"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// The fast path: when a Framework runs only the built-in plugins with the
// default filter order (the usual case), Schedule evaluates each node with
// one fused function over the NodeInfo's precomputed fields and the pod's
// node affinity compiled against the Snapshot's interned labels, instead of
// calling every plugin through its interface. It computes exactly what the
// plugins compute (TestFastPathMatchesPlugins checks this on random
// clusters); the plugins remain the reference and serve custom registries.

// fastPlan records which built-in score plugins run, with their weights.
type fastPlan struct {
	wTaint, wAffinity, wFit, wBalanced int64
}

// newFastPlan returns the plan for filters and scores, or ok=false when they
// are not the default filters (in order) plus built-in score plugins.
func newFastPlan(filters []FilterPlugin, scores []WeightedScorePlugin) (p fastPlan, ok bool) {
	def := DefaultRegistry().Filters
	if len(filters) != len(def) {
		return p, false
	}
	for i := range filters {
		if filters[i] != def[i] {
			return p, false
		}
	}
	seen := map[string]bool{}
	for _, sp := range scores {
		name := sp.Plugin.Name()
		if seen[name] {
			return p, false
		}
		seen[name] = true
		switch sp.Plugin.(type) {
		case taintToleration:
			p.wTaint = sp.Weight
		case nodeAffinity:
			p.wAffinity = sp.Weight
		case nodeResourcesFit:
			p.wFit = sp.Weight
		case balancedAllocation:
			p.wBalanced = sp.Weight
		default:
			return p, false
		}
	}
	return p, true
}

// fastTerm is a nodeTerm compiled against a Snapshot's labelTable.
type fastTerm struct {
	never  bool
	reqs   []labelReq
	fields []fieldReq
	weight int64
}

func compileFastTerm(t *labelTable, nt *nodeTerm) fastTerm {
	ft := fastTerm{never: nt.err != nil, fields: nt.fields, weight: nt.weight}
	if !ft.never && nt.labels != nil {
		var never bool
		ft.reqs, never = t.compileSelector(nt.labels)
		ft.never = ft.never || never
	}
	return ft
}

// matches mirrors nodeTerm.matches.
func (ft *fastTerm) matches(t *labelTable, ni *NodeInfo) bool {
	if ft.never || !t.matchReqs(ft.reqs, ni.labels) {
		return false
	}
	if ni.name == "" {
		return true
	}
	for _, f := range ft.fields {
		v := ""
		if f.key == "metadata.name" {
			v = ni.name
		}
		if (v == f.value) != f.equal {
			return false
		}
	}
	return true
}

// fastPod is the per-decision state of the fast path.
type fastPod struct {
	pi        *PodInfo
	lt        *labelTable
	nodeName  string
	hasReq    bool // nodeSelector or required node affinity present
	selNever  bool
	sel       []labelReq // nodeSelector
	hasTerms  bool
	terms     []fastTerm // required terms (ORed)
	preferred []fastTerm
	plan      fastPlan
}

func newFastPod(pi *PodInfo, lt *labelTable, plan fastPlan) *fastPod {
	fp := &fastPod{pi: pi, lt: lt, nodeName: pi.Pod.Spec.NodeName, plan: plan}
	if ra := pi.required; ra != nil {
		fp.hasReq = true
		if ra.selector != nil {
			fp.sel, fp.selNever = lt.compileSelector(ra.selector)
		}
		fp.hasTerms = ra.hasTerms
		for i := range ra.terms {
			fp.terms = append(fp.terms, compileFastTerm(lt, &ra.terms[i]))
		}
	}
	if plan.wAffinity > 0 {
		for i := range pi.preferred {
			fp.preferred = append(fp.preferred, compileFastTerm(lt, &pi.preferred[i]))
		}
	}
	return fp
}

// filter runs the default filters in upstream order (nil: the node fits).
func (fp *fastPod) filter(ni *NodeInfo) *Status {
	pi := fp.pi
	if ni.unschedulable && !pi.toleratesUnschedulable {
		return statusUnschedulable
	}
	if fp.nodeName != "" && fp.nodeName != ni.name {
		return statusNodeName
	}
	for i := range ni.noScheduleTaints {
		if !tolerates(pi.Pod.Spec.Tolerations, &ni.noScheduleTaints[i]) {
			return ni.taintStatus[i]
		}
	}
	if fp.hasReq && !fp.requiredMatches(ni) {
		return statusNodeAffinity
	}
	if len(pi.HostPorts) > 0 && len(ni.UsedPorts) > 0 {
		for _, want := range pi.HostPorts {
			if portConflict(ni.UsedPorts, want) {
				return statusNodePorts
			}
		}
	}
	m := 0
	if int64(len(ni.Pods))+1 > ni.Allocatable.Pods {
		m |= 1
	}
	r := &pi.Requests
	if r.MilliCPU > 0 && r.MilliCPU > ni.Allocatable.MilliCPU-ni.Requested.MilliCPU {
		m |= 2
	}
	if r.Memory > 0 && r.Memory > ni.Allocatable.Memory-ni.Requested.Memory {
		m |= 4
	}
	return statusFit[m]
}

// requiredMatches mirrors requiredAffinity.matches.
func (fp *fastPod) requiredMatches(ni *NodeInfo) bool {
	if fp.selNever || !fp.lt.matchReqs(fp.sel, ni.labels) {
		return false
	}
	if !fp.hasTerms {
		return true
	}
	for i := range fp.terms {
		if fp.terms[i].matches(fp.lt, ni) {
			return true
		}
	}
	return false
}

// fastScore is one feasible node's raw scores.
type fastScore struct {
	pos       int
	taint     int64 // untolerated PreferNoSchedule taints (normalized, reversed)
	affinity  int64 // sum of matching preferred term weights (normalized)
	resources int64 // weighted LeastAllocated + BalancedAllocation (not normalized)
}

// score computes the raw scores of a feasible node.
func (fp *fastPod) score(ni *NodeInfo) (taint, affinity, resources int64) {
	pi, plan := fp.pi, &fp.plan
	if plan.wTaint > 0 {
		for i := range ni.preferTaints {
			if !tolerates(pi.preferTolerations, &ni.preferTaints[i]) {
				taint++
			}
		}
	}
	for i := range fp.preferred {
		if fp.preferred[i].matches(fp.lt, ni) {
			affinity += fp.preferred[i].weight
		}
	}
	aCPU, aMem := ni.Allocatable.MilliCPU, ni.Allocatable.Memory
	if plan.wFit > 0 {
		var s, w int64
		if aCPU > 0 {
			s += leastRequestedFast(ni.NonZeroRequested.MilliCPU+pi.NonZeroRequests.MilliCPU, aCPU)
			w++
		}
		if aMem > 0 {
			s += leastRequestedFast(ni.NonZeroRequested.Memory+pi.NonZeroRequests.Memory, aMem)
			w++
		}
		switch w { // s >= 0: s/2 == s>>1
		case 1:
			resources += plan.wFit * s
		case 2:
			resources += plan.wFit * (s >> 1)
		}
	}
	if plan.wBalanced > 0 {
		var fr [2]float64
		n := 0
		if aCPU > 0 {
			fr[n] = min(float64(ni.Requested.MilliCPU+pi.Requests.MilliCPU)/float64(aCPU), 1)
			n++
		}
		if aMem > 0 {
			fr[n] = min(float64(ni.Requested.Memory+pi.Requests.Memory)/float64(aMem), 1)
			n++
		}
		std := 0.0
		if n == 2 {
			std = math.Abs((fr[0] - fr[1]) / 2)
		}
		resources += plan.wBalanced * int64((1-std)*float64(MaxNodeScore))
	}
	return
}

// leastRequestedFast equals leastRequestedScore(requested, capacity) but
// replaces the 64-bit integer division (tens of cycles) with a float
// estimate corrected to the exact floor: the quotient is at most
// MaxNodeScore, so the estimate is off by less than one.
func leastRequestedFast(requested, capacity int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	a := (capacity - requested) * MaxNodeScore
	if a < 0 || a >= 1<<53 { // overflowed or beyond exact float range: let the slow path decide
		return leastRequestedScore(requested, capacity)
	}
	q := int64(float64(a) / float64(capacity))
	if q*capacity > a {
		q--
	} else if (q+1)*capacity <= a {
		q++
	}
	return q
}

// fastCycle is the scratch state of one fast decision.
type fastCycle struct {
	feasible []fastScore
	chunks   [][]fastScore // per worker, for parallel evaluation
}

var fastCyclePool = sync.Pool{New: func() any { return &fastCycle{} }}

// parallelMinNodes is the number of nodes per worker below which the fast
// path evaluates sequentially: a fused node evaluation costs tens of
// nanoseconds, so handing a smaller range to another goroutine costs more
// than it saves (measured on 2 cores; see BenchmarkSchedule).
const parallelMinNodes = 2048

func (f *Framework) scheduleFast(snap *Snapshot, pod *corev1.Pod, pi *PodInfo) (string, error) {
	nodes := snap.nodes
	n := len(nodes)
	fp := newFastPod(pi, snap.labels, f.plan)
	numToFind := f.numFeasibleNodesToFind(n)
	start := int(f.nextStart.Load() % int64(n))
	c := fastCyclePool.Get().(*fastCycle)
	defer fastCyclePool.Put(c)
	c.feasible = c.feasible[:0]

	processed := 0
	if f.parallelism > 1 && numToFind >= 2*f.parallelMin {
		processed = f.evalParallel(c, fp, nodes, start, numToFind)
	} else {
		idx := start
		for pos := 0; pos < n; pos++ {
			ni := nodes[idx]
			if idx++; idx == n {
				idx = 0
			}
			if fp.filter(ni) != nil {
				continue
			}
			t, a, r := fp.score(ni)
			c.feasible = append(c.feasible, fastScore{pos: pos, taint: t, affinity: a, resources: r})
			if len(c.feasible) == numToFind {
				processed = pos + 1
				break
			}
		}
		if len(c.feasible) < numToFind {
			processed = n
		}
	}
	f.nextStart.Store(int64((start + processed) % n))

	nodeAt := func(pos int) *NodeInfo { return nodes[(start+pos)%n] }
	switch len(c.feasible) {
	case 0:
		fe := &FitError{Pod: pod, NumAllNodes: n, NodeToStatus: make(map[string]*Status, n)}
		for _, ni := range nodes {
			fe.NodeToStatus[ni.name] = fp.filter(ni)
		}
		return "", fe
	case 1:
		return nodeAt(c.feasible[0].pos).name, nil
	}
	var maxTaint, maxAff int64
	for i := range c.feasible {
		maxTaint = max(maxTaint, c.feasible[i].taint)
		maxAff = max(maxAff, c.feasible[i].affinity)
	}
	plan := &f.plan
	total := func(s *fastScore) int64 {
		t := s.resources
		if plan.wTaint > 0 {
			v := MaxNodeScore // defaultNormalizeScore, reversed; 0 and max need no division
			if s.taint == maxTaint && maxTaint > 0 {
				v = 0
			} else if s.taint > 0 {
				v = MaxNodeScore - MaxNodeScore*s.taint/maxTaint
			}
			t += plan.wTaint * v
		}
		if plan.wAffinity > 0 && s.affinity > 0 {
			if s.affinity == maxAff {
				t += plan.wAffinity * MaxNodeScore
			} else {
				t += plan.wAffinity * (MaxNodeScore * s.affinity / maxAff)
			}
		}
		return t
	}
	best := total(&c.feasible[0])
	bestName := nodeAt(c.feasible[0].pos).name
	for i := 1; i < len(c.feasible); i++ {
		t := total(&c.feasible[i])
		if t < best {
			continue
		}
		name := nodeAt(c.feasible[i].pos).name
		if t > best || name < bestName {
			best, bestName = t, name
		}
	}
	return bestName, nil
}

// evalParallel evaluates rotation positions in rounds split across workers,
// keeping the feasible nodes of the first numToFind in position order (so
// the result equals the sequential one). It returns the number of positions
// processed.
func (f *Framework) evalParallel(c *fastCycle, fp *fastPod, nodes []*NodeInfo, start, numToFind int) int {
	n := len(nodes)
	workers := f.parallelism
	if len(c.chunks) < workers {
		c.chunks = make([][]fastScore, workers)
	}
	evaluated := 0
	for len(c.feasible) < numToFind && evaluated < n {
		size := min(max(numToFind-len(c.feasible), workers*f.parallelMin/2), n-evaluated)
		w := min(workers, max(1, size/max(1, f.parallelMin/2)))
		chunk := (size + w - 1) / w
		var wg sync.WaitGroup
		for k := 0; k < w; k++ {
			lo, hi := evaluated+k*chunk, min(evaluated+(k+1)*chunk, evaluated+size)
			c.chunks[k] = c.chunks[k][:0]
			run := func() {
				out := c.chunks[k][:0]
				for pos := lo; pos < hi; pos++ {
					ni := nodes[(start+pos)%n]
					if fp.filter(ni) != nil {
						continue
					}
					t, a, r := fp.score(ni)
					out = append(out, fastScore{pos: pos, taint: t, affinity: a, resources: r})
				}
				c.chunks[k] = out
			}
			if k == w-1 {
				run()
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); run() }()
		}
		wg.Wait()
		for k := 0; k < w; k++ {
			for _, s := range c.chunks[k] {
				c.feasible = append(c.feasible, s)
				if len(c.feasible) == numToFind {
					return s.pos + 1
				}
			}
		}
		evaluated += size
	}
	return n
}
