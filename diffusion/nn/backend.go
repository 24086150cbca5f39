package nn

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Backend allocates tensors and runs the operations of the engine on them.
// The CPU backend (NewCPU) is the reference; a GPU backend implements the
// same functions on device memory and is tested against it.
//
// Conventions shared by every method:
//   - Matrices are row-major. "(R, C)" beside an argument means R rows of C
//     elements; a tensor may be longer than an operation needs, never shorter
//     (a shorter one panics, as does a tensor of another backend).
//   - Operations that produce parameter gradients ACCUMULATE (+=) into them;
//     every other output is OVERWRITTEN unless its comment says otherwise.
//   - Outputs must not overlap inputs unless the comment allows it.
//   - Operations may run asynchronously: Download, Dot and Gram return host
//     values and therefore wait; Sync waits and reports the first error since
//     the previous Sync (a CPU backend never fails).
//   - Scalars are float32 as the kernels use them, except the float64
//     results of Dot and Gram, which are accumulated in float64 on the CPU.
//
// Each method is meant to be one kernel (or one cuBLAS call) on a GPU. A
// backend that holds resources (a device context, a memory pool) may also
// implement io.Closer; callers that are done with it should close it.
type Backend interface {
	// Name returns the backend's registry name, such as "cpu".
	Name() string

	// Alloc returns a new zeroed tensor of n elements.
	Alloc(n int) Tensor
	// Free releases a tensor returned by Alloc (not a view). Using it
	// afterwards is a programmer error. The CPU backend leaves it to the
	// garbage collector.
	Free(t Tensor)
	// Upload copies len(src) host values into the start of dst.
	Upload(dst Tensor, src []float32)
	// Download copies the first len(dst) elements of src to the host.
	Download(dst []float32, src Tensor)
	// Copy copies src into the start of dst (len(src) elements).
	Copy(dst, src Tensor)
	// Fill sets every element of x to v.
	Fill(x Tensor, v float32)
	// Sync waits for queued work and returns the first error since the last
	// call, prefixed with the backend's name.
	Sync() error

	// Gemm computes C = α·op(A)·op(B) + β·C, where op(A) is (m, k) and op(B)
	// is (k, n); op transposes when tA (tB) is set. lda, ldb and ldc are the
	// row strides (elements) of A, B and C as stored. β = 0 overwrites C
	// without reading it; β = 1 accumulates.
	Gemm(tA, tB bool, m, n, k int, alpha float32, a Tensor, lda int, b Tensor, ldb int, beta float32, c Tensor, ldc int)
	// Axpy computes y += α·x over len(x) elements.
	Axpy(y Tensor, alpha float32, x Tensor)
	// Scale computes x *= α.
	Scale(x Tensor, alpha float32)
	// Dot returns Σ x_i·y_i over len(x) elements.
	Dot(x, y Tensor) float64
	// Gram writes dst[i·k+j] = ⟨g_i, g_j⟩ for the k rows of g, which is
	// (k, p); dst has k·k elements and is symmetric.
	Gram(dst []float64, g Tensor, k, p int)

	// AddBias computes y[r, c] += bias[c]; y is (rows, cols).
	AddBias(y, bias Tensor, rows, cols int)
	// SumRows accumulates the column sums of x (rows, cols) into dst (cols):
	// dst[c] += Σ_r x[r, c] (the gradient of a bias).
	SumRows(dst, x Tensor, rows, cols int)
	// Activate computes y = f(x) over len(x) elements; y may be x.
	Activate(f Activation, y, x Tensor)
	// ActivateBackward computes dx = dy ⊙ f′(x) over len(x) elements; dx may
	// be dy.
	ActivateBackward(f Activation, dx, x, dy Tensor)
	// LayerNorm normalises each row of x (rows, cols):
	// y = (x − μ)·ρ ⊙ γ + β with μ the row mean, ρ = 1/√(var + eps) and var
	// the biased row variance. It writes y (rows, cols) and saves μ and ρ in
	// mean and rstd (rows) for the backward pass.
	LayerNorm(y, mean, rstd, x, gamma, beta Tensor, rows, cols int, eps float32)
	// LayerNormBackward accumulates, with x̂ = (x − μ)·ρ and g = dy ⊙ γ,
	//   dx     += ρ·(g − mean_c(g) − x̂·mean_c(g ⊙ x̂))   (per row),
	//   dgamma += Σ_r dy ⊙ x̂,   dbeta += Σ_r dy.
	// dx may be the absent Tensor to skip it.
	LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma Tensor, rows, cols int)
	// TimeEmbedding writes the sinusoidal embedding of the timesteps t (rows,
	// stored as float32 values) into dst (rows, dim), dim even, half = dim/2:
	//   dst[r, i] = cos(t_r·f_i), dst[r, half+i] = sin(t_r·f_i),
	//   f_i = exp(−ln(maxPeriod)·i/half), i < half
	// (the DDPM/ADM `timestep_embedding`, cos first). It has no gradient.
	TimeEmbedding(dst, t Tensor, rows, dim int, maxPeriod float32)
	// RowAxpby computes dst[r, :] = a[r]·x[r, :] + b[r]·y[r, :] with per-row
	// coefficients a and b (rows) and x, y, dst (rows, cols). dst may be x or
	// y. It is forward noising x_t = α x0 + σ ε, the targets ε, x0 and
	// v = α ε − σ x0, and the conversions of a prediction to x̂0.
	RowAxpby(dst, a, x, b, y Tensor, rows, cols int)
	// WeightedMSE writes the per-row mean squared error
	//   rowLoss[r] = (1/cols)·Σ_c (pred[r, c] − target[r, c])²
	// and, unless dpred is absent, the gradient of
	// L = scale·Σ_r w[r]·rowLoss[r]:
	//   dpred[r, c] = scale·w[r]·2·(pred[r, c] − target[r, c])/cols.
	// rowLoss and w are (rows); the others (rows, cols).
	WeightedMSE(rowLoss, dpred, pred, target, w Tensor, rows, cols int, scale float32)

	// GemmBatched computes, for every i < batch, C_i = α·op(A_i)·op(B_i) +
	// β·C_i as Gemm does, where A_i starts i·strideA elements after the start
	// of a (likewise B_i and C_i): attention's per-example (and per-head)
	// products of token rows. The C_i must not overlap each other.
	GemmBatched(tA, tB bool, m, n, k int, alpha float32, a Tensor, lda, strideA int, b Tensor, ldb, strideB int, beta float32, c Tensor, ldc, strideC int, batch int)
	// Softmax writes y[r, :] = softmax(scale·x[r, :]) for each row of x
	// (rows, cols): y[r, c] = exp(scale·x[r, c] − m_r) / Σ_j exp(scale·x[r, j] − m_r)
	// with m_r the row's largest scale·x[r, j] (the max trick: no overflow,
	// and the largest term is exactly 1). y may be x.
	Softmax(y, x Tensor, rows, cols int, scale float32)
	// SoftmaxBackward writes, from the forward output y (rows, cols) and
	// the output gradient dy,
	//   dx[r, c] = scale·y[r, c]·(dy[r, c] − Σ_j dy[r, j]·y[r, j]),
	// the gradient with respect to Softmax's input x (the row sum is
	// accumulated in float64 on the CPU). dx may be dy.
	SoftmaxBackward(dx, y, dy Tensor, rows, cols int, scale float32)
	// Modulate applies per-group affine factors to groups of rows, adaLN's
	// modulation (Peebles & Xie 2023): x is (groups·tokens, cols), group g
	// being rows g·tokens … (g+1)·tokens − 1 (the tokens of one example),
	// and s and t hold one row of cols factors per group with row stride
	// ld (views into the chunks of one (groups, ld) modulation tensor):
	//   y[g·tokens + p, c] = x[g·tokens + p, c]·(one + s[g·ld + c]) + t[g·ld + c].
	// one is 1 for adaLN's scale, (1 + scale), and 0 for its gate; t may
	// be absent (no shift). y may be x.
	Modulate(y, x, s, t Tensor, groups, tokens, cols, ld int, one float32)
	// ModulateBackward writes the gradients of Modulate from the output
	// gradient dy and the forward pass's x and s:
	//   dx[g·tokens + p, c] = dy[g·tokens + p, c]·(one + s[g·ld + c])   (unless dx is absent; dx may be dy),
	//   ds[g·ld + c] = Σ_p dy[g·tokens + p, c]·x[g·tokens + p, c],
	//   dt[g·ld + c] = Σ_p dy[g·tokens + p, c]                          (unless dt is absent).
	// ds and dt are OVERWRITTEN (they are activations' gradients, written
	// once per step into the chunks of one (groups, ld) tensor).
	ModulateBackward(dx, ds, dt, dy, x, s Tensor, groups, tokens, cols, ld int, one float32)
	// Patchify rearranges n images into patch tokens, or back when
	// inverse is set. An image is channels-first (channels, side, side),
	// flattened (the data's examples); its tokens are (L, patch·patch·
	// channels) with L = (side/patch)² patches in row-major order, the
	// features of a patch ordered (i, j, c): pixel row i and column j
	// inside the patch, then channel c (DiT's unpatchify order):
	//   tok[(b·L + P·side/patch + Q)·F + (i·patch + j)·channels + c]
	//     = img[b·channels·side² + c·side² + (P·patch + i)·side + Q·patch + j],
	// F = patch²·channels. Forward writes tok (dst) from img (src); inverse
	// writes img (dst) from tok (src). side must be a multiple of patch.
	// It is a permutation: each direction is the other's gradient.
	Patchify(dst, src Tensor, n, channels, side, patch int, inverse bool)

	// AdamW takes one step of AdamW (Loshchilov & Hutter 2019, decoupled
	// weight decay) over len(p) elements, as PyTorch's torch.optim.AdamW:
	//   p ← p − lr·wd·p
	//   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
	//   p ← p − lr·(m/bc1) / (√(v/bc2) + eps)
	// with the bias corrections bc1 = 1 − β1^t, bc2 = 1 − β2^t of step t.
	AdamW(p, g, m, v Tensor, h AdamW)
	// EMA computes ema ← decay·ema + (1 − decay)·p over len(p) elements.
	EMA(ema, p Tensor, decay float32)
}

// AdamW holds the scalars of one AdamW step (see Backend.AdamW).
type AdamW struct {
	// LR is the step's learning rate, Beta1 and Beta2 the moment decays,
	// Eps the denominator's ε and WeightDecay the decoupled decay wd.
	LR, Beta1, Beta2, Eps, WeightDecay float32
	// BC1 and BC2 are the bias corrections 1 − β1^t and 1 − β2^t of step t ≥ 1.
	BC1, BC2 float32
}

// Activation names an element-wise nonlinearity.
type Activation int

const (
	// SiLU is x·sigmoid(x) (also "swish").
	SiLU Activation = iota
	// GELU is the tanh approximation
	// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), PyTorch's
	// GELU(approximate="tanh").
	GELU
)

// String returns "silu" or "gelu".
func (a Activation) String() string {
	switch a {
	case SiLU:
		return "silu"
	case GELU:
		return "gelu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation reads "silu" or "gelu".
func ParseActivation(s string) (Activation, error) {
	switch strings.ToLower(s) {
	case "silu", "swish":
		return SiLU, nil
	case "gelu":
		return GELU, nil
	}
	return 0, fmt.Errorf("nn: unknown activation %q (want silu or gelu)", s)
}

// MarshalText writes the activation's name, so configs hold "silu" in JSON.
func (a Activation) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads a name written by MarshalText.
func (a *Activation) UnmarshalText(b []byte) error {
	v, err := ParseActivation(string(b))
	*a = v
	return err
}

var (
	registryMu sync.Mutex
	registry   = map[string]func() (Backend, error){
		"cpu": func() (Backend, error) { return NewCPU(), nil },
	}
)

// Register makes a backend constructor available to NewBackend under name. A
// GPU package calls it from init (a blank import enables it), so this
// package never imports GPU code. Registering a name twice panics.
func Register(name string, newBackend func() (Backend, error)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup || name == "auto" {
		panic(fmt.Sprintf("nn: backend %q registered twice", name))
	}
	registry[name] = newBackend
}

// Backends returns the registered backend names, sorted.
func Backends() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewBackend returns a new backend by name. "auto" tries "cuda" when it is
// registered and falls back to "cpu" when that fails; the returned backend's
// Name says which one it is.
func NewBackend(name string) (Backend, error) {
	registryMu.Lock()
	newB, ok := registry[name]
	newCUDA, haveCUDA := registry["cuda"]
	registryMu.Unlock()
	if name == "auto" {
		if haveCUDA {
			if b, err := newCUDA(); err == nil {
				return b, nil
			}
		}
		return NewCPU(), nil
	}
	if !ok {
		return nil, fmt.Errorf("nn: unknown backend %q (have %s, auto)", name, strings.Join(Backends(), ", "))
	}
	b, err := newB()
	if err != nil {
		return nil, fmt.Errorf("nn: backend %q: %w", name, err)
	}
	return b, nil
}
