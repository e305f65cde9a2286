package wasi

// UnguardedFunctions is Functions(ext...) without the recovery that turns a
// host panic into EFAULT, so that the fuzz test sees every panic of a host
// function (a recovered panic is still a defect: it may leave state half
// changed).
func UnguardedFunctions(ext ...HostFunc) []HostFunc {
	return functions(false, ext)
}
