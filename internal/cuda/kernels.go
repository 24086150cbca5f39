package cuda

import (
	"fmt"
	"math"
)

// kernelSpecs is the parameter list of every kernel in kernels/*.cu, by
// name. Launch checks arguments against it; a test checks it against the C
// signatures in the source.
var kernelSpecs = map[string][]ArgKind{
	"fill_f32":                 {ArgPtrF32, ArgF32, ArgI64},
	"scale_f32":                {ArgPtrF32, ArgF32, ArgI64},
	"axpy_f32":                 {ArgPtrF32, ArgF32, ArgPtrF32, ArgI64},
	"add_f32":                  {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI64},
	"mul_f32":                  {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI64},
	"f32_to_f64":               {ArgPtrF64, ArgPtrF32, ArgI64},
	"bias_add_f32":             {ArgPtrF32, ArgPtrF32, ArgI32, ArgI32},
	"bias_grad_f32":            {ArgPtrF32, ArgPtrF32, ArgI32, ArgI32},
	"silu_f32":                 {ArgPtrF32, ArgPtrF32, ArgI64},
	"silu_backward_f32":        {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI64, ArgI32},
	"gelu_tanh_f32":            {ArgPtrF32, ArgPtrF32, ArgI64},
	"gelu_tanh_backward_f32":   {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI64, ArgI32},
	"gelu_erf_f32":             {ArgPtrF32, ArgPtrF32, ArgI64},
	"gelu_erf_backward_f32":    {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI64, ArgI32},
	"layernorm_f32":            {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgF32},
	"layernorm_backward_f32":   {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgI32},
	"layernorm_param_grad_f32": {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32},
	"timestep_embedding_f32":   {ArgPtrF32, ArgPtrI32, ArgI32, ArgI32, ArgF32, ArgF32},
	"row_combine_f32":          {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32},
	"mse_rows_f32":             {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32},
	"mse_grad_f32":             {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgF32},
	"adamw_f32":                {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI64, ArgF32, ArgF32, ArgF32, ArgF32, ArgF32, ArgF32, ArgF32, ArgF32, ArgF32, ArgF32},
	"ema_f32":                  {ArgPtrF32, ArgPtrF32, ArgI64, ArgF32, ArgF32},
	"sumsq_partial_f32":        {ArgPtrF64, ArgPtrF32, ArgI64},
	"sum_f64":                  {ArgPtrF64, ArgPtrF64, ArgI32},
	// kernels/training.cu: the diffusion/nn Backend's semantics (nnops.go).
	"dot_partial_f32":    {ArgPtrF64, ArgPtrF32, ArgPtrF32, ArgI64},
	"time_embedding_f32": {ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgF32},
	"weighted_mse_f32":   {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgF32, ArgI32},
	"f32_cols_to_f64":    {ArgPtrF64, ArgPtrF32, ArgI32, ArgI64, ArgI64, ArgI32},
	"scale_matrix_f32":   {ArgPtrF32, ArgI32, ArgI32, ArgI64, ArgF32},
	// kernels/seq.cu: the sequence operations of the nn Backend (seqops.go).
	"softmax_f32":           {ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgF32},
	"softmax_backward_f32":  {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgF32},
	"modulate_f32":          {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgI32, ArgI32, ArgF32, ArgI32},
	"modulate_backward_f32": {ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgI32, ArgI32, ArgF32, ArgI32, ArgI32},
	"patchify_f32":          {ArgPtrF32, ArgPtrF32, ArgI32, ArgI32, ArgI32, ArgI32, ArgI32},
}

// Launch geometry; the kernels assume the same numbers (kernels/prelude.cuh).
const (
	blockThreads   = 256 // PD_BLOCK
	colsX, colsY   = 32, 8
	blocksPerSM    = 16   // cap on grid-stride grids: blocksPerSM·SMs blocks
	maxPartials    = 1024 // cap on the blocks of a two-stage reduction
	warpsPerBlock  = blockThreads / 32
	maxGridX       = 1<<31 - 1
	maxColumnGrid  = 65535
	minGridDefault = 1
)

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// gridCap is the largest grid of a grid-stride kernel on this device.
func (d *Device) gridCap() int64 { return int64(max(d.info.SMs, 1)) * blocksPerSM }

// elemGrid is the 1-D grid for n elements, one per thread, capped.
func (d *Device) elemGrid(n int64) Dim3 {
	return Dim3{uint32(min(max(ceilDiv(n, blockThreads), minGridDefault), d.gridCap(), maxGridX)), 1, 1}
}

// rowGrid is the 1-D grid for one warp per row.
func (d *Device) rowGrid(rows int) Dim3 {
	return Dim3{uint32(min(max(ceilDiv(int64(rows), warpsPerBlock), minGridDefault), d.gridCap(), maxGridX)), 1, 1}
}

// colGrid is the grid of a column reduction over cols columns.
func colGrid(cols int) Dim3 {
	return Dim3{uint32(min(max(ceilDiv(int64(cols), colsX), 1), maxColumnGrid)), 1, 1}
}

var (
	block1D   = Dim3{blockThreads, 1, 1}
	blockCols = Dim3{colsX, colsY, 1}
)

// sameLen panics unless every buffer has n elements.
func sameLen(op string, n int, bufs ...interface{ Len() int }) {
	for _, b := range bufs {
		if b.Len() != n {
			panic(fmt.Sprintf("cuda: %s: buffer of length %d, want %d", op, b.Len(), n))
		}
	}
}

// matrix panics unless rows, cols ≥ 0 fit a C int and every buffer holds
// rows·cols elements.
func matrix(op string, rows, cols int, bufs ...interface{ Len() int }) {
	if rows < 0 || cols < 0 || rows > math.MaxInt32 || cols > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: %s: shape (%d, %d)", op, rows, cols))
	}
	sameLen(op, rows*cols, bufs...)
}

// Fill sets x[i] = v.
func (d *Device) Fill(x *F32, v float32) error {
	if x.Len() == 0 {
		return nil
	}
	return d.Launch("fill_f32", d.elemGrid(int64(x.Len())), block1D, 0,
		NewKernelArgs(3).F32Ptr(x).F32(v).I64(int64(x.Len())))
}

// Scale sets x[i] = a·x[i].
func (d *Device) Scale(x *F32, a float32) error {
	if x.Len() == 0 {
		return nil
	}
	return d.Launch("scale_f32", d.elemGrid(int64(x.Len())), block1D, 0,
		NewKernelArgs(3).F32Ptr(x).F32(a).I64(int64(x.Len())))
}

// Axpy sets y[i] = y[i] + a·x[i].
func (d *Device) Axpy(y *F32, a float32, x *F32) error {
	sameLen("Axpy", y.Len(), x)
	if y.Len() == 0 {
		return nil
	}
	return d.Launch("axpy_f32", d.elemGrid(int64(y.Len())), block1D, 0,
		NewKernelArgs(4).F32Ptr(y).F32(a).F32Ptr(x).I64(int64(y.Len())))
}

// Add sets out[i] = a[i] + b[i]; out may be a or b.
func (d *Device) Add(out, a, b *F32) error { return d.binary("add_f32", out, a, b) }

// Mul sets out[i] = a[i]·b[i]; out may be a or b.
func (d *Device) Mul(out, a, b *F32) error { return d.binary("mul_f32", out, a, b) }

func (d *Device) binary(name string, out, a, b *F32) error {
	sameLen(name, out.Len(), a, b)
	if out.Len() == 0 {
		return nil
	}
	return d.Launch(name, d.elemGrid(int64(out.Len())), block1D, 0,
		NewKernelArgs(4).F32Ptr(out).F32Ptr(a).F32Ptr(b).I64(int64(out.Len())))
}

// ToFloat64 sets out[i] = float64(x[i]), for example to form a float64 Gram
// matrix with Dgemm from float32 gradients.
func (d *Device) ToFloat64(out *F64, x *F32) error {
	sameLen("ToFloat64", out.Len(), x)
	if out.Len() == 0 {
		return nil
	}
	return d.Launch("f32_to_f64", d.elemGrid(int64(out.Len())), block1D, 0,
		NewKernelArgs(3).F64Ptr(out).F32Ptr(x).I64(int64(out.Len())))
}

// AddBias adds bias (cols) to every row of y (rows, cols).
func (d *Device) AddBias(y *F32, bias *F32, rows, cols int) error {
	matrix("AddBias", rows, cols, y)
	sameLen("AddBias", cols, bias)
	if rows*cols == 0 {
		return nil
	}
	return d.Launch("bias_add_f32", d.elemGrid(int64(rows*cols)), block1D, 0,
		NewKernelArgs(4).F32Ptr(y).F32Ptr(bias).Int(rows).Int(cols))
}

// BiasGrad adds the column sums of dy (rows, cols) into dbias (cols):
// dbias[c] += Σ_r dy[r, c], the bias gradient of a linear layer.
func (d *Device) BiasGrad(dbias *F32, dy *F32, rows, cols int) error {
	matrix("BiasGrad", rows, cols, dy)
	sameLen("BiasGrad", cols, dbias)
	if cols == 0 {
		return nil
	}
	return d.Launch("bias_grad_f32", colGrid(cols), blockCols, 0,
		NewKernelArgs(4).F32Ptr(dbias).F32Ptr(dy).Int(rows).Int(cols))
}

// SiLU sets out = x·sigmoid(x) element-wise.
func (d *Device) SiLU(out, x *F32) error { return d.unary("silu_f32", out, x) }

// SiLUBackward sets dx = dy·SiLU'(x), SiLU'(x) = s(x)(1 + x(1 − s(x))), or
// adds it into dx when accumulate is set.
func (d *Device) SiLUBackward(dx, dy, x *F32, accumulate bool) error {
	return d.unaryBackward("silu_backward_f32", dx, dy, x, accumulate)
}

// GELUKind chooses the GELU formula. The zero value is the exact one.
type GELUKind int

const (
	// GELUErf is the exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)) (PyTorch's
	// default, approximate="none").
	GELUErf GELUKind = iota
	// GELUTanh is the tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
	// (GPT-2; PyTorch approximate="tanh"). It differs from GELUErf by up to
	// about 1e-3 (absolute).
	GELUTanh
)

func (k GELUKind) kernels() (fwd, bwd string) {
	switch k {
	case GELUErf:
		return "gelu_erf_f32", "gelu_erf_backward_f32"
	case GELUTanh:
		return "gelu_tanh_f32", "gelu_tanh_backward_f32"
	}
	panic(fmt.Sprintf("cuda: unknown GELUKind %d", int(k)))
}

// GELU sets out = GELU(x) element-wise with the formula kind.
func (d *Device) GELU(out, x *F32, kind GELUKind) error {
	fwd, _ := kind.kernels()
	return d.unary(fwd, out, x)
}

// GELUBackward sets dx = dy·GELU'(x) with the formula kind, or adds it into
// dx when accumulate is set.
func (d *Device) GELUBackward(dx, dy, x *F32, kind GELUKind, accumulate bool) error {
	_, bwd := kind.kernels()
	return d.unaryBackward(bwd, dx, dy, x, accumulate)
}

func (d *Device) unary(name string, out, x *F32) error {
	sameLen(name, out.Len(), x)
	if out.Len() == 0 {
		return nil
	}
	return d.Launch(name, d.elemGrid(int64(out.Len())), block1D, 0,
		NewKernelArgs(3).F32Ptr(out).F32Ptr(x).I64(int64(out.Len())))
}

func (d *Device) unaryBackward(name string, dx, dy, x *F32, accumulate bool) error {
	sameLen(name, dx.Len(), dy, x)
	if dx.Len() == 0 {
		return nil
	}
	return d.Launch(name, d.elemGrid(int64(dx.Len())), block1D, 0,
		NewKernelArgs(5).F32Ptr(dx).F32Ptr(dy).F32Ptr(x).I64(int64(dx.Len())).Bool(accumulate))
}

// LayerNorm normalises each row of x (rows, cols) over its cols values and
// applies the affine map: out = (x − μ)·rstd·gamma + beta with
// rstd = 1/√(σ² + eps) (σ² the biased variance). It saves mean (rows) and
// rstd (rows) for LayerNormBackward.
func (d *Device) LayerNorm(out, mean, rstd, x, gamma, beta *F32, rows, cols int, eps float32) error {
	matrix("LayerNorm", rows, cols, out, x)
	sameLen("LayerNorm", rows, mean, rstd)
	sameLen("LayerNorm", cols, gamma, beta)
	if rows == 0 {
		return nil
	}
	if cols == 0 {
		panic("cuda: LayerNorm over 0 columns")
	}
	return d.Launch("layernorm_f32", d.rowGrid(rows), block1D, 0,
		NewKernelArgs(9).F32Ptr(out).F32Ptr(mean).F32Ptr(rstd).F32Ptr(x).F32Ptr(gamma).F32Ptr(beta).
			Int(rows).Int(cols).F32(eps))
}

// LayerNormBackward computes the gradients of LayerNorm from the output
// gradient dy (rows, cols) and the forward's x, mean and rstd: the input
// gradient dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gamma, written to
// dx (or added into it when accumulate is set), and the parameter gradients
// dgamma += Σ_rows dy·x̂ and dbeta += Σ_rows dy (always added).
func (d *Device) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma *F32, rows, cols int, accumulate bool) error {
	matrix("LayerNormBackward", rows, cols, dx, dy, x)
	sameLen("LayerNormBackward", rows, mean, rstd)
	sameLen("LayerNormBackward", cols, gamma, dgamma, dbeta)
	if rows == 0 || cols == 0 {
		return nil
	}
	return d.Do(func() error {
		if err := d.Launch("layernorm_backward_f32", d.rowGrid(rows), block1D, 0,
			NewKernelArgs(9).F32Ptr(dx).F32Ptr(dy).F32Ptr(x).F32Ptr(mean).F32Ptr(rstd).F32Ptr(gamma).
				Int(rows).Int(cols).Bool(accumulate)); err != nil {
			return err
		}
		return d.Launch("layernorm_param_grad_f32", colGrid(cols), blockCols, 0,
			NewKernelArgs(8).F32Ptr(dgamma).F32Ptr(dbeta).F32Ptr(dy).F32Ptr(x).F32Ptr(mean).F32Ptr(rstd).
				Int(rows).Int(cols))
	})
}

// TimestepEmbedding writes the sinusoidal embedding of the timesteps t
// (rows) into out (rows, dim), as in DDPM / guided-diffusion: with
// half = dim/2 and f_j = maxPeriod^(−j/half),
// out[r, j] = cos(tScale·t[r]·f_j) and out[r, half+j] = sin(tScale·t[r]·f_j)
// for j < half; a last odd column is 0. maxPeriod is usually 10000 and
// tScale 1 (or 1000/T to map t onto a 1000-step range).
func (d *Device) TimestepEmbedding(out *F32, t *I32, dim int, maxPeriod, tScale float32) error {
	rows := t.Len()
	matrix("TimestepEmbedding", rows, dim, out)
	if rows*dim == 0 {
		return nil
	}
	return d.Launch("timestep_embedding_f32", d.elemGrid(int64(rows*dim)), block1D, 0,
		NewKernelArgs(6).F32Ptr(out).I32Ptr(t).Int(rows).Int(dim).F32(maxPeriod).F32(tScale))
}

// RowCombine sets out[r, c] = a[r]·x[r, c] + b[r]·y[r, c] for (rows, cols)
// matrices and per-row coefficients a, b (rows).
func (d *Device) RowCombine(out, x, y, a, b *F32, rows, cols int) error {
	matrix("RowCombine", rows, cols, out, x, y)
	sameLen("RowCombine", rows, a, b)
	if rows*cols == 0 {
		return nil
	}
	return d.Launch("row_combine_f32", d.elemGrid(int64(rows*cols)), block1D, 0,
		NewKernelArgs(7).F32Ptr(out).F32Ptr(x).F32Ptr(y).F32Ptr(a).F32Ptr(b).Int(rows).Int(cols))
}

// Noise is the forward process x_t = α_t·x0 + σ_t·ε (see "Diffusion" in
// the package documentation) for a batch x0, eps (rows, cols) with per-row
// α_t, σ_t (rows): RowCombine(xt, x0, eps, alpha, sigma).
func (d *Device) Noise(xt, x0, eps, alpha, sigma *F32, rows, cols int) error {
	return d.RowCombine(xt, x0, eps, alpha, sigma, rows, cols)
}

// MSERows sets loss[r] = w[r]·(1/cols)·Σ_c (pred[r,c] − target[r,c])² for
// (rows, cols) pred and target and per-row weights w (rows).
func (d *Device) MSERows(loss, pred, target, w *F32, rows, cols int) error {
	matrix("MSERows", rows, cols, pred, target)
	sameLen("MSERows", rows, loss, w)
	if rows == 0 {
		return nil
	}
	if cols == 0 {
		panic("cuda: MSERows over 0 columns")
	}
	return d.Launch("mse_rows_f32", d.rowGrid(rows), block1D, 0,
		NewKernelArgs(6).F32Ptr(loss).F32Ptr(pred).F32Ptr(target).F32Ptr(w).Int(rows).Int(cols))
}

// MSEGrad sets dpred = ∂(scale·Σ_r loss[r])/∂pred for the loss of MSERows:
// dpred[r,c] = scale·w[r]·2(pred[r,c] − target[r,c])/cols. scale = 1/rows
// gives the gradient of the batch mean.
func (d *Device) MSEGrad(dpred, pred, target, w *F32, rows, cols int, scale float32) error {
	matrix("MSEGrad", rows, cols, dpred, pred, target)
	sameLen("MSEGrad", rows, w)
	if rows*cols == 0 {
		return nil
	}
	return d.Launch("mse_grad_f32", d.elemGrid(int64(rows*cols)), block1D, 0,
		NewKernelArgs(7).F32Ptr(dpred).F32Ptr(pred).F32Ptr(target).F32Ptr(w).Int(rows).Int(cols).F32(scale))
}

// AdamW holds the hyper-parameters of one AdamW step.
type AdamW struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// Step is the 1-based number of this step, t in the bias corrections
	// 1 − β^t.
	Step int
	// ClipScale multiplies the gradient before the update (gradient-norm
	// clipping: min(1, maxNorm/‖g‖)); 0 means 1.
	ClipScale float64
}

// AdamWStep updates the parameters p with their gradient g and the moment
// buffers m and v (all of one length) by one AdamW step, as
// torch.optim.AdamW: m = β1 m + (1−β1) g, v = β2 v + (1−β2) g²,
// p = p(1 − lr·wd) − lr/(1−β1^t)·m/(√v/√(1−β2^t) + eps). The bias
// corrections and 1 − β are computed in float64 on the host.
func (d *Device) AdamWStep(p, g, m, v *F32, h AdamW) error {
	sameLen("AdamWStep", p.Len(), g, m, v)
	if h.Step < 1 {
		panic(fmt.Sprintf("cuda: AdamW step %d, want ≥ 1", h.Step))
	}
	if p.Len() == 0 {
		return nil
	}
	scale := h.ClipScale
	if scale == 0 {
		scale = 1
	}
	bc1 := 1 - math.Pow(h.Beta1, float64(h.Step))
	bc2 := 1 - math.Pow(h.Beta2, float64(h.Step))
	return d.Launch("adamw_f32", d.elemGrid(int64(p.Len())), block1D, 0,
		NewKernelArgs(15).F32Ptr(p).F32Ptr(g).F32Ptr(m).F32Ptr(v).I64(int64(p.Len())).
			F32(float32(h.LR)).F32(float32(h.Beta1)).F32(float32(h.Beta2)).
			F32(float32(1-h.Beta1)).F32(float32(1-h.Beta2)).F32(float32(h.Eps)).
			F32(float32(h.WeightDecay)).F32(float32(bc1)).F32(float32(bc2)).F32(float32(scale)))
}

// EMA sets ema = decay·ema + (1 − decay)·p, with 1 − decay computed in
// float64 (float32(1 − 0.9999) is accurate, 1 − float32(0.9999) is not).
func (d *Device) EMA(ema, p *F32, decay float64) error {
	sameLen("EMA", ema.Len(), p)
	if ema.Len() == 0 {
		return nil
	}
	return d.Launch("ema_f32", d.elemGrid(int64(ema.Len())), block1D, 0,
		NewKernelArgs(5).F32Ptr(ema).F32Ptr(p).I64(int64(ema.Len())).F32(float32(decay)).F32(float32(1-decay)))
}

// SumSquares returns Σ x[i]², accumulated in float64 on the device in a
// fixed order (the same result for the same input and device), e.g. the
// squared gradient norm for clipping.
func (d *Device) SumSquares(x *F32) (float64, error) {
	if x.Len() == 0 {
		return 0, nil
	}
	var out [1]float64
	err := d.Do(func() error {
		nb := int(min(ceilDiv(int64(x.Len()), blockThreads), maxPartials))
		partial, err := Alloc[float64](d, nb)
		if err != nil {
			return err
		}
		defer partial.Free()
		total := partial
		if nb > 1 {
			if total, err = Alloc[float64](d, 1); err != nil {
				return err
			}
			defer total.Free()
		}
		if err := d.Launch("sumsq_partial_f32", Dim3{uint32(nb), 1, 1}, block1D, 0,
			NewKernelArgs(3).F64Ptr(partial).F32Ptr(x).I64(int64(x.Len()))); err != nil {
			return err
		}
		if nb > 1 {
			if err := d.Launch("sum_f64", Dim3{1, 1, 1}, block1D, 0,
				NewKernelArgs(3).F64Ptr(total).F64Ptr(partial).Int(nb)); err != nil {
				return err
			}
		}
		return total.View(0, 1).CopyToHost(out[:])
	})
	return out[0], err
}
