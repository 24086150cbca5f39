// Package gpu makes the CUDA backend of diffusion/nn available to programs
// outside this module, which cannot import internal/cuda. Import it for its
// side effect:
//
//	import _ "github.com/paretodiff/paretodiff/gpu"
//
// after which nn.NewBackend("cuda") opens the first NVIDIA GPU and
// nn.NewBackend("auto") prefers it, falling back to the CPU. The driver,
// NVRTC and cuBLAS are loaded at run time (no cgo), so a program that
// imports this package still builds with CGO_ENABLED=0 and runs on machines
// without a GPU.
package gpu

import (
	"github.com/paretodiff/paretodiff/internal/cuda"
	_ "github.com/paretodiff/paretodiff/internal/cuda/nncuda" // registers nn's "cuda" backend
)

// Available returns nil when a CUDA driver, NVRTC and cuBLAS load and at
// least one device is present, and otherwise a one-line error that says
// what is missing.
func Available() error { return cuda.Available() }
