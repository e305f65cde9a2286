//go:build !linux

package cli

// ForegroundUnderGoRun is a no-op on this system (see foreground_linux.go).
func ForegroundUnderGoRun() (restore func()) { return func() {} }
