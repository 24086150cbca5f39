//go:build !linux

package cudaemu

// gettid is unknown off Linux: every thread is thread 0, so the emulated
// context is current on all of them once it is current on one (package
// cuda's worker hands every call over there anyway).
func gettid() int { return 0 }
