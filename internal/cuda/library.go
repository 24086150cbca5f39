package cuda

import (
	"fmt"
	"reflect"
	"sync"
)

// Library stands in for one of the shared libraries this package loads
// (libcuda, libnvrtc, libcublas) when a Device is opened with
// OpenLibraries: its functions are Go functions, looked up by C symbol
// name where the real library's would be found with dlsym. It is the seam
// through which a test double of the driver, NVRTC and cuBLAS (package
// cudaemu) drives a Device; nothing in this package provides one.
type Library struct {
	// Name is the library's name, as load errors and messages show it.
	Name string
	// Funcs maps a C symbol (e.g. "cuMemAlloc_v2", the exact name this
	// package asks dlsym for) to the Go function that implements it. Its
	// type must be the one this package binds the symbol to (the function
	// fields of driverAPI, nvrtcAPI and cublasAPI: handles as uintptr, a
	// CUdeviceptr as uint64, statuses as int32, ...); another type panics
	// when the symbol is bound. An absent symbol is missing, as from a
	// shared library.
	Funcs map[string]any
}

// binder looks symbols up in l.Funcs; a function of the wrong type is a
// programmer error and panics.
func (l Library) binder() binder {
	return func(fptr any, symbol string) bool {
		f, ok := l.Funcs[symbol]
		if !ok || f == nil {
			return false
		}
		dst, src := reflect.ValueOf(fptr).Elem(), reflect.ValueOf(f)
		if src.Type() != dst.Type() {
			panic(fmt.Sprintf("cuda: %s: %s is a %s, want a %s", l.Name, symbol, src.Type(), dst.Type()))
		}
		dst.Set(src)
		return true
	}
}

func (l Library) symbols() *symbols { return &symbols{name: l.Name, lookup: l.binder()} }

// OpenLibraries is Open on the given driver, NVRTC and cuBLAS instead of
// the system's: it binds the driver's functions from driver and calls its
// cuInit, then opens device ordinal as Open does. NVRTC and cuBLAS are
// bound on first use, once per Device. Missing functions give the same
// errors as a shared library that lacks them (wrapping ErrNoDriver,
// ErrNoNVRTC or ErrNoCUBLAS).
func OpenLibraries(driver, nvrtc, cublas Library, ordinal int, opts Options) (*Device, error) {
	drv, err := bindDriver(driver.symbols())
	if err != nil {
		return nil, err
	}
	return openWith(libraries{
		drv:    drv,
		nvrtc:  sync.OnceValues(func() (*nvrtcAPI, error) { return bindNVRTC(nvrtc.symbols()) }),
		cublas: sync.OnceValues(func() (*cublasAPI, error) { return bindCUBLAS(cublas.symbols()) }),
	}, ordinal, opts)
}
