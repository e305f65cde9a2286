package wasi

import "sort"

// UnguardedFunctions is Functions(ext...) without the recovery that turns a
// host panic into EFAULT, so that the fuzz test sees every panic of a host
// function (a recovered panic is still a defect: it may leave state half
// changed).
func UnguardedFunctions(ext ...HostFunc) []HostFunc {
	byName := map[string]HostFunc{}
	for _, f := range builtin() {
		byName[f.Name] = f
	}
	for _, f := range ext {
		byName[f.Name] = f
	}
	out := make([]HostFunc, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
