//go:build !(darwin || freebsd || linux || netbsd)

package cuda

import (
	"errors"
	"runtime"
)

// errNoDlopen: this package loads CUDA with dlopen, which this system
// lacks (Windows would need LoadLibrary and nvcuda.dll).
var errNoDlopen = errors.New("loading CUDA libraries is not supported on " + runtime.GOOS)

func systemDlopen(path string) (uintptr, error) { return 0, errNoDlopen }

func dlsym(lib uintptr, name string) (uintptr, error) { return 0, errNoDlopen }
