// Package nncuda is the CUDA backend of the training engine diffusion/nn:
// an nn.Backend whose tensors live in GPU memory and whose operations are
// the kernels of internal/cuda (compiled by NVRTC at run time) and cuBLAS,
// loaded through dlopen, so that the module still builds with
// CGO_ENABLED=0 and runs without a GPU. Importing the package registers
// the backend as "cuda" with nn.Register (the CLI imports it; package nn
// never imports GPU code), so nn.NewBackend("cuda") and "auto" find it.
//
// # Semantics
//
// Every method computes the function the CPU reference backend (nn.NewCPU)
// computes, in float32, and is tested against it on the same inputs:
// tanh-GELU and SiLU, LayerNorm whose backward pass accumulates into dx, the
// cos-first timestep embedding (evaluated in float64 as on the CPU), the
// per-row MSE accumulated in float64 with its weighted gradient, AdamW with
// the caller's float32 bias corrections, EMA. Gemm is cublasSgemm in full
// FP32 (no TF32) with the caller's row strides, GemmBatched one
// cublasSgemmStridedBatched with the batch strides too. The sequence
// operations of the DiT follow the CPU's arithmetic: Softmax exponentiates
// scale·x minus the row maximum in float32 and normalises by a float64
// sum, SoftmaxBackward forms its row sum in float64, ModulateBackward
// overwrites ds and dt with float32 column sums over each group's tokens,
// and Patchify moves bits. Dot and Gram return float64 results formed in
// float64 on the device: Dot from float64 products in a fixed-order
// two-stage reduction, Gram by converting blocks of columns to float64
// (exactly) and multiplying them with cublasDgemm. Results differ
// from the CPU backend's only by float32 rounding in another summation
// order; the GPU results do not vary from run to run.
//
// # Execution
//
// A CUDA context is current on one OS thread, so every CUDA call runs on
// the worker goroutine of a cuda.Device, and each hand-over to it costs a
// goroutine switch. The backend therefore queues operations: a method
// checks its arguments at once (a shape error panics at the call, as on
// the CPU) and appends the launch to a queue, and the queue runs in one
// hand-over when a result must come back to the host (Download, Dot, Gram,
// Sync), when memory is allocated, or when it grows long. A training step
// of diffusion.Trainer hands over three times: the loss download after the
// forward and backward passes, the gradient norm for clipping, and Sync
// after AdamW and the EMA. Upload copies its source into a staging buffer,
// so the caller may reuse it at once; a batch is drawn on the host from the
// same PCG stream as on the CPU and crosses to the device once per step.
//
// # Errors
//
// Launches are asynchronous, and a method has no error result: a failure
// (out of memory, a faulting kernel, a missing NVRTC) is kept, and from then
// on the backend does no more work: operations are skipped, Download, Dot
// and Gram give NaN, and Sync returns the error (every time: a CUDA error
// usually leaves the context unusable). Sync's errors start with "cuda: ".
//
// A Backend is not safe for concurrent use.
package nncuda
