// Package cudaemu emulates a GPU for tests: the CUDA driver, NVRTC and
// cuBLAS as Go functions over host memory, handed to package cuda through
// its one seam, cuda.OpenLibraries, so that a cuda.Device, and everything
// above it (the nn backend in package nncuda, the CLI's --device cuda),
// runs on machines without a GPU. Open gives such a Device; New gives the
// GPU itself, whose methods let a test inspect what the Device asked of it.
//
// Only tests import this package: the shipped binary carries no emulator
// (a test of cmd/paretodiff checks its dependencies), and package cuda's
// real driver path does not depend on it.
//
// # What is emulated
//
// Memory is one host array per GPU, handed out by a bump allocator whose
// space is never reused (a Device's pool keeps freed blocks anyway); an
// access outside it panics. Like the real driver, every call that needs
// the context fails with CUDA_ERROR_INVALID_CONTEXT on an OS thread where
// cuCtxSetCurrent has not made it current, so the thread rule of package
// cuda is checked for real. The "NVRTC" compiles cuda.KernelSource by
// reading its kernel declarations into a PTX-like text that lists each
// entry with its C parameter types; a launch decodes its arguments by
// those types (not by package cuda's own lists) and runs the kernel's Go
// transcription. cuBLAS's GEMMs are computed in float64 (Sgemm rounds the
// result to float32), with cuBLAS's argument checks.
//
// # Kernels
//
// Each kernels/*.cu file of package cuda has one Go file here of the same
// name (elementwise.cu, elementwise.go) holding the transcriptions of its
// kernels, each headed by the kernel's name and its formula as the .cu
// file states it, and one table of them by kernel name (kernelFile); a
// test checks that the tables hold exactly the kernels of each .cu file.
// A transcription follows its CUDA C in float32 (float64 where the kernel
// uses double), element by element; sums that a GPU forms across a warp
// or a block are sequential here, so results agree with a GPU's to
// rounding, not bit for bit. Kernels that rely on their launch geometry
// (block reductions, one warp per row, column blocks) check it and panic
// on a wrong one, where a GPU would compute garbage; grid-stride kernels
// accept any grid, and the two-stage reductions, whose partial sums depend
// on the grid, are emulated block by block.
//
// The emulator checks launch arguments, shapes, strides, the thread rule
// and the order of operations of the code above it, and the arithmetic
// only as the transcriptions do it: it proves nothing about the CUDA C,
// which only a GPU checks.
package cudaemu
