package job

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	cu "github.com/wasmpod/wasmpod/internal/controllerutil"
)

// Indexed completion (upstream's indexed_job_utils.go).

const (
	completionIndexEnvName = "JOB_COMPLETION_INDEX"
	unknownIndex           = -1
	// maxGeneratedNameLength is the API server's bound on the prefix it
	// keeps of a generateName (names.MaxGeneratedNameLength).
	maxGeneratedNameLength = 63 - 5
)

func isIndexed(j *batchv1.Job) bool {
	return j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion
}

func hasBackoffLimitPerIndex(j *batchv1.Job) bool { return j.Spec.BackoffLimitPerIndex != nil }

// interval is a closed range of completion indexes.
type interval struct{ first, last int }

// intervals are ordered, disjoint and not adjacent (orderedIntervals).
type intervals []interval

// withIndexes returns iv with the given increasing indexes added.
func (iv intervals) withIndexes(ixs []int) intervals {
	add := make(intervals, len(ixs))
	for i, x := range ixs {
		add[i] = interval{x, x}
	}
	return iv.merge(add)
}

// merge returns the union of two interval lists.
func (iv intervals) merge(o intervals) intervals {
	var out intervals
	push := func(x interval) {
		if n := len(out); n > 0 && x.first <= out[n-1].last+1 {
			out[n-1].last = max(out[n-1].last, x.last)
			return
		}
		out = append(out, x)
	}
	i, j := 0, 0
	for i < len(iv) && j < len(o) {
		if iv[i].first < o[j].first {
			push(iv[i])
			i++
		} else {
			push(o[j])
			j++
		}
	}
	for ; i < len(iv); i++ {
		push(iv[i])
	}
	for ; j < len(o); j++ {
		push(o[j])
	}
	return out
}

func (iv intervals) total() int {
	n := 0
	for _, x := range iv {
		n += x.last - x.first + 1
	}
	return n
}

func (iv intervals) has(ix int) bool {
	k := sort.Search(len(iv), func(i int) bool { return iv[i].last >= ix })
	return k < len(iv) && iv[k].first <= ix
}

// String is the status form: "1,3-5,7,8" (two adjacent indexes are
// written with a comma, longer runs with a dash).
func (iv intervals) String() string {
	var b strings.Builder
	for _, x := range iv {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(x.first))
		switch {
		case x.last == x.first+1:
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(x.last))
		case x.last > x.first:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(x.last))
		}
	}
	return b.String()
}

// parseIndexes reads the status form, keeping indexes below completions;
// malformed pieces are skipped (parseIndexesFromString).
func parseIndexes(s string, completions int) intervals {
	if s == "" {
		return nil
	}
	var out intervals
	for _, part := range strings.Split(s, ",") {
		lim := strings.SplitN(part, "-", 2)
		first, err := strconv.Atoi(lim[0])
		if err != nil || first < 0 {
			continue
		}
		if first >= completions {
			break
		}
		last := first
		if len(lim) > 1 {
			if last, err = strconv.Atoi(lim[1]); err != nil || last < first {
				continue
			}
			last = min(last, completions-1)
		}
		if n := len(out); n > 0 && out[n-1].last >= first-1 {
			out[n-1].last = max(out[n-1].last, last)
		} else {
			out = append(out, interval{first, last})
		}
	}
	return out
}

// completionIndex is the pod's batch.kubernetes.io/job-completion-index
// annotation, or unknownIndex.
func completionIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return unknownIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return unknownIndex
	}
	return i
}

func validIndex(j *batchv1.Job, p *corev1.Pod) (int, bool) {
	ix := completionIndex(p)
	return ix, ix != unknownIndex && ix < int(*j.Spec.Completions)
}

// succeededIndexes returns status.completedIndexes and it with the
// indexes of succeeded pods not counted yet (calculateSucceededIndexes).
func succeededIndexes(j *batchv1.Job, pods []*corev1.Pod) (prev, cur intervals) {
	prev = parseIndexes(j.Status.CompletedIndexes, int(*j.Spec.Completions))
	var add []int
	for _, p := range pods {
		if ix, ok := validIndex(j, p); ok && p.Status.Phase == corev1.PodSucceeded && hasFinalizer(p) {
			add = append(add, ix)
		}
	}
	return prev, prev.withIndexes(sortedUnique(add))
}

// failedIndexes returns status.failedIndexes with the indexes whose pods
// failed past backoffLimitPerIndex, or by a FailIndex rule
// (calculateFailedIndexes).
func failedIndexes(j *batchv1.Job, pods []*corev1.Pod) intervals {
	var prev intervals
	if j.Status.FailedIndexes != nil {
		prev = parseIndexes(*j.Status.FailedIndexes, int(*j.Spec.Completions))
	}
	var add []int
	for _, p := range pods {
		if ix, ok := validIndex(j, p); ok && hasFinalizer(p) && isIndexFailed(j, p) {
			add = append(add, ix)
		}
	}
	return prev.withIndexes(sortedUnique(add))
}

func isIndexFailed(j *batchv1.Job, p *corev1.Pod) bool {
	if !isPodFailed(p, j) {
		return false
	}
	counted := true
	if j.Spec.PodFailurePolicy != nil {
		_, c, action := matchPodFailurePolicy(j.Spec.PodFailurePolicy, p)
		if action != nil && *action == batchv1.PodFailurePolicyActionFailIndex {
			return true
		}
		counted = c
	}
	return counted && indexFailureCount(p) >= *j.Spec.BackoffLimitPerIndex
}

func sortedUnique(xs []int) []int {
	slices.Sort(xs)
	return slices.Compact(xs)
}

func indexesOf(pods []*corev1.Pod) []int {
	var out []int
	for _, p := range pods {
		if ix := completionIndex(p); ix != unknownIndex {
			out = append(out, ix)
		}
	}
	return sortedUnique(out)
}

// firstPendingIndexes returns up to count indexes below completions held
// by no active pod (nor terminating one, when only failed pods are
// replaced), not succeeded and not failed.
func firstPendingIndexes(sc *syncCtx, count, completions int) []int {
	if count <= 0 {
		return nil
	}
	busy := sc.succeededIdx.withIndexes(indexesOf(sc.active))
	if onlyReplaceFailedPods(sc.job) {
		var term []*corev1.Pod
		for _, p := range sc.pods {
			if isTerminating(p) {
				term = append(term, p)
			}
		}
		busy = busy.withIndexes(indexesOf(term))
	}
	busy = busy.merge(sc.failedIdx)
	out := make([]int, 0, count)
	cand := 0
	for _, x := range busy {
		for ; cand < completions && len(out) < count && cand < x.first; cand++ {
			out = append(out, cand)
		}
		cand = max(cand, x.last+1)
	}
	for ; cand < completions && len(out) < count; cand++ {
		out = append(out, cand)
	}
	return out
}

// duplicatedIndexPodsForRemoval splits active pods into those to remove
// (no index, an index past completions, all but one of a repeated index)
// and the rest (appendDuplicatedIndexPodsForRemoval).
func duplicatedIndexPodsForRemoval(pods []*corev1.Pod, completions int) (rm, left []*corev1.Pod) {
	byIx := map[int][]*corev1.Pod{}
	var order []int
	for _, p := range pods {
		ix := completionIndex(p)
		if ix == unknownIndex || ix >= completions {
			rm = append(rm, p)
			continue
		}
		if _, ok := byIx[ix]; !ok {
			order = append(order, ix)
		}
		byIx[ix] = append(byIx[ix], p)
	}
	slices.Sort(order)
	for _, ix := range order {
		same := byIx[ix]
		if len(same) > 1 {
			sort.Sort(activePods(same))
			rm = append(rm, same[:len(same)-1]...)
		}
		left = append(left, same[len(same)-1])
	}
	return rm, left
}

// activePods is upstream's controller.ActivePods order: unassigned <
// assigned, Pending < Unknown < Running, not ready < ready, more restarts
// < fewer, newer < older.
type activePods []*corev1.Pod

func (s activePods) Len() int      { return len(s) }
func (s activePods) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s activePods) Less(i, j int) bool {
	r := make([]int, 2)
	return cu.ActivePodsWithRanks{Pods: []*corev1.Pod{s[i], s[j]}, Rank: r}.Less(0, 1)
}

// podsWithDelayedDeletionPerIndex: per index with no active pod and not
// finished, its last failed pod, whose finalizer stays until the
// replacement is created carrying its failure count
// (getPodsWithDelayedDeletionPerIndex).
func podsWithDelayedDeletionPerIndex(sc *syncCtx) map[int]*corev1.Pod {
	active := map[int]bool{}
	for _, ix := range indexesOf(sc.active) {
		active[ix] = true
	}
	out := map[int]*corev1.Pod{}
	for _, p := range sc.pods {
		if !hasFinalizer(p) || sc.expectedRm[p.UID] || !isPodFailed(p, sc.job) {
			continue
		}
		ix, ok := validIndex(sc.job, p)
		if !ok || sc.succeededIdx.has(ix) || sc.failedIdx.has(ix) || active[ix] {
			continue
		}
		if last, ok := out[ix]; ok {
			if absoluteFailureCount(last) <= absoluteFailureCount(p) && !finishedTime(p).Before(finishedTime(last)) {
				out[ix] = p
			}
		} else {
			out[ix] = p
		}
	}
	return out
}

func parseCount(v string, ok bool) int32 {
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0
	}
	return int32(n)
}

// indexFailureCount is the batch.kubernetes.io/job-index-failure-count
// annotation (0 when absent or not a valid int32).
func indexFailureCount(p *corev1.Pod) int32 {
	v, ok := p.Annotations[batchv1.JobIndexFailureCountAnnotation]
	return parseCount(v, ok)
}

func absoluteFailureCount(p *corev1.Pod) int32 {
	v, ok := p.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation]
	return indexFailureCount(p) + parseCount(v, ok)
}

// setIndexFailureCounts sets the replacement's failure-count annotations
// from the pod it replaces (addIndexFailureCountAnnotation).
func setIndexFailureCounts(t *corev1.PodTemplateSpec, j *batchv1.Job, replaced *corev1.Pod) {
	var fails, ignored int32
	if replaced != nil {
		fails = indexFailureCount(replaced)
		v, ok := replaced.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation]
		ignored = parseCount(v, ok)
		counted := true
		if j.Spec.PodFailurePolicy != nil {
			_, counted, _ = matchPodFailurePolicy(j.Spec.PodFailurePolicy, replaced)
		}
		if counted {
			fails++
		} else {
			ignored++
		}
	}
	t.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(int(fails))
	if ignored > 0 {
		t.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
	}
}

// addCompletionIndexEnv gives every container JOB_COMPLETION_INDEX from
// the pod's completion-index label (PodIndexLabel, GA), unless it has one.
func addCompletionIndexEnv(t *corev1.PodTemplateSpec) {
	add := func(c *corev1.Container) {
		for _, e := range c.Env {
			if e.Name == completionIndexEnvName {
				return
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: completionIndexEnvName, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation)}}})
	}
	for i := range t.Spec.InitContainers {
		add(&t.Spec.InitContainers[i])
	}
	for i := range t.Spec.Containers {
		add(&t.Spec.Containers[i])
	}
}

// setCompletionIndex sets the annotation and label, and the hostname
// <job>-<index>.
func setCompletionIndex(t *corev1.PodTemplateSpec, jobName string, ix int) {
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	t.Annotations[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(ix)
	t.Labels[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(ix)
	t.Spec.Hostname = fmt.Sprintf("%s-%d", jobName, ix)
}

// generateNameWithIndex is "<job>-<index>-", the job name cut so that the
// prefix fits (podGenerateNameWithIndex).
func generateNameWithIndex(jobName string, ix int) string {
	suffix := "-" + strconv.Itoa(ix) + "-"
	prefix := jobName + suffix
	if len(prefix) > maxGeneratedNameLength {
		prefix = prefix[:maxGeneratedNameLength-len(suffix)] + suffix
	}
	return prefix
}
