package cuda

import (
	"fmt"
	"strings"
	"unsafe"
)

// driverAPI holds the CUDA driver functions this package calls. Handles
// (CUcontext, CUmodule, CUfunction, CUstream) are uintptr, a CUdevice is
// int32, a CUdeviceptr is uint64 and every CUresult is int32.
type driverAPI struct {
	path string

	cuInit                    func(flags uint32) int32
	cuDriverGetVersion        func(version *int32) int32
	cuDeviceGetCount          func(count *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetName           func(name *byte, length int32, dev int32) int32
	cuDeviceGetAttribute      func(value *int32, attr int32, dev int32) int32
	cuDeviceTotalMem          func(bytes *uint64, dev int32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuCtxSynchronize          func() int32
	cuMemGetInfo              func(free, total *uint64) int32
	cuMemAlloc                func(dptr *uint64, bytes uint64) int32
	cuMemFree                 func(dptr uint64) int32
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, bytes uint64) int32
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, bytes uint64) int32
	cuMemcpyDtoD              func(dst, src uint64, bytes uint64) int32
	cuMemsetD32               func(dst uint64, value uint32, count uint64) int32
	cuModuleLoadData          func(module *uintptr, image unsafe.Pointer) int32
	cuModuleUnload            func(module uintptr) int32
	cuModuleGetFunction       func(fn *uintptr, module uintptr, name string) int32
	cuLaunchKernel            func(fn uintptr, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) int32
	cuStreamCreate            func(stream *uintptr, flags uint32) int32
	cuStreamDestroy           func(stream uintptr) int32
	cuStreamSynchronize       func(stream uintptr) int32
	cuGetErrorName            func(code int32, name **byte) int32 // optional
	cuGetErrorString          func(code int32, desc **byte) int32 // optional
}

// CUdevice_attribute values used here (cuda.h).
const (
	attrMultiprocessorCount    = 16
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
)

// cudaErrorNoDevice is CUDA_ERROR_NO_DEVICE; cudaErrorStubLibrary is
// CUDA_ERROR_STUB_LIBRARY (the toolkit's link-time libcuda stub was loaded).
const (
	cudaErrorNoDevice    = 100
	cudaErrorStubLibrary = 34
)

var theDriver = lazyLib[driverAPI]{load: func() (*driverAPI, error) {
	return loadDriver(systemDlopen)
}}

// driver returns the loaded and initialised driver, loading it on first use.
func driver() (*driverAPI, error) { return theDriver.get() }

// loadDriver dlopens libcuda, binds its functions and calls cuInit(0).
// Every failure wraps ErrNoDriver and is one line.
func loadDriver(open dlopenFunc) (*driverAPI, error) {
	h, path, err := openFirst(driverCandidates(), open)
	if err != nil {
		return nil, noDriverError(err)
	}
	return bindDriver(&symbols{name: path, lookup: dlsymBinder(h)})
}

// bindDriver binds the driver's functions from s and calls cuInit(0).
// Every failure wraps ErrNoDriver and is one line.
func bindDriver(s *symbols) (*driverAPI, error) {
	path := s.name
	d := &driverAPI{path: path}
	s.bind(&d.cuInit, true, "cuInit")
	s.bind(&d.cuDriverGetVersion, true, "cuDriverGetVersion")
	s.bind(&d.cuDeviceGetCount, true, "cuDeviceGetCount")
	s.bind(&d.cuDeviceGet, true, "cuDeviceGet")
	s.bind(&d.cuDeviceGetName, true, "cuDeviceGetName")
	s.bind(&d.cuDeviceGetAttribute, true, "cuDeviceGetAttribute")
	s.bind(&d.cuDeviceTotalMem, true, "cuDeviceTotalMem_v2")
	s.bind(&d.cuDevicePrimaryCtxRetain, true, "cuDevicePrimaryCtxRetain")
	s.bind(&d.cuDevicePrimaryCtxRelease, true, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease")
	s.bind(&d.cuCtxSetCurrent, true, "cuCtxSetCurrent")
	s.bind(&d.cuCtxSynchronize, true, "cuCtxSynchronize")
	s.bind(&d.cuMemGetInfo, true, "cuMemGetInfo_v2")
	s.bind(&d.cuMemAlloc, true, "cuMemAlloc_v2")
	s.bind(&d.cuMemFree, true, "cuMemFree_v2")
	s.bind(&d.cuMemcpyHtoD, true, "cuMemcpyHtoD_v2")
	s.bind(&d.cuMemcpyDtoH, true, "cuMemcpyDtoH_v2")
	s.bind(&d.cuMemcpyDtoD, true, "cuMemcpyDtoD_v2")
	s.bind(&d.cuMemsetD32, true, "cuMemsetD32_v2")
	s.bind(&d.cuModuleLoadData, true, "cuModuleLoadData")
	s.bind(&d.cuModuleUnload, true, "cuModuleUnload")
	s.bind(&d.cuModuleGetFunction, true, "cuModuleGetFunction")
	s.bind(&d.cuLaunchKernel, true, "cuLaunchKernel")
	s.bind(&d.cuStreamCreate, true, "cuStreamCreate")
	s.bind(&d.cuStreamDestroy, true, "cuStreamDestroy_v2", "cuStreamDestroy")
	s.bind(&d.cuStreamSynchronize, true, "cuStreamSynchronize")
	s.bind(&d.cuGetErrorName, false, "cuGetErrorName")
	s.bind(&d.cuGetErrorString, false, "cuGetErrorString")
	if err := s.err(ErrNoDriver, "the NVIDIA driver is too old"); err != nil {
		return nil, err
	}
	if code := d.cuInit(0); code != 0 {
		e := d.error("cuInit", code)
		hint := ""
		switch code {
		case cudaErrorNoDevice:
			hint = "; no NVIDIA GPU is visible"
		case cudaErrorStubLibrary:
			hint = fmt.Sprintf("; %s is the toolkit's stub, not a driver", path)
		}
		return nil, &loadError{ErrNoDriver, strings.TrimPrefix(e.Error(), "cuda: ") + hint}
	}
	return d, nil
}

// noDriverError turns the loader's message for libcuda into the one-line
// "no usable CUDA driver" error.
func noDriverError(dlerr error) error {
	msg := dlerr.Error()
	if strings.Contains(msg, "No such file") || strings.Contains(msg, "cannot open shared object") {
		return &loadError{ErrNoDriver, driverLib + " not found (is an NVIDIA driver installed?)"}
	}
	return &loadError{ErrNoDriver, fmt.Sprintf("cannot load %s: %s", driverLib, oneLine(msg, 300))}
}

// error builds the Error for a failed driver call, naming its status with
// cuGetErrorName/cuGetErrorString where the driver has them.
func (d *driverAPI) error(call string, code int32) *Error {
	e := &Error{Call: call, Code: int(code), Name: driverStatusNames[int(code)]}
	if d != nil && d.cuGetErrorName != nil {
		var p *byte
		if d.cuGetErrorName(code, &p) == 0 && p != nil {
			e.Name = goString(p)
		}
	}
	if d != nil && d.cuGetErrorString != nil {
		var p *byte
		if d.cuGetErrorString(code, &p) == 0 && p != nil {
			e.Desc = goString(p)
		}
	}
	return e
}

// check turns a driver status into nil or an *Error naming call.
func (d *driverAPI) check(call string, code int32) error {
	if code == 0 {
		return nil
	}
	return d.error(call, code)
}

// DeviceCount returns the number of CUDA devices, loading the driver on
// first use; without a usable driver the error wraps ErrNoDriver.
func DeviceCount() (int, error) {
	d, err := driver()
	if err != nil {
		return 0, err
	}
	var n int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// Available returns nil when the CUDA driver loads and sees at least one
// device, and otherwise a one-line error wrapping ErrNoDriver. It is what a
// "--device auto" choice asks.
func Available() error {
	n, err := DeviceCount()
	if err != nil {
		if ce, ok := err.(*Error); ok {
			return &loadError{ErrNoDriver, ce.message()}
		}
		return err
	}
	if n == 0 {
		return &loadError{ErrNoDriver, "the driver sees no CUDA device"}
	}
	return nil
}

// DriverVersion returns the CUDA version the driver supports, as
// major·1000 + minor·10 (13000 for CUDA 13.0).
func DriverVersion() (int, error) {
	d, err := driver()
	if err != nil {
		return 0, err
	}
	var v int32
	if err := d.check("cuDriverGetVersion", d.cuDriverGetVersion(&v)); err != nil {
		return 0, err
	}
	return int(v), nil
}
