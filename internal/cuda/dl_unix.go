//go:build darwin || freebsd || linux || netbsd

package cuda

import (
	"runtime"

	"github.com/ebitengine/purego"
)

// systemDlopen opens a shared library with the system loader (dlopen via
// purego, no cgo): symbols resolved now, exported globally. The goroutine
// stays on one OS thread for the call because dlerror's message is per
// thread: purego reads it in a second call after a failed dlopen, and on
// another thread it would find none (an empty "cannot load" reason).
func systemDlopen(path string) (uintptr, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// dlsym returns the address of an exported symbol (on one OS thread, for
// dlerror's message, as systemDlopen).
func dlsym(lib uintptr, name string) (uintptr, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return purego.Dlsym(lib, name)
}
