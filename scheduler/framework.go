package scheduler

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
)

// DefaultSchedulerName is the spec.schedulerName this scheduler serves unless
// Options say otherwise (an empty spec.schedulerName counts as it).
const DefaultSchedulerName = "default-scheduler"

// ErrNoNodesAvailable is returned by Schedule when the snapshot has no nodes
// (upstream's message, verbatim).
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// Upstream constants for percentageOfNodesToScore.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// WeightedScorePlugin is a score plugin and its weight.
type WeightedScorePlugin struct {
	Plugin ScorePlugin
	Weight int64
}

// Registry is the explicit set of plugins a Framework runs, in order.
type Registry struct {
	Filters []FilterPlugin
	Scores  []WeightedScorePlugin
}

// DefaultRegistry returns upstream's default plugins that apply to wasmpod,
// in upstream order, with upstream weights.
func DefaultRegistry() Registry {
	return Registry{
		Filters: []FilterPlugin{
			nodeUnschedulable{},
			nodeName{},
			taintToleration{},
			nodeAffinity{},
			nodePorts{},
			nodeResourcesFit{},
		},
		Scores: []WeightedScorePlugin{
			{Plugin: taintToleration{}, Weight: 3},
			{Plugin: nodeAffinity{}, Weight: 2},
			{Plugin: nodeResourcesFit{}, Weight: 1},
			{Plugin: balancedAllocation{}, Weight: 1},
		},
	}
}

// Options configure a Framework. The zero value is upstream's default profile.
type Options struct {
	// SchedulerName is the spec.schedulerName served (default "default-scheduler").
	SchedulerName string
	// Registry replaces the default plugin set when non-nil.
	Registry *Registry
	// ScoreWeights overrides the weights of score plugins by name; weight 0
	// disables a score plugin. Naming an unknown plugin is an error.
	ScoreWeights map[string]int64
	// PercentageOfNodesToScore: 0 is upstream's adaptive default
	// (50% - nodes/125, at least 5%, at least 100 nodes); 1..100 fixes it.
	PercentageOfNodesToScore int32
	// Parallelism is the number of goroutines filtering and scoring nodes
	// (default GOMAXPROCS).
	Parallelism int
}

// Framework runs the plugins of one scheduling profile.
type Framework struct {
	schedulerName string
	filters       []FilterPlugin
	scores        []WeightedScorePlugin
	normalizers   []ScoreNormalizer // parallel to scores; nil entries
	percentage    int32
	parallelism   int

	fast bool     // filters and scores are built-ins: use the fused path (fast.go)
	plan fastPlan // weights for the fused path
	// parallelMin: nodes per worker below which the fused path stays sequential
	parallelMin int

	nextStart atomic.Int64 // rotating start index, as upstream's nextStartNodeIndex
	pool      sync.Pool    // *cycle
}

// NewFramework builds a Framework from opts.
func NewFramework(opts Options) (*Framework, error) {
	reg := DefaultRegistry()
	if opts.Registry != nil {
		reg = *opts.Registry
	}
	if opts.PercentageOfNodesToScore < 0 || opts.PercentageOfNodesToScore > 100 {
		return nil, fmt.Errorf("percentageOfNodesToScore: %d is not in [0, 100]", opts.PercentageOfNodesToScore)
	}
	f := &Framework{
		schedulerName: opts.SchedulerName,
		filters:       append([]FilterPlugin(nil), reg.Filters...),
		percentage:    opts.PercentageOfNodesToScore,
		parallelism:   opts.Parallelism,
		parallelMin:   parallelMinNodes,
	}
	if f.schedulerName == "" {
		f.schedulerName = DefaultSchedulerName
	}
	if f.parallelism <= 0 {
		f.parallelism = runtime.GOMAXPROCS(0)
	}
	known := map[string]bool{}
	for _, sp := range reg.Scores {
		if sp.Plugin == nil {
			return nil, errors.New("registry: nil score plugin")
		}
		known[sp.Plugin.Name()] = true
	}
	for name, w := range opts.ScoreWeights {
		if !known[name] {
			return nil, fmt.Errorf("scoreWeights: unknown score plugin %q", name)
		}
		if w < 0 {
			return nil, fmt.Errorf("scoreWeights[%q]: weight %d is negative", name, w)
		}
	}
	for _, sp := range reg.Scores {
		if w, ok := opts.ScoreWeights[sp.Plugin.Name()]; ok {
			sp.Weight = w
		}
		if sp.Weight <= 0 {
			continue
		}
		f.scores = append(f.scores, sp)
		n, _ := sp.Plugin.(ScoreNormalizer)
		f.normalizers = append(f.normalizers, n)
	}
	for _, fp := range f.filters {
		if fp == nil {
			return nil, errors.New("registry: nil filter plugin")
		}
	}
	f.plan, f.fast = newFastPlan(f.filters, f.scores)
	return f, nil
}

// SchedulerName is the spec.schedulerName this framework serves.
func (f *Framework) SchedulerName() string { return f.schedulerName }

// Responsible reports whether pod.spec.schedulerName names this framework.
func (f *Framework) Responsible(pod *corev1.Pod) bool {
	n := pod.Spec.SchedulerName
	return n == f.schedulerName || (n == "" && f.schedulerName == DefaultSchedulerName)
}

// numFeasibleNodesToFind is upstream's adaptive percentageOfNodesToScore.
func (f *Framework) numFeasibleNodesToFind(numAllNodes int) int {
	if numAllNodes < minFeasibleNodesToFind {
		return numAllNodes
	}
	percentage := int(f.percentage)
	if percentage == 0 {
		percentage = 50 - numAllNodes/125
		if percentage < minFeasibleNodesPercentageToFind {
			percentage = minFeasibleNodesPercentageToFind
		}
	}
	n := numAllNodes * percentage / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// cycle holds the per-decision scratch buffers, indexed by rotation position.
type cycle struct {
	status   []*Status
	raw      [][]int64 // [score plugin][position]
	feasible []int     // positions
	tmp      []int64
	total    []int64
}

func (f *Framework) getCycle(n int) *cycle {
	c, _ := f.pool.Get().(*cycle)
	if c == nil {
		c = &cycle{}
	}
	if cap(c.status) < n {
		c.status = make([]*Status, n)
	}
	c.status = c.status[:n]
	if len(c.raw) != len(f.scores) {
		c.raw = make([][]int64, len(f.scores))
	}
	for i := range c.raw {
		if cap(c.raw[i]) < n {
			c.raw[i] = make([]int64, n)
		}
		c.raw[i] = c.raw[i][:n]
	}
	c.feasible = c.feasible[:0]
	return c
}

func (f *Framework) putCycle(c *cycle) {
	clear(c.status) // drop references to statuses
	f.pool.Put(c)
}

// Schedule picks a node for pod in snap. It returns ErrNoNodesAvailable when
// the snapshot has no nodes and a *FitError when no node passes the filters.
//
// Like upstream, once a number of feasible nodes given by
// percentageOfNodesToScore has been found the remaining nodes are not
// examined, and the next call starts where this one stopped (a rotating
// index kept by the Framework). With fewer than 100 nodes every node is
// examined, so the result depends only on (snap, pod). The highest weighted
// score wins; ties go to the lexically smallest node name.
func (f *Framework) Schedule(snap *Snapshot, pod *corev1.Pod) (string, error) {
	n := len(snap.nodes)
	if n == 0 {
		return "", ErrNoNodesAvailable
	}
	pi, err := NewPodInfo(pod)
	if err != nil {
		return "", err
	}
	if f.fast {
		return f.scheduleFast(snap, pod, pi)
	}
	numToFind := f.numFeasibleNodesToFind(n)
	start := int(f.nextStart.Load() % int64(n))
	c := f.getCycle(n)
	defer f.putCycle(c)

	evaluated, processed := 0, 0
	for len(c.feasible) < numToFind && evaluated < n {
		size := min(max(numToFind-len(c.feasible), 64), n-evaluated)
		f.evalRange(c, snap.nodes, pi, start, evaluated, evaluated+size)
		for pos := evaluated; pos < evaluated+size; pos++ {
			processed = pos + 1
			if c.status[pos] == nil {
				c.feasible = append(c.feasible, pos)
				if len(c.feasible) == numToFind {
					break
				}
			}
		}
		evaluated += size
	}
	f.nextStart.Store(int64((start + processed) % n))

	nodeAt := func(pos int) *NodeInfo { return snap.nodes[(start+pos)%n] }
	switch len(c.feasible) {
	case 0:
		fe := &FitError{Pod: pod, NumAllNodes: n, NodeToStatus: make(map[string]*Status, n)}
		for pos := 0; pos < n; pos++ {
			fe.NodeToStatus[nodeAt(pos).Node.Name] = c.status[pos]
		}
		return "", fe
	case 1:
		return nodeAt(c.feasible[0]).name, nil
	}

	m := len(c.feasible)
	c.total = growInt64(c.total, m)
	clear(c.total)
	c.tmp = growInt64(c.tmp, m)
	for si, sp := range f.scores {
		for k, pos := range c.feasible {
			c.tmp[k] = c.raw[si][pos]
		}
		if nz := f.normalizers[si]; nz != nil {
			nz.NormalizeScores(pi, c.tmp)
		}
		for k := range c.tmp {
			c.total[k] += c.tmp[k] * sp.Weight
		}
	}
	best := 0
	bestName := nodeAt(c.feasible[0]).name
	for k := 1; k < m; k++ {
		if c.total[k] < c.total[best] {
			continue
		}
		name := nodeAt(c.feasible[k]).name
		if c.total[k] > c.total[best] || name < bestName {
			best, bestName = k, name
		}
	}
	return bestName, nil
}

func growInt64(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}

// evalRange filters (and, when feasible, scores) the nodes at rotation
// positions [lo, hi), splitting the range across goroutines.
func (f *Framework) evalRange(c *cycle, nodes []*NodeInfo, pi *PodInfo, start, lo, hi int) {
	const minPerWorker = 48
	workers := min(f.parallelism, (hi-lo)/minPerWorker)
	if workers <= 1 {
		f.evalChunk(c, nodes, pi, start, lo, hi)
		return
	}
	var wg sync.WaitGroup
	chunk := (hi - lo + workers - 1) / workers
	for w := 1; w < workers; w++ {
		a, b := lo+w*chunk, min(lo+(w+1)*chunk, hi)
		if a >= b {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.evalChunk(c, nodes, pi, start, a, b)
		}()
	}
	f.evalChunk(c, nodes, pi, start, lo, min(lo+chunk, hi))
	wg.Wait()
}

func (f *Framework) evalChunk(c *cycle, nodes []*NodeInfo, pi *PodInfo, start, lo, hi int) {
	n := len(nodes)
	for pos := lo; pos < hi; pos++ {
		ni := nodes[(start+pos)%n]
		var st *Status
		for _, fp := range f.filters {
			if st = fp.Filter(pi, ni); st != nil {
				break
			}
		}
		c.status[pos] = st
		if st != nil {
			continue
		}
		for si := range f.scores {
			c.raw[si][pos] = f.scores[si].Plugin.Score(pi, ni)
		}
	}
}

// FitError is returned by Schedule when no node fits the pod. Its message is
// upstream's: "0/N nodes are available: " followed by "<count> <reason>"
// entries sorted as strings (sort.Strings), joined by ", ", ending with ".".
type FitError struct {
	Pod         *corev1.Pod
	NumAllNodes int
	// NodeToStatus holds, per node name, the status of the first filter that
	// rejected it.
	NodeToStatus map[string]*Status
}

// Error implements error.
func (fe *FitError) Error() string {
	reasons := make(map[string]int)
	for _, st := range fe.NodeToStatus {
		if st == nil {
			continue
		}
		for _, r := range st.reasons {
			reasons[r]++
		}
	}
	hist := make([]string, 0, len(reasons))
	for r, c := range reasons {
		hist = append(hist, fmt.Sprintf("%v %v", c, r))
	}
	sort.Strings(hist)
	msg := fmt.Sprintf("0/%v nodes are available:", fe.NumAllNodes)
	if len(hist) > 0 {
		msg += fmt.Sprintf(" %v.", strings.Join(hist, ", "))
	}
	return msg
}
