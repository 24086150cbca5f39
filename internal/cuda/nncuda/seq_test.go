package nncuda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/stretchr/testify/require"
)

// tolSoftmax: softmax outputs (≤ 1) from float32 exponentials, the CPU's
// vectorised exp against CUDA's expf (a few ulp each), normalised by
// float64 sums rounded once: ≈10 ulp of the largest output, as tolAct.
const tolSoftmax = tolAct

// seqOpCases are the opCases of the sequence operations (the DiT's): the
// batched GEMM on strided views (attention's per-example products inside
// a wider QKV tensor, gaps between the C_i that must stay as they were, a
// shared B), the softmax on odd, long and overflowing rows, in place and
// not, adaLN modulation with its factors as chunks of one wider
// modulation tensor (the other chunks must stay untouched) or dense,
// without shift, with the absent gradients and dx = dy, and patch tokens
// both ways.
func seqOpCases() []opCase {
	var cs []opCase
	cs = append(cs, gemmBatchedCases()...)
	cs = append(cs, softmaxCases()...)
	cs = append(cs, modulateCases()...)
	for _, sh := range [][4]int{{2, 3, 8, 2}, {3, 4, 4, 4}, {1, 1, 6, 3}} {
		n, ch, side, patch := sh[0], sh[1], sh[2], sh[3]
		size := n * ch * side * side
		for _, inverse := range []bool{false, true} {
			cs = append(cs, opCase{name: fmt.Sprintf("Patchify %d×(%d,%d,%d)/%d inverse=%v", n, ch, side, side, patch, inverse),
				tensors: []tensorSpec{out(size), in(size)}, tol: tolExact,
				run: func(be nn.Backend, x []nn.Tensor) []float64 {
					be.Patchify(x[0], x[1], n, ch, side, patch, inverse)
					return nil
				}})
		}
	}
	return cs
}

func gemmBatchedCases() []opCase {
	var cs []opCase
	for _, sz := range [][4]int{{7, 5, 3, 3}, {4, 6, 0, 2}, {1, 1, 16, 1}} {
		m, n, k, batch := sz[0], sz[1], sz[2], sz[3]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, 0.5} {
					ar, ac, br, bc := m, k, k, n
					if ta {
						ar, ac = k, m
					}
					if tb {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+2, bc+1, n+3
					la, lb, lc := gemmLen(ar, ac, lda), gemmLen(br, bc, ldb), gemmLen(m, n, ldc)
					sa, sb, sc := la+1, lb+3, lc+2
					if ta && tb {
						sb = 0 // one B for every product
					}
					c := out(batchLen(batch, sc, lc))
					if beta != 0 {
						c = in(batchLen(batch, sc, lc))
					}
					cs = append(cs, opCase{
						name:    fmt.Sprintf("GemmBatched %dx%dx%d×%d tA=%v tB=%v beta=%g", m, n, k, batch, ta, tb, beta),
						tensors: []tensorSpec{in(max(batchLen(batch, sa, la), 1)), in(max(batchLen(batch, sb, lb), 1)), c},
						tol:     tolSum,
						run: func(be nn.Backend, x []nn.Tensor) []float64 {
							be.GemmBatched(ta, tb, m, n, k, 1.5, x[0], lda, sa, x[1], ldb, sb, beta, x[2], ldc, sc, batch)
							return nil
						}})
				}
			}
		}
	}
	// Attention scores S_b = Q_b·K_bᵀ of one head inside the (batch·T, 3·H·D)
	// QKV rows of a transformer block, then the head's output O_b = P_b·V_b
	// into its columns of a (batch·T, H·D) tensor.
	const nb, T, H, D, head = 3, 6, 2, 4, 1
	const row = 3 * H * D
	cs = append(cs, opCase{name: "GemmBatched attention head",
		tensors: []tensorSpec{in(nb * T * row), out(nb * T * T), {nb * T * T, positive}, out(nb * T * H * D)}, tol: tolSum,
		run: func(be nn.Backend, x []nn.Tensor) []float64 {
			q, k, v := x[0].View(head*D, nb*T*row-head*D), x[0].View(H*D+head*D, nb*T*row-H*D-head*D), x[0].View(2*H*D+head*D, nb*T*row-2*H*D-head*D)
			be.GemmBatched(false, true, T, T, D, 0.5, q, row, T*row, k, row, T*row, 0, x[1], T, T*T, nb)
			be.GemmBatched(false, false, T, D, T, 1, x[2], T, T*T, v, row, T*row, 0, x[3].View(head*D, nb*T*H*D-head*D), H*D, T*H*D, nb)
			return nil
		}})
	return cs
}

func softmaxCases() []opCase {
	const rows, cols = 37, 19
	overflowing := func(r *rand.Rand, n int) []float32 {
		x := normal(8)(r, n)
		for i := 0; i < n; i += 2 * cols {
			x[i] = 3e4 // exp(scale·x) overflows float32 without the max trick
		}
		return x
	}
	var cs []opCase
	for _, sh := range []struct {
		name       string
		rows, cols int
		gen        func(r *rand.Rand, n int) []float32
	}{{"", rows, cols, normal(3)}, {"long rows", 3, 5000, normal(3)}, {"one column", 5, 1, normal(3)}, {"overflowing", rows, cols, overflowing}} {
		r, c, n := sh.rows, sh.cols, sh.rows*sh.cols
		cs = append(cs,
			opCase{name: fmt.Sprintf("Softmax %dx%d %s", r, c, sh.name), tensors: []tensorSpec{out(n), {n, sh.gen}}, tol: tolSoftmax,
				run: func(be nn.Backend, x []nn.Tensor) []float64 { be.Softmax(x[0], x[1], r, c, 0.3); return nil }},
			opCase{name: fmt.Sprintf("Softmax in place %dx%d %s", r, c, sh.name), tensors: []tensorSpec{{n, sh.gen}}, tol: tolSoftmax,
				run: func(be nn.Backend, x []nn.Tensor) []float64 { be.Softmax(x[0], x[0], r, c, 0.3); return nil }},
			// The backward pass from the forward's output, as attention uses it.
			opCase{name: fmt.Sprintf("SoftmaxBackward %dx%d %s", r, c, sh.name), tensors: []tensorSpec{out(n), out(n), {n, sh.gen}, in(n)}, tol: tolSoftmax,
				run: func(be nn.Backend, x []nn.Tensor) []float64 {
					be.Softmax(x[1], x[2], r, c, 0.3)
					be.SoftmaxBackward(x[0], x[1], x[3], r, c, 0.3)
					return nil
				}},
			opCase{name: fmt.Sprintf("SoftmaxBackward dx = dy %dx%d %s", r, c, sh.name), tensors: []tensorSpec{out(n), {n, sh.gen}, in(n)}, tol: tolSoftmax,
				run: func(be nn.Backend, x []nn.Tensor) []float64 {
					be.Softmax(x[0], x[1], r, c, 0.3)
					be.SoftmaxBackward(x[2], x[0], x[2], r, c, 0.3)
					return nil
				}},
		)
	}
	return cs
}

func modulateCases() []opCase {
	var cs []opCase
	for _, sh := range [][3]int{{3, 5, 7}, {2, 70, 40}, {1, 1, 1}} {
		G, T, C := sh[0], sh[1], sh[2]
		ld := 6*C + 1 // adaLN's six chunks per example, and one more column
		n, m, dense := G*T*C, factorLen(G, C, ld), G*C
		mod := in(G * ld)
		chunk := func(t nn.Tensor, i int) nn.Tensor { return t.View(i*C, m) }
		name := func(s string) string { return fmt.Sprintf("%s %d×%d×%d", s, G, T, C) }
		cs = append(cs,
			opCase{name: name("Modulate shift and scale chunks"), tensors: []tensorSpec{out(n), in(n), mod}, tol: tolElem,
				run: func(be nn.Backend, x []nn.Tensor) []float64 {
					be.Modulate(x[0], x[1], chunk(x[2], 1), chunk(x[2], 0), G, T, C, ld, 1)
					return nil
				}},
			opCase{name: name("Modulate gate chunk in place"), tensors: []tensorSpec{in(n), mod}, tol: tolElem,
				run: func(be nn.Backend, x []nn.Tensor) []float64 {
					be.Modulate(x[0], x[0], chunk(x[1], 2), nn.Tensor{}, G, T, C, ld, 0)
					return nil
				}},
			opCase{name: name("Modulate dense"), tensors: []tensorSpec{out(n), in(n), in(dense), in(dense)}, tol: tolElem,
				run: func(be nn.Backend, x []nn.Tensor) []float64 {
					be.Modulate(x[0], x[1], x[2], x[3], G, T, C, C, 1)
					return nil
				}},
			// ds and dt into chunks of a poisoned gradient tensor: the other
			// chunks stay NaN on both backends.
			opCase{name: name("ModulateBackward chunks"), tensors: []tensorSpec{out(n), out(G * ld), in(n), in(n), mod}, tol: tolSum,
				run: func(be nn.Backend, x []nn.Tensor) []float64 {
					be.ModulateBackward(x[0], chunk(x[1], 1), chunk(x[1], 0), x[2], x[3], chunk(x[4], 1), G, T, C, ld, 1)
					return nil
				}},
			opCase{name: name("ModulateBackward gate, dx = dy, no dt"), tensors: []tensorSpec{out(G * ld), in(n), in(n), mod}, tol: tolSum,
				run: func(be nn.Backend, x []nn.Tensor) []float64 {
					be.ModulateBackward(x[1], chunk(x[0], 2), nn.Tensor{}, x[1], x[2], chunk(x[3], 2), G, T, C, ld, 0)
					return nil
				}},
			// ds and dt are overwritten: random contents before.
			opCase{name: name("ModulateBackward dense, no dx"), tensors: []tensorSpec{in(dense), in(dense), in(n), in(n), in(dense)}, tol: tolSum,
				run: func(be nn.Backend, x []nn.Tensor) []float64 {
					be.ModulateBackward(nn.Tensor{}, x[0], x[1], x[2], x[3], x[4], G, T, C, C, 1)
					return nil
				}},
		)
	}
	return cs
}

// TestSeqArgumentErrors checks that the sequence operations refuse what the
// CPU backend refuses, with a panic at the call.
func TestSeqArgumentErrors(t *testing.T) {
	forDevices(t, func(t *testing.T, be *Backend) {
		for _, b := range []nn.Backend{nn.NewCPU(), be} {
			x := b.Alloc(64)
			for name, f := range map[string]func(){
				"GemmBatched C_i overlap":     func() { b.GemmBatched(false, false, 2, 2, 2, 1, x, 2, 4, x, 2, 4, 0, x, 2, 2, 3) },
				"GemmBatched negative stride": func() { b.GemmBatched(false, false, 2, 2, 2, 1, x, 2, -4, x, 2, 4, 0, x, 2, 4, 3) },
				"GemmBatched A too short":     func() { b.GemmBatched(false, false, 2, 2, 2, 1, x, 2, 40, x, 2, 4, 0, x, 2, 4, 3) },
				"Softmax x too short":         func() { b.Softmax(x, x.View(0, 10), 3, 4, 1) },
				"Modulate ld below cols":      func() { b.Modulate(x, x, x, nn.Tensor{}, 2, 2, 3, 2, 1) },
				"Modulate s absent":           func() { b.Modulate(x, x, nn.Tensor{}, nn.Tensor{}, 2, 2, 3, 3, 1) },
				"ModulateBackward ds absent":  func() { b.ModulateBackward(x, nn.Tensor{}, x, x, x, x, 2, 2, 3, 3, 1) },
				"Patchify side":               func() { b.Patchify(x, x.View(0, 50), 1, 2, 5, 2, false) },
			} {
				require.Panics(t, f, "%s on %s", name, b.Name())
			}
		}
	})
}
