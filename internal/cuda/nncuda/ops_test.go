package nncuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/stretchr/testify/require"
)

// Tolerances of the CUDA backend against the CPU backend on the same
// float32 inputs, relative to the largest magnitude of the expected tensor
// (see requireClose).
const (
	// tolExact: copies and fills move bits.
	tolExact = 0
	// tolElem: element-wise float32 arithmetic with at most a few roundings
	// (which CUDA may fuse into an FMA): a few units of 2^-24 of the
	// magnitudes involved, which are at most the largest output here.
	tolElem = 1e-6
	// tolAct: SiLU and tanh-GELU and their derivatives; the CPU backend
	// evaluates them with a vectorised float32 exp (a few ulp), CUDA with
	// expf (2 ulp, CUDA C++ Programming Guide, maths functions), each with a
	// few more operations around it: ≈10 ulp of the largest value.
	tolAct = 2e-6
	// tolSum: float32 sums of at most 64 terms in another order (GEMM,
	// column sums, LayerNorm's row statistics, which the CPU accumulates in
	// float64): the worst case 64·2^-24 ≈ 4e-6 relative to Σ|terms|, which
	// for these N(0, 1) inputs stays within a few times the largest result.
	tolSum = 2e-5
	// tolF64: values computed in float64 on both sides and rounded to
	// float32 once (the timestep embedding, the per-row MSE): the two
	// roundings differ by at most one float32 ulp, 2^-23 relative.
	tolF64 = 1.2e-7
	// tolDot64: float64 dot products and Gram entries of float32 values:
	// products are exact, the float64 sums of ≈10⁴ N(0,1)·N(0,1) terms
	// differ by order only, ≤ 10⁴·2^-53·Σ|terms| ≈ 1e-12·10⁴ (absolute).
	tolDot64 = 1e-8
)

// tensorSpec is one tensor of an operation test: n elements (a view of a
// longer tensor whose tail of poisonTail elements is NaN), drawn by gen.
type tensorSpec struct {
	n   int
	gen func(r *rand.Rand, n int) []float32 // nil: NaN (a poisoned output)
}

const poisonTail = 3

func normal(scale float64) func(r *rand.Rand, n int) []float32 {
	return func(r *rand.Rand, n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(scale * r.NormFloat64())
		}
		return x
	}
}

func positive(r *rand.Rand, n int) []float32 {
	x := normal(1)(r, n)
	for i := range x {
		x[i] = x[i]*x[i] + 0.1
	}
	return x
}

func timesteps(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.IntN(1000))
	}
	if n > 1 {
		x[0], x[1] = 0, 999
	}
	return x
}

// opCase is one operation: it runs on tensors made from the specs on each
// backend, and every tensor (inputs included, with their poisoned tails)
// must come out the same on both, within tol; host is the float64 result
// of Dot and Gram.
type opCase struct {
	name    string
	tensors []tensorSpec
	tol     float64
	run     func(be nn.Backend, x []nn.Tensor) (host []float64)
	hostTol float64
}

// runCase runs c on the CPU backend and on be with the same fresh inputs
// and compares every tensor.
func runCase(t *testing.T, be nn.Backend, c opCase, seed uint64) {
	cpu := nn.NewCPU()
	r := rand.New(rand.NewPCG(seed, 1))
	hosts := make([][]float32, len(c.tensors))
	for i, s := range c.tensors {
		if s.gen == nil {
			hosts[i] = nanSlice(s.n)
		} else {
			hosts[i] = s.gen(r, s.n)
		}
	}
	make := func(b nn.Backend) []nn.Tensor {
		ts := []nn.Tensor{}
		for i, s := range c.tensors {
			ts = append(ts, upload(b, hosts[i], poisonTail).View(0, s.n))
		}
		return ts
	}
	tc, tg := make(cpu), make(be)
	hc, hg := c.run(cpu, tc), c.run(be, tg)
	for i := range c.tensors {
		whole := func(b nn.Backend, x nn.Tensor) []float32 {
			out := nanSlice(c.tensors[i].n + poisonTail)
			full := nn.MakeTensor(x.Storage())
			b.Download(out, full)
			return out
		}
		requireClose(t, fmt.Sprintf("tensor %d", i), whole(cpu, tc[i]), whole(be, tg[i]), c.tol)
	}
	require.Len(t, hg, len(hc))
	for i := range hc {
		require.False(t, math.IsNaN(hg[i]), "host result %d is NaN", i)
		require.InDelta(t, hc[i], hg[i], c.hostTol, "host result %d", i)
	}
}

func in(n int) tensorSpec  { return tensorSpec{n, normal(1)} }
func out(n int) tensorSpec { return tensorSpec{n, nil} }

// opCases lists every Backend method (Upload, Download and Alloc run in
// every case).
func opCases() []opCase {
	const rows, cols = 37, 19
	var cs []opCase
	cs = append(cs,
		opCase{name: "Fill", tensors: []tensorSpec{out(100)}, tol: tolExact,
			run: func(be nn.Backend, x []nn.Tensor) []float64 { be.Fill(x[0], 2.5); return nil }},
		opCase{name: "Copy", tensors: []tensorSpec{in(50), out(60)}, tol: tolExact,
			run: func(be nn.Backend, x []nn.Tensor) []float64 { be.Copy(x[1], x[0]); return nil }},
		opCase{name: "Axpy", tensors: []tensorSpec{in(100), in(100)}, tol: tolElem,
			run: func(be nn.Backend, x []nn.Tensor) []float64 { be.Axpy(x[0], -0.75, x[1]); return nil }},
		opCase{name: "Scale", tensors: []tensorSpec{in(100)}, tol: tolElem,
			run: func(be nn.Backend, x []nn.Tensor) []float64 { be.Scale(x[0], 3.5); return nil }},
		opCase{name: "Dot", tensors: []tensorSpec{in(10007), in(10007)}, tol: tolExact, hostTol: tolDot64,
			run: func(be nn.Backend, x []nn.Tensor) []float64 { return []float64{be.Dot(x[0], x[1])} }},
		opCase{name: "Gram", tensors: []tensorSpec{in(7 * 1001)}, tol: tolExact, hostTol: tolDot64,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				g := make([]float64, 49)
				be.Gram(g, x[0], 7, 1001)
				return g
			}},
		opCase{name: "AddBias", tensors: []tensorSpec{in(rows * cols), in(cols)}, tol: tolElem,
			run: func(be nn.Backend, x []nn.Tensor) []float64 { be.AddBias(x[0], x[1], rows, cols); return nil }},
		opCase{name: "SumRows", tensors: []tensorSpec{in(cols), in(rows * cols)}, tol: tolSum,
			run: func(be nn.Backend, x []nn.Tensor) []float64 { be.SumRows(x[0], x[1], rows, cols); return nil }},
		opCase{name: "TimeEmbedding", tensors: []tensorSpec{out(rows * 16), {rows, timesteps}}, tol: tolF64,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				be.TimeEmbedding(x[0], x[1], rows, 16, 10000)
				return nil
			}},
		opCase{name: "RowAxpby", tensors: []tensorSpec{out(rows * cols), in(rows), in(rows * cols), in(rows), in(rows * cols)}, tol: tolElem,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				be.RowAxpby(x[0], x[1], x[2], x[3], x[4], rows, cols)
				return nil
			}},
		opCase{name: "RowAxpby in place", tensors: []tensorSpec{in(rows), in(rows * cols), in(rows), in(rows * cols)}, tol: tolElem,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				be.RowAxpby(x[3], x[0], x[1], x[2], x[3], rows, cols)
				return nil
			}},
		opCase{name: "WeightedMSE", tensors: []tensorSpec{out(rows), out(rows * cols), in(rows * cols), in(rows * cols), in(rows)}, tol: tolF64,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				be.WeightedMSE(x[0], x[1], x[2], x[3], x[4], rows, cols, 0.25)
				return nil
			}},
		opCase{name: "WeightedMSE without gradient", tensors: []tensorSpec{out(rows), in(rows * cols), in(rows * cols)}, tol: tolF64,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				be.WeightedMSE(x[0], nn.Tensor{}, x[1], x[2], nn.Tensor{}, rows, cols, 0.25)
				return nil
			}},
		opCase{name: "AdamW", tensors: []tensorSpec{in(1000), in(1000), {1000, normal(0.1)}, {1000, positive}}, tol: tolElem,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				b1, b2 := float32(0.9), float32(0.999)
				be.AdamW(x[0], x[1], x[2], x[3], nn.AdamW{LR: 1e-3, Beta1: b1, Beta2: b2, Eps: 1e-8, WeightDecay: 0.1,
					BC1: float32(1 - math.Pow(float64(b1), 3)), BC2: float32(1 - math.Pow(float64(b2), 3))})
				return nil
			}},
		opCase{name: "EMA", tensors: []tensorSpec{in(1000), in(1000)}, tol: tolElem,
			run: func(be nn.Backend, x []nn.Tensor) []float64 { be.EMA(x[0], x[1], 2.0/11); return nil }},
	)
	for _, f := range []nn.Activation{nn.SiLU, nn.GELU} {
		xs := tensorSpec{rows * cols, normal(3)} // reaches the tails of f and f′
		cs = append(cs,
			opCase{name: "Activate " + f.String(), tensors: []tensorSpec{out(rows * cols), xs}, tol: tolAct,
				run: func(be nn.Backend, x []nn.Tensor) []float64 { be.Activate(f, x[0], x[1]); return nil }},
			opCase{name: "Activate in place " + f.String(), tensors: []tensorSpec{xs}, tol: tolAct,
				run: func(be nn.Backend, x []nn.Tensor) []float64 { be.Activate(f, x[0], x[0]); return nil }},
			opCase{name: "ActivateBackward " + f.String(), tensors: []tensorSpec{out(rows * cols), xs, in(rows * cols)}, tol: tolAct,
				run: func(be nn.Backend, x []nn.Tensor) []float64 { be.ActivateBackward(f, x[0], x[1], x[2]); return nil }},
			opCase{name: "ActivateBackward in place " + f.String(), tensors: []tensorSpec{xs, in(rows * cols)}, tol: tolAct,
				run: func(be nn.Backend, x []nn.Tensor) []float64 { be.ActivateBackward(f, x[1], x[0], x[1]); return nil }},
		)
	}
	// LayerNorm: forward, then the backward pass from the saved statistics,
	// accumulating into random dx, dgamma, dbeta (and without dx).
	cs = append(cs,
		opCase{name: "LayerNorm", tensors: []tensorSpec{out(rows * cols), out(rows), out(rows), {rows * cols, normal(2)}, in(cols), in(cols)}, tol: tolSum,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				be.LayerNorm(x[0], x[1], x[2], x[3], x[4], x[5], rows, cols, 1e-5)
				return nil
			}},
		opCase{name: "LayerNormBackward", tensors: []tensorSpec{in(rows * cols), in(cols), in(cols), in(rows * cols), {rows * cols, normal(2)}, in(cols), out(rows), out(rows), out(rows * cols)}, tol: tolSum,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				be.LayerNorm(x[8], x[6], x[7], x[4], x[5], x[5], rows, cols, 1e-5)
				be.LayerNormBackward(x[0], x[1], x[2], x[3], x[4], x[6], x[7], x[5], rows, cols)
				return nil
			}},
		opCase{name: "LayerNormBackward without dx", tensors: []tensorSpec{in(cols), in(cols), in(rows * cols), {rows * cols, normal(2)}, in(cols), out(rows), out(rows), out(rows * cols)}, tol: tolSum,
			run: func(be nn.Backend, x []nn.Tensor) []float64 {
				be.LayerNorm(x[7], x[5], x[6], x[3], x[4], x[4], rows, cols, 1e-5)
				be.LayerNormBackward(nn.Tensor{}, x[0], x[1], x[2], x[3], x[5], x[6], x[4], rows, cols)
				return nil
			}},
	)
	// Gemm: every transposition, β = 0 on a poisoned C and β ≠ 0, row
	// strides wider than the matrices (the padding must stay as it was), and
	// an empty inner dimension.
	for _, sz := range [][3]int{{13, 11, 17}, {5, 6, 0}, {1, 1, 64}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, 0.5} {
					m, n, k := sz[0], sz[1], sz[2]
					ar, ac, br, bc := m, k, k, n
					if ta {
						ar, ac = k, m
					}
					if tb {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+2, bc+1, n+3
					c := out(m * ldc)
					if beta != 0 {
						c = in(m * ldc)
					}
					cs = append(cs, opCase{
						name:    fmt.Sprintf("Gemm %dx%dx%d tA=%v tB=%v beta=%g", m, n, k, ta, tb, beta),
						tensors: []tensorSpec{in(max(ar, 1) * lda), in(max(br, 1) * ldb), c}, tol: tolSum,
						run: func(be nn.Backend, x []nn.Tensor) []float64 {
							be.Gemm(ta, tb, m, n, k, 1.5, x[0], lda, x[1], ldb, beta, x[2], ldc)
							return nil
						}})
				}
			}
		}
	}
	return append(cs, seqOpCases()...)
}

// TestOps runs every Backend method on the CUDA backend and on the CPU
// backend with the same fresh random inputs, outputs poisoned with NaN, and
// compares every tensor afterwards, poisoned margins included.
func TestOps(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		for i, c := range opCases() {
			t.Run(c.name, func(t *testing.T) { runCase(t, be, c, uint64(100+i)) })
		}
	})
}

// TestOpsDeterministic runs every operation twice on the device: the same
// inputs give the same bits.
func TestOpsDeterministic(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		for i, c := range opCases() {
			r1 := runTwice(be, c, uint64(200+i))
			r2 := runTwice(be, c, uint64(200+i))
			require.Equal(t, r1, r2, c.name)
		}
	})
}

// runTwice runs c once on be and returns the bits of every tensor and host
// result.
func runTwice(be nn.Backend, c opCase, seed uint64) []uint64 {
	r := rand.New(rand.NewPCG(seed, 1))
	var ts []nn.Tensor
	for _, s := range c.tensors {
		x := nanSlice(s.n)
		if s.gen != nil {
			x = s.gen(r, s.n)
		}
		ts = append(ts, upload(be, x, 0))
	}
	var bits []uint64
	for _, h := range c.run(be, ts) {
		bits = append(bits, math.Float64bits(h))
	}
	for _, x := range ts {
		for _, v := range download(be, x) {
			bits = append(bits, uint64(math.Float32bits(v)))
		}
		be.Free(x)
	}
	return bits
}
