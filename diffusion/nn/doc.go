// Package nn is the explicit-layer engine that trains the toolkit's
// denoisers: layers written as forward/backward pairs (llm.c style) over a
// narrow Backend interface, parameters and optimiser state in flat buffers
// with named views, AdamW with warm-up, clipping and an EMA of the weights,
// and two denoisers, the ResMLP and the DiT (the paper's transformer
// backbone), optionally with input skips whose per-row gains the caller
// supplies (PrecondNetwork; package diffusion computes them).
//
// # Tour
//
//   - Backend (backend.go) and Tensor (tensor.go): the operations and the
//     handles; CPU (cpu.go, cpu_seq.go, sgemm*.go) is the reference backend.
//   - ParamSet and Init (params.go): named parameters in flat buffers.
//   - Layers as forward/backward pairs: Linear and LayerNorm (layers.go),
//     Attention (attention.go), adaLN-Zero modulation (adaln.go), the
//     2-D sin-cos position table (posembed.go).
//   - Networks (network.go): the Network and PrecondNetwork interfaces, Spec
//     (what checkpoints store), Build, BuildSeeded and Spec.Layout. ResMLP
//     (resmlp.go) for flattened data; DiT (dit.go for DiTConfig and the
//     presets, dit_net.go, dit_pass.go) for images as patch tokens.
//   - Per-example factors (sites.go): LinearSite, NormSite and ParamSite,
//     what package diffusion/gram forms per-bin Gram matrices from.
//   - Optimizer (optim.go): AdamW, warm-up, clipping and the EMA.
//
// # Backends
//
// Every number lives in a Tensor, an opaque handle to a run of float32
// elements inside an allocation owned by a Backend (host memory for the CPU
// backend, device memory for a GPU backend). Data crosses to and from the
// host only through Backend.Upload and Backend.Download. Each Backend method
// is coarse enough to be one GPU kernel or one cuBLAS call: GEMM with
// transposes, strides and β, bias add and bias-gradient column sums, SiLU and
// GELU and their derivatives, LayerNorm forward and backward per row, the
// sinusoidal timestep embedding, per-row linear combinations (noising,
// targets, x̂0 conversions), a weighted per-row MSE and its gradient, AdamW,
// EMA, axpy/scale/dot for residuals and gradient clipping, a Gram matrix of
// gradient rows, and the operations of sequence models: GEMMs batched over
// examples on strided views (attention's per-head products), the row
// softmax and its backward, adaLN's per-example modulation and its
// backward, and the rearrangement of images into patch tokens.
//
// NewCPU is the float32 reference backend on gonum's BLAS; NewCPU64 is its
// float64 twin, which runs the same layers in double precision for
// finite-difference checks. Other backends register a constructor with
// Register (a GPU package does so from init), and NewBackend("cpu" | "cuda"
// | "auto") picks one by name; this package never imports GPU code.
//
// # Invariants
//
//   - Matrices are row-major; a buffer's shape is written beside it, as in
//     "x is (rows, D)". Operations take dimensions explicitly and panic when a
//     tensor is too short or belongs to another backend (programmer errors).
//   - Forward passes write their outputs and save what the backward pass
//     needs; backward passes ACCUMULATE (+=) parameter gradients, so callers
//     zero them (ParamSet.ZeroGrad) before a step. Input gradients are
//     overwritten, except LayerNorm's, which accumulates (the residual trunk
//     relies on it).
//   - A ParamSet's parameters, gradients, Adam moments and EMA weights all
//     share one flat layout: Linear weights (the parameters with weight
//     decay) first, then biases and LayerNorm gains and shifts, each in the
//     order it was added. ParamSet.View names a parameter's part of any such
//     buffer.
//   - Randomness (initial weights) is drawn on the host from a math/rand/v2
//     PCG and uploaded, so every backend starts from the same bits.
//   - The CPU backend is deterministic: the same inputs give the same bits on
//     every run and every number of threads (gonum's parallel GEMM splits the
//     output, never a sum).
//   - Per-example gradients of a Linear layer are outer products of its input
//     row a_n and output-gradient row δ_n. ResMLP and DiT keep every
//     activation in its own buffer, so after Backward, LinearSites and
//     NormSites expose a_n and δ_n of every layer for per-example or
//     per-group gradient products (⟨g_k, g_l⟩ = Σ_{n∈k, m∈l} (δ_n·δ_m)(a_n·a_m))
//     with no extra backward pass. In a sequence model a token-wise layer
//     has LinearSite.Tokens = L rows per example (example n's gradient is
//     Σ_p δ_{n,p}ᵀ a_{n,p}, so ⟨g_n, g_m⟩ = Σ_{p,q} (δ_{n,p}·δ_{m,q})(a_{n,p}·a_{m,q}));
//     a parameter added to every example's activations (the DiT's learned
//     position table) is a ParamSite whose per-example gradient is a row of
//     its OutGrad.
//   - Sequence layers use Backend methods only (GemmBatched on strided views
//     of one qkv buffer, Softmax, Modulate, Patchify), so every backend runs
//     the DiT unchanged; parameter-free LayerNorms use constant unit/zero
//     tensors that are not parameters.
//
// Gradients are checked against central finite differences on the float64
// twin and against gorgonia's symbolic gradients of the same function.
package nn
