package cuda

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors for a missing or unusable library. The errors this package
// returns wrap them, so errors.Is(err, ErrNoDriver) tells "no GPU here" apart
// from a failure on a working GPU.
var (
	// ErrNoDriver: libcuda cannot be loaded, or cuInit fails, or no device exists.
	ErrNoDriver = errors.New("cuda: no usable CUDA driver")
	// ErrNoNVRTC: the NVRTC runtime compiler (libnvrtc) cannot be loaded.
	ErrNoNVRTC = errors.New("cuda: NVRTC not found")
	// ErrNoCUBLAS: cuBLAS (libcublas) cannot be loaded.
	ErrNoCUBLAS = errors.New("cuda: cuBLAS not found")
	// ErrClosed: the Device was closed.
	ErrClosed = errors.New("cuda: device is closed")
)

// loadError is a one-line error about a library that could not be used; it
// wraps one of the sentinels above.
type loadError struct {
	sentinel error
	detail   string
}

func (e *loadError) Error() string { return e.sentinel.Error() + ": " + e.detail }
func (e *loadError) Unwrap() error { return e.sentinel }

// Error is a failed call into the CUDA driver, NVRTC or cuBLAS. Its message
// names the call and the library's status, for example
//
//	cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)
type Error struct {
	Call string // the C function, e.g. "cuMemAlloc_v2"
	Code int    // the status it returned (CUresult, nvrtcResult or cublasStatus_t)
	Name string // the status's name, e.g. "CUDA_ERROR_OUT_OF_MEMORY"; "" if unknown
	Desc string // the library's description of the status; "" if none
	Log  string // NVRTC's compilation log, if any
}

// maxLogChars bounds the compilation log kept in an error message, which
// stays on one line.
const maxLogChars = 2000

// Error implements error: "cuda: CALL: NAME (DESC)", on one line.
func (e *Error) Error() string { return "cuda: " + e.message() }

// message is Error without the package prefix, for errors that wrap it in
// a sentence of their own.
func (e *Error) message() string {
	var b strings.Builder
	b.WriteString(e.Call)
	b.WriteString(": ")
	if e.Name != "" {
		b.WriteString(e.Name)
	} else {
		fmt.Fprintf(&b, "status %d", e.Code)
	}
	if e.Desc != "" && e.Desc != e.Name {
		b.WriteString(" (")
		b.WriteString(e.Desc)
		b.WriteString(")")
	}
	if log := oneLine(e.Log, maxLogChars); log != "" {
		b.WriteString(": ")
		b.WriteString(log)
	}
	return b.String()
}

// oneLine joins the non-blank lines of s with " | " and cuts the result to
// at most max bytes (on a rune boundary), marking a cut with "…".
func oneLine(s string, max int) string {
	var parts []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.Join(strings.Fields(line), " "); line != "" {
			parts = append(parts, line)
		}
	}
	out := strings.Join(parts, " | ")
	if len(out) > max {
		cut := max
		for cut > 0 && out[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}

// Status names used when the library cannot name a status itself (an old
// library without cuGetErrorName or cublasGetStatusName). Not exhaustive.
var (
	driverStatusNames = map[int]string{
		0: "CUDA_SUCCESS", 1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY",
		3: "CUDA_ERROR_NOT_INITIALIZED", 4: "CUDA_ERROR_DEINITIALIZED", 34: "CUDA_ERROR_STUB_LIBRARY",
		35: "CUDA_ERROR_INSUFFICIENT_DRIVER", 100: "CUDA_ERROR_NO_DEVICE", 101: "CUDA_ERROR_INVALID_DEVICE",
		200: "CUDA_ERROR_INVALID_IMAGE", 201: "CUDA_ERROR_INVALID_CONTEXT", 209: "CUDA_ERROR_NO_BINARY_FOR_GPU",
		218: "CUDA_ERROR_INVALID_PTX", 222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", 400: "CUDA_ERROR_INVALID_HANDLE",
		500: "CUDA_ERROR_NOT_FOUND", 700: "CUDA_ERROR_ILLEGAL_ADDRESS", 701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
		702: "CUDA_ERROR_LAUNCH_TIMEOUT", 719: "CUDA_ERROR_LAUNCH_FAILED", 999: "CUDA_ERROR_UNKNOWN",
	}
	cublasStatusNames = map[int]string{
		0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
		7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
		13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
		16: "CUBLAS_STATUS_LICENSE_ERROR",
	}
)
