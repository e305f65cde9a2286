package podgc

// Threshold is the terminated-pod threshold New takes for a configured
// --terminated-pod-gc-threshold v (wasmpod.Config's and the serve config's
// terminatedPodGCThreshold): 0 (unset) is upstream's default, 12500; a
// negative value turns the terminated-pod collection off (upstream's
// <= 0).
func Threshold(v int) int {
	switch {
	case v == 0:
		return DefaultTerminatedPodThreshold
	case v < 0:
		return 0
	}
	return v
}
