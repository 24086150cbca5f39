//go:build darwin || freebsd || linux || netbsd

package cuda

import "github.com/ebitengine/purego"

// systemDlopen opens a shared library with the system loader (dlopen via
// purego, no cgo): symbols resolved now, exported globally.
func systemDlopen(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// dlsym returns the address of an exported symbol.
func dlsym(lib uintptr, name string) (uintptr, error) { return purego.Dlsym(lib, name) }
