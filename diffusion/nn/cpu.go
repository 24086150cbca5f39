package nn

import (
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// CPU is the reference backend: host memory, gonum BLAS for Gemm and plain
// loops for everything else, deterministic (the same inputs give the same
// bits on every run, whatever the number of threads). T is the element type
// it stores: float32 is the engine's (NewCPU); float64 (NewCPU64) is a twin
// that runs the same layers in double precision, for finite-difference
// gradient checks. Upload and Download convert from and to float32; Data
// gives direct access to the stored values.
type CPU[T float32 | float64] struct {
	name string
	// gonumGemm forces gonum's Sgemm instead of the packed AVX2/FMA kernel
	// (for tests and comparisons).
	gonumGemm bool
}

// NewCPU returns the float32 CPU backend, registered as "cpu".
func NewCPU() *CPU[float32] { return &CPU[float32]{name: "cpu"} }

// NewCPU64 returns the float64 twin of the CPU backend (name "cpu64"), used
// to check gradients by finite differences.
func NewCPU64() *CPU[float64] { return &CPU[float64]{name: "cpu64"} }

type cpuStorage[T float32 | float64] struct{ data []T }

func (s *cpuStorage[T]) Len() int { return len(s.data) }

// Name returns "cpu" or "cpu64".
func (c *CPU[T]) Name() string { return c.name }

// Data returns the values of t, sharing memory with it. It panics if t
// belongs to another backend.
func (c *CPU[T]) Data(t Tensor) []T {
	s, ok := t.s.(*cpuStorage[T])
	if !ok {
		panic(fmt.Sprintf("nn: %s backend given %v of another backend", c.name, t))
	}
	return s.data[t.off : t.off+t.n : t.off+t.n]
}

// d is Data with a shape check: the first n values of t.
func (c *CPU[T]) d(op, name string, t Tensor, n int) []T {
	need(op, name, t, n)
	return c.Data(t)[:n]
}

// Alloc returns a zeroed tensor of n elements.
func (c *CPU[T]) Alloc(n int) Tensor {
	if n < 0 {
		panic(fmt.Sprintf("nn: Alloc(%d)", n))
	}
	return MakeTensor(&cpuStorage[T]{data: make([]T, n)})
}

// Free does nothing: the garbage collector reclaims host memory.
func (c *CPU[T]) Free(Tensor) {}

// Upload copies src into the start of dst, converting to T.
func (c *CPU[T]) Upload(dst Tensor, src []float32) {
	d := c.d("Upload", "dst", dst, len(src))
	for i, v := range src {
		d[i] = T(v)
	}
}

// Download copies the start of src into dst, rounding to float32.
func (c *CPU[T]) Download(dst []float32, src Tensor) {
	s := c.d("Download", "src", src, len(dst))
	for i, v := range s {
		dst[i] = float32(v)
	}
}

// Copy copies src into the start of dst.
func (c *CPU[T]) Copy(dst, src Tensor) {
	copy(c.d("Copy", "dst", dst, src.n), c.Data(src))
}

// Fill sets every element of x to v.
func (c *CPU[T]) Fill(x Tensor, v float32) {
	d := c.Data(x)
	for i := range d {
		d[i] = T(v)
	}
}

// Sync returns nil: the CPU backend runs every operation when it is called.
func (c *CPU[T]) Sync() error { return nil }

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// gemmLen is the number of elements a row-major (r, c) operand with row
// stride ld spans.
func gemmLen(r, c, ld int) int {
	if r == 0 || c == 0 {
		return 0
	}
	return (r-1)*ld + c
}

// gemmSpans returns the number of elements the stored A, B and C of
// C = op(A)·op(B) span, op(A) (m, k) and op(B) (k, n), with row strides
// lda, ldb and ldc.
func gemmSpans(tA, tB bool, m, n, k, lda, ldb, ldc int) (la, lb, lc int) {
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	return gemmLen(ar, ac, lda), gemmLen(br, bc, ldb), gemmLen(m, n, ldc)
}

// Gemm computes C = α·op(A)·op(B) + β·C with gonum's BLAS.
func (c *CPU[T]) Gemm(tA, tB bool, m, n, k int, alpha float32, a Tensor, lda int, b Tensor, ldb int, beta float32, cc Tensor, ldc int) {
	la, lb, lc := gemmSpans(tA, tB, m, n, k, lda, ldb, ldc)
	as := c.d("Gemm", "A", a, la)
	bs := c.d("Gemm", "B", b, lb)
	cs := c.d("Gemm", "C", cc, lc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 { // BLAS requires k ≥ 1 for the leading dimensions; C = β·C
		for i := 0; i < m; i++ {
			row := cs[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= T(beta)
				}
			}
		}
		return
	}
	switch as := any(as).(type) {
	case []float32:
		if haveFMA && !c.gonumGemm {
			sgemmPacked(tA, tB, m, n, k, alpha, as, lda, any(bs).([]float32), ldb, beta, any(cs).([]float32), ldc)
			return
		}
		gonum.Implementation{}.Sgemm(trans(tA), trans(tB), m, n, k, alpha, as, lda, any(bs).([]float32), ldb, beta, any(cs).([]float32), ldc)
	case []float64:
		gonum.Implementation{}.Dgemm(trans(tA), trans(tB), m, n, k, float64(alpha), as, lda, any(bs).([]float64), ldb, float64(beta), any(cs).([]float64), ldc)
	}
}

// Axpy computes y += α·x.
func (c *CPU[T]) Axpy(y Tensor, alpha float32, x Tensor) {
	xs := c.Data(x)
	ys := c.d("Axpy", "y", y, len(xs))
	a := T(alpha)
	x32, y32, is32 := f32(xs, ys)
	parFor(len(xs), parGrain, func(lo, hi int) {
		if is32 {
			axpy32(y32[lo:hi], x32[lo:hi], alpha)
			return
		}
		x := xs[lo:hi]
		y := ys[lo:][:len(x)] // equal lengths: no bounds checks
		for i, v := range x {
			y[i] += a * v
		}
	})
}

// f32 returns x and y as float32 slices when T is float32 (the backend
// whose loops have vectorised kernels).
func f32[T float32 | float64](x, y []T) ([]float32, []float32, bool) {
	x32, ok := any(x).([]float32)
	if !ok {
		return nil, nil, false
	}
	return x32, any(y).([]float32), true
}

// Scale computes x *= α.
func (c *CPU[T]) Scale(x Tensor, alpha float32) {
	xs := c.Data(x)
	a := T(alpha)
	for i := range xs {
		xs[i] *= a
	}
}

// Dot returns Σ x_i·y_i accumulated in float64.
func (c *CPU[T]) Dot(x, y Tensor) float64 {
	xs := c.Data(x)
	return dot64(xs, c.d("Dot", "y", y, len(xs)))
}

// sum64 returns Σ x_i in float64, in four partial sums like dot64.
func sum64[T float32 | float64](x []T) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

func dot64[T float32 | float64](x, y []T) float64 {
	// Four partial sums: deterministic, and faster than one dependent chain.
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i]) * float64(y[i])
		s1 += float64(x[i+1]) * float64(y[i+1])
		s2 += float64(x[i+2]) * float64(y[i+2])
		s3 += float64(x[i+3]) * float64(y[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(y[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// Gram writes the k×k matrix of dot products of the rows of g (k, p),
// accumulated in float64.
func (c *CPU[T]) Gram(dst []float64, g Tensor, k, p int) {
	if len(dst) < k*k {
		panic(fmt.Sprintf("nn: Gram: dst has %d elements, needs %d", len(dst), k*k))
	}
	gs := c.d("Gram", "g", g, k*p)
	// Each entry is one dot product computed by one goroutine: the result
	// does not depend on the split.
	parFor(k*(k+1)/2, max(1, parGrain/max(p, 1)), func(lo, hi int) {
		for e := lo; e < hi; e++ {
			i := int((math.Sqrt(float64(8*e+1)) - 1) / 2) // e = i(i+1)/2 + j, j ≤ i
			for i*(i+1)/2 > e {
				i--
			}
			for (i+1)*(i+2)/2 <= e {
				i++
			}
			j := e - i*(i+1)/2
			v := dot64(gs[i*p:(i+1)*p], gs[j*p:(j+1)*p])
			dst[i*k+j], dst[j*k+i] = v, v
		}
	})
}

// AddBias computes y[r, c] += bias[c].
func (c *CPU[T]) AddBias(y, bias Tensor, rows, cols int) {
	ys := c.d("AddBias", "y", y, rows*cols)
	bs := c.d("AddBias", "bias", bias, cols)
	b32, y32, is32 := f32(bs, ys)
	parFor(rows, parGrain/max(cols, 1), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if is32 {
				axpy32(y32[r*cols:], b32, 1)
				continue
			}
			row := ys[r*cols:][:len(bs)] // equal lengths: no bounds checks
			for j, b := range bs {
				row[j] += b
			}
		}
	})
}

// SumRows computes dst[c] += Σ_r x[r, c].
func (c *CPU[T]) SumRows(dst, x Tensor, rows, cols int) {
	xs := c.d("SumRows", "x", x, rows*cols)
	ds := c.d("SumRows", "dst", dst, cols)
	x32, d32, is32 := f32(xs, ds)
	for r := 0; r < rows; r++ {
		if is32 {
			axpy32(d32, x32[r*cols:(r+1)*cols], 1)
			continue
		}
		row := xs[r*cols:][:len(ds)] // equal lengths: no bounds checks
		for j, v := range row {
			ds[j] += v
		}
	}
}

// geluC is √(2/π) and geluA the cubic coefficient of the tanh GELU.
const (
	geluC = 0.7978845608028654
	geluA = 0.044715
)

// Activate computes y = f(x). The float32 backend uses a vectorised float32
// exp (a few ulps); the float64 twin evaluates the formulas with package
// math.
func (c *CPU[T]) Activate(f Activation, y, x Tensor) {
	xs := c.Data(x)
	ys := c.d("Activate", "y", y, len(xs))
	if f != SiLU && f != GELU {
		panic(fmt.Sprintf("nn: Activate: invalid activation %d", int(f)))
	}
	if x32, ok := any(xs).([]float32); ok {
		y32 := any(ys).([]float32)
		parFor(len(xs), parGrain/4, func(lo, hi int) {
			if f == SiLU {
				silu32(y32[lo:hi], x32[lo:hi])
			} else {
				gelu32(y32[lo:hi], x32[lo:hi])
			}
		})
		return
	}
	parFor(len(xs), parGrain/8, func(lo, hi int) {
		switch f {
		case SiLU:
			for i, v := range xs[lo:hi] {
				z := float64(v)
				ys[lo+i] = T(z / (1 + math.Exp(-z)))
			}
		case GELU:
			for i, v := range xs[lo:hi] {
				z := float64(v)
				ys[lo+i] = T(0.5 * z * (1 + math.Tanh(geluC*(z+geluA*z*z*z))))
			}
		}
	})
}

// ActivateBackward computes dx = dy ⊙ f′(x):
// SiLU′(x) = s·(1 + x·(1 − s)) with s = sigmoid(x);
// GELU′(x) = 0.5·(1 + th) + 0.5·x·(1 − th²)·√(2/π)·(1 + 3·0.044715·x²)
// with th = tanh(√(2/π)·(x + 0.044715·x³)).
func (c *CPU[T]) ActivateBackward(f Activation, dx, x, dy Tensor) {
	xs := c.Data(x)
	dys := c.d("ActivateBackward", "dy", dy, len(xs))
	dxs := c.d("ActivateBackward", "dx", dx, len(xs))
	if f != SiLU && f != GELU {
		panic(fmt.Sprintf("nn: ActivateBackward: invalid activation %d", int(f)))
	}
	if x32, ok := any(xs).([]float32); ok {
		dx32, dy32 := any(dxs).([]float32), any(dys).([]float32)
		parFor(len(xs), parGrain/4, func(lo, hi int) {
			if f == SiLU {
				siluBackward32(dx32[lo:hi], x32[lo:hi], dy32[lo:hi])
			} else {
				geluBackward32(dx32[lo:hi], x32[lo:hi], dy32[lo:hi])
			}
		})
		return
	}
	parFor(len(xs), parGrain/8, func(lo, hi int) {
		switch f {
		case SiLU:
			for i, v := range xs[lo:hi] {
				z := float64(v)
				s := 1 / (1 + math.Exp(-z))
				dxs[lo+i] = T(float64(dys[lo+i]) * s * (1 + z*(1-s)))
			}
		case GELU:
			for i, v := range xs[lo:hi] {
				z := float64(v)
				th := math.Tanh(geluC * (z + geluA*z*z*z))
				d := 0.5*(1+th) + 0.5*z*(1-th*th)*geluC*(1+3*geluA*z*z)
				dxs[lo+i] = T(float64(dys[lo+i]) * d)
			}
		}
	})
}

// LayerNorm normalises each row; the row statistics are accumulated in
// float64.
func (c *CPU[T]) LayerNorm(y, mean, rstd, x, gamma, beta Tensor, rows, cols int, eps float32) {
	xs := c.d("LayerNorm", "x", x, rows*cols)
	ys := c.d("LayerNorm", "y", y, rows*cols)
	ms := c.d("LayerNorm", "mean", mean, rows)
	rs := c.d("LayerNorm", "rstd", rstd, rows)
	gs := c.d("LayerNorm", "gamma", gamma, cols)
	bs := c.d("LayerNorm", "beta", beta, cols)
	parFor(rows, parGrain/max(cols, 1), func(lo, hi int) { c.layerNormRows(ys, ms, rs, xs, gs, bs, lo, hi, cols, eps) })
}

func (c *CPU[T]) layerNormRows(ys, ms, rs, xs, gs, bs []T, lo, hi, cols int, eps float32) {
	for r := lo; r < hi; r++ {
		row := xs[r*cols : (r+1)*cols]
		// One running sum each, in row order: the golden values of package
		// gram's tests hold these bits.
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mu := sum / float64(cols)
		var ss float64
		for _, v := range row {
			d := float64(v) - mu
			ss += d * d
		}
		rho := 1 / math.Sqrt(ss/float64(cols)+float64(eps))
		ms[r], rs[r] = T(mu), T(rho)
		out, gs, bs := ys[r*cols:][:len(row)], gs[:len(row)], bs[:len(row)]
		m, rh := T(mu), T(rho)
		for j, v := range row {
			out[j] = (v-m)*rh*gs[j] + bs[j]
		}
	}
}

// LayerNormBackward accumulates dx, dgamma and dbeta (see Backend).
func (c *CPU[T]) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma Tensor, rows, cols int) {
	xs := c.d("LayerNormBackward", "x", x, rows*cols)
	dys := c.d("LayerNormBackward", "dy", dy, rows*cols)
	ms := c.d("LayerNormBackward", "mean", mean, rows)
	rs := c.d("LayerNormBackward", "rstd", rstd, rows)
	gs := c.d("LayerNormBackward", "gamma", gamma, cols)
	dgs := c.d("LayerNormBackward", "dgamma", dgamma, cols)
	dbs := c.d("LayerNormBackward", "dbeta", dbeta, cols)
	if dx.IsZero() {
		// Parameter gradients only (also the per-bin sums of gram.Pass): the
		// row sums that dx needs are skipped.
		layerNormParamGrads(dgs, dbs, dys, xs, ms, rs, rows, cols)
		return
	}
	dxs := c.d("LayerNormBackward", "dx", dx, rows*cols)
	if min(runtime.GOMAXPROCS(0), rows/max(parGrain/max(cols, 1), 1)) > 1 {
		// On several goroutines: dx row by row, then the parameter
		// gradients column by column, the same sums in the same order as
		// the single pass below, so the same bits.
		parFor(rows, parGrain/max(cols, 1), func(lo, hi int) { layerNormInputGrad(dxs, dys, xs, ms, rs, gs, lo, hi, cols) })
		layerNormParamGrads(dgs, dbs, dys, xs, ms, rs, rows, cols)
		return
	}
	gs, dgs, dbs = gs[:cols], dgs[:cols], dbs[:cols]
	for r := 0; r < rows; r++ {
		xr, dyr, dxr := xs[r*cols:][:cols], dys[r*cols:][:cols], dxs[r*cols:][:cols]
		m, rho := ms[r], rs[r]
		sg, sgx := layerNormRowSums(xr, dyr, gs, m, rho)
		mg, mgx := T(sg/float64(cols)), T(sgx/float64(cols))
		for j, v := range xr {
			xh := (v - m) * rho
			d := dyr[j]
			dgs[j] += d * xh
			dbs[j] += d
			dxr[j] += rho * (d*gs[j] - mg - xh*mgx)
		}
	}
}

// layerNormRowSums returns Σ g and Σ g·x̂ over one row, g = dy ⊙ γ and
// x̂ = (x − m)·rho, each in one running float64 sum in row order (the bits
// package gram's golden values hold).
func layerNormRowSums[T float32 | float64](xr, dyr, gs []T, m, rho T) (sg, sgx float64) {
	dyr, gs = dyr[:len(xr)], gs[:len(xr)]
	for j, v := range xr {
		g := dyr[j] * gs[j]
		sg += float64(g)
		sgx += float64(g * ((v - m) * rho))
	}
	return sg, sgx
}

// layerNormParamGrads accumulates dγ += Σ_r dy ⊙ x̂ and dβ += Σ_r dy, the
// columns split among goroutines, each summed over the rows in order.
func layerNormParamGrads[T float32 | float64](dgs, dbs, dys, xs, ms, rs []T, rows, cols int) {
	parFor(cols, parGrain/max(rows, 1)+1, func(lo, hi int) {
		dgs, dbs := dgs[lo:hi], dbs[lo:hi]
		for r := 0; r < rows; r++ {
			xr, dyr := xs[r*cols+lo:r*cols+hi], dys[r*cols+lo:r*cols+hi]
			m, rho := ms[r], rs[r]
			for j, v := range xr {
				d := dyr[j]
				dgs[j] += d * ((v - m) * rho)
				dbs[j] += d
			}
		}
	})
}

// layerNormInputGrad accumulates LayerNorm's input gradient into rows
// lo..hi−1 of dx (the formula of Backend.LayerNormBackward).
func layerNormInputGrad[T float32 | float64](dxs, dys, xs, ms, rs, gs []T, lo, hi, cols int) {
	gs = gs[:cols]
	for r := lo; r < hi; r++ {
		xr, dyr, dxr := xs[r*cols:][:cols], dys[r*cols:][:cols], dxs[r*cols:][:cols]
		m, rho := ms[r], rs[r]
		sg, sgx := layerNormRowSums(xr, dyr, gs, m, rho)
		mg, mgx := T(sg/float64(cols)), T(sgx/float64(cols))
		for j, v := range xr {
			xh := (v - m) * rho
			dxr[j] += rho * (dyr[j]*gs[j] - mg - xh*mgx)
		}
	}
}

// TimeEmbedding writes the sinusoidal embedding (see Backend), computed in
// float64.
func (c *CPU[T]) TimeEmbedding(dst, t Tensor, rows, dim int, maxPeriod float32) {
	if dim%2 != 0 {
		panic(fmt.Sprintf("nn: TimeEmbedding: dim %d is odd", dim))
	}
	ts := c.d("TimeEmbedding", "t", t, rows)
	ds := c.d("TimeEmbedding", "dst", dst, rows*dim)
	half := dim / 2
	lp := math.Log(float64(maxPeriod))
	freq := make([]float64, half)
	for i := range freq {
		freq[i] = math.Exp(-lp * float64(i) / float64(half))
	}
	parFor(rows, parGrain/(4*dim), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			tv := float64(ts[r])
			row := ds[r*dim : (r+1)*dim]
			for i, f := range freq {
				sin, cos := math.Sincos(tv * f)
				row[i], row[half+i] = T(cos), T(sin)
			}
		}
	})
}

// RowAxpby computes dst[r, :] = a[r]·x[r, :] + b[r]·y[r, :].
func (c *CPU[T]) RowAxpby(dst, a, x, b, y Tensor, rows, cols int) {
	as := c.d("RowAxpby", "a", a, rows)
	bs := c.d("RowAxpby", "b", b, rows)
	xs := c.d("RowAxpby", "x", x, rows*cols)
	ys := c.d("RowAxpby", "y", y, rows*cols)
	ds := c.d("RowAxpby", "dst", dst, rows*cols)
	parFor(rows, parGrain/max(cols, 1), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ar, br := as[r], bs[r]
			for j := r * cols; j < (r+1)*cols; j++ {
				ds[j] = ar*xs[j] + br*ys[j]
			}
		}
	})
}

// WeightedMSE writes per-row mean squared errors (accumulated in float64)
// and, unless dpred is absent, their weighted gradient.
func (c *CPU[T]) WeightedMSE(rowLoss, dpred, pred, target, w Tensor, rows, cols int, scale float32) {
	ps := c.d("WeightedMSE", "pred", pred, rows*cols)
	ts := c.d("WeightedMSE", "target", target, rows*cols)
	ls := c.d("WeightedMSE", "rowLoss", rowLoss, rows)
	var dps, ws []T
	if !dpred.IsZero() {
		dps = c.d("WeightedMSE", "dpred", dpred, rows*cols)
		ws = c.d("WeightedMSE", "w", w, rows)
	}
	for r := 0; r < rows; r++ {
		var s float64
		for j := r * cols; j < (r+1)*cols; j++ {
			d := float64(ps[j]) - float64(ts[j])
			s += d * d
		}
		ls[r] = T(s / float64(cols))
		if dps == nil {
			continue
		}
		k := T(scale) * ws[r] * 2 / T(cols)
		for j := r * cols; j < (r+1)*cols; j++ {
			dps[j] = k * (ps[j] - ts[j])
		}
	}
}

// AdamW takes one AdamW step (see Backend).
func (c *CPU[T]) AdamW(p, g, m, v Tensor, h AdamW) {
	ps := c.Data(p)
	n := len(ps)
	gs, ms, vs := c.d("AdamW", "g", g, n), c.d("AdamW", "m", m, n), c.d("AdamW", "v", v, n)
	lr, b1, b2, eps := T(h.LR), T(h.Beta1), T(h.Beta2), T(h.Eps)
	decay := 1 - T(h.LR)*T(h.WeightDecay)
	step := lr / T(h.BC1)
	sbc2 := T(math.Sqrt(float64(h.BC2)))
	parFor(n, parGrain, func(lo, hi int) {
		if p32, ok := any(ps).([]float32); ok {
			k := [8]float32{h.Beta1, 1 - h.Beta1, h.Beta2, 1 - h.Beta2, float32(decay), float32(step), float32(sbc2), h.Eps}
			lo += adamwBlock(p32[lo:hi], any(gs).([]float32)[lo:hi], any(ms).([]float32)[lo:hi], any(vs).([]float32)[lo:hi], &k)
		}
		for i := lo; i < hi; i++ {
			gi := gs[i]
			mi := b1*ms[i] + (1-b1)*gi
			vi := b2*vs[i] + (1-b2)*gi*gi
			ms[i], vs[i] = mi, vi
			denom := T(math.Sqrt(float64(vi)))/sbc2 + eps
			ps[i] = ps[i]*decay - step*mi/denom
		}
	})
}

// EMA computes ema ← decay·ema + (1 − decay)·p.
func (c *CPU[T]) EMA(ema, p Tensor, decay float32) {
	ps := c.Data(p)
	es := c.d("EMA", "ema", ema, len(ps))
	d := T(decay)
	parFor(len(ps), parGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			es[i] = d*es[i] + (1-d)*ps[i]
		}
	})
}
