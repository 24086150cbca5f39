package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/paretodiff/paretodiff/internal/cuda"
	"github.com/stretchr/testify/require"
)

// Tolerances of GPU float32 results against float64 references computed
// from the same float32 inputs.
const (
	// tolArith: element-wise float32 arithmetic (a few roundings, possibly
	// fused into an FMA), relative to the magnitudes of the terms: ≈16 units
	// of 2^-24.
	tolArith = 1e-6
	// tolMathRel, tolMathAbs: CUDA's expf, tanhf, erff are within 2 ulp
	// (CUDA C++ Programming Guide, "Mathematical Functions"); with the
	// arithmetic around them, 1e-5 relative plus 1e-6 absolute near the
	// zeros of f and f'.
	tolMathRel = 1e-5
	tolMathAbs = 1e-6
	// tolSum: a float32 sum of n terms in any order is within n·2^-24·Σ|terms|
	// (the worst-case bound); 1e-4 relative to Σ|terms| covers n ≤ 1600, and
	// random rounding errors grow like √n, far below it for longer sums
	// (the 20000-row shape).
	tolSum = 1e-4
	// tolEmbedArg: the float32 argument s·t·f_j of the timestep embedding
	// carries a relative error of a few ulp (logf, expf, two products),
	// ≈1e-6·|argument|, which is the absolute error of its cosine and sine.
	tolEmbedArg = 1e-6
	// tolSumSq: float32 squares are exact in float64; only the float64
	// summation order differs.
	tolSumSq = 1e-12
)

// elemSizes cover one element, a partial block, and more elements than one
// grid-stride pass of the capped grid (BlocksPerSM·SMs·256 ≤ 1M on GPUs
// up to 256 SMs).
var elemSizes = []int{1, 1000, 1<<20 + 3}

func TestGPUElementwise(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 10))
	for _, n := range elemSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			a, b := randF32(r, n, 1), randF32(r, n, 1)
			da, db := upload(t, d, a), upload(t, d, b)

			out := poisoned[float32](t, d, n)
			require.NoError(t, d.Fill(out, 2.5))
			for i, v := range download(t, out) {
				require.Equal(t, float32(2.5), v, "fill[%d]", i)
			}

			check := func(what string, got *F32, f func(i int) (want, scale float64)) {
				t.Helper()
				want, sc := make([]float64, n), make([]float64, n)
				for i := range want {
					want[i], sc[i] = f(i)
				}
				requireNear(t, what, want, download(t, got), scaled(sc, tolArith))
			}
			out = poisoned[float32](t, d, n)
			require.NoError(t, d.Add(out, da, db))
			check("add", out, func(i int) (float64, float64) {
				return float64(a[i]) + float64(b[i]), math.Abs(float64(a[i])) + math.Abs(float64(b[i]))
			})
			out = poisoned[float32](t, d, n)
			require.NoError(t, d.Mul(out, da, db))
			check("mul", out, func(i int) (float64, float64) {
				p := float64(a[i]) * float64(b[i])
				return p, math.Abs(p)
			})

			y := upload(t, d, a)
			require.NoError(t, d.Axpy(y, -0.75, db))
			check("axpy", y, func(i int) (float64, float64) {
				return float64(a[i]) - 0.75*float64(b[i]), math.Abs(float64(a[i])) + 0.75*math.Abs(float64(b[i]))
			})
			require.NoError(t, d.Scale(y, 3))
			check("scale", y, func(i int) (float64, float64) {
				v := 3 * (float64(a[i]) - 0.75*float64(b[i]))
				return v, 3 * (math.Abs(float64(a[i])) + 0.75*math.Abs(float64(b[i])))
			})

			// Outputs may alias inputs.
			s := upload(t, d, a)
			require.NoError(t, d.Add(s, s, db))
			check("add in place", s, func(i int) (float64, float64) {
				return float64(a[i]) + float64(b[i]), math.Abs(float64(a[i])) + math.Abs(float64(b[i]))
			})

			o64 := poisoned[float64](t, d, n)
			require.NoError(t, d.ToFloat64(o64, da))
			require.Equal(t, f64s(a), download(t, o64), "float32 → float64 is exact")
		})
	}
}

// TestGPUGridStride launches kernels with grids far smaller than their
// data: grid-stride loops must still cover every element.
func TestGPUGridStride(t *testing.T) {
	d := kernelDevice(t)
	const n = 10007
	x := poisoned[float32](t, d, n)
	require.NoError(t, d.Launch("fill_f32", Dim3{1, 1, 1}, Dim3{32, 1, 1}, 0, NewKernelArgs(3).F32Ptr(x).F32(1).I64(n)))
	y := poisoned[float32](t, d, n)
	require.NoError(t, d.Launch("fill_f32", Dim3{3, 1, 1}, Dim3{64, 1, 1}, 0, NewKernelArgs(3).F32Ptr(y).F32(2).I64(n)))
	require.NoError(t, d.Launch("axpy_f32", Dim3{2, 1, 1}, Dim3{128, 1, 1}, 0, NewKernelArgs(4).F32Ptr(y).F32(0.5).F32Ptr(x).I64(n)))
	for i, v := range download(t, y) {
		require.Equal(t, float32(2.5), v, "element %d", i)
	}

	// A column reduction with one block loops over the column groups.
	const rows, cols = 19, 100
	r := rand.New(rand.NewPCG(6, 11))
	dy := randF32(r, rows*cols, 1)
	db := upload(t, d, make([]float32, cols))
	require.NoError(t, d.Launch("bias_grad_f32", Dim3{1, 1, 1}, BlockCols, 0,
		NewKernelArgs(4).F32Ptr(db).F32Ptr(upload(t, d, dy)).Int(rows).Int(cols)))
	want, sc := colSums(dy, rows, cols)
	requireNear(t, "bias_grad one block", want, download(t, db), scaled(sc, tolSum))

	// One warp per row, a single block of one warp, many rows.
	const lrows, lcols = 50, 40
	xs := randF32(r, lrows*lcols, 1)
	loss := poisoned[float32](t, d, lrows)
	w := upload(t, d, onesF32(lrows))
	require.NoError(t, d.Launch("mse_rows_f32", Dim3{1, 1, 1}, Dim3{32, 1, 1}, 0,
		NewKernelArgs(6).F32Ptr(loss).F32Ptr(upload(t, d, xs)).F32Ptr(upload(t, d, make([]float32, lrows*lcols))).F32Ptr(w).Int(lrows).Int(lcols)))
	wantL := refMSERows(xs, make([]float32, lrows*lcols), onesF32(lrows), lrows, lcols)
	requireNear(t, "mse_rows one warp", wantL, download(t, loss), mixed(wantL, 0, tolSum))
}

func onesF32(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
	}
	return x
}

// colSums returns Σ_r x[r, c] and Σ_r |x[r, c]|.
func colSums(x []float32, rows, cols int) (sum, abs []float64) {
	sum, abs = make([]float64, cols), make([]float64, cols)
	for r := range rows {
		for c := range cols {
			sum[c] += float64(x[r*cols+c])
			abs[c] += math.Abs(float64(x[r*cols+c]))
		}
	}
	return
}

// matShapes are (rows, cols) pairs with rows and columns that are not
// multiples of the block shapes, degenerate ones, and one with more rows
// than one pass of the capped grid of warps.
var matShapes = [][2]int{{1, 1}, {1, 37}, {9, 1}, {37, 31}, {64, 33}, {8, 515}, {1000, 100}, {20000, 3}}

func TestGPUBias(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 12))
	for _, sh := range matShapes {
		rows, cols := sh[0], sh[1]
		t.Run(fmt.Sprintf("%dx%d", rows, cols), func(t *testing.T) {
			y, bias := randF32(r, rows*cols, 1), randF32(r, cols, 1)
			dy := upload(t, d, y)
			require.NoError(t, d.AddBias(dy, upload(t, d, bias), rows, cols))
			want, sc := make([]float64, rows*cols), make([]float64, rows*cols)
			for i := range want {
				want[i] = float64(y[i]) + float64(bias[i%cols])
				sc[i] = math.Abs(float64(y[i])) + math.Abs(float64(bias[i%cols]))
			}
			requireNear(t, "bias_add", want, download(t, dy), scaled(sc, tolArith))

			// BiasGrad adds into its output.
			init := randF32(r, cols, 1)
			db := upload(t, d, init)
			require.NoError(t, d.BiasGrad(db, upload(t, d, y), rows, cols))
			s, a := colSums(y, rows, cols)
			for c := range cols {
				s[c] += float64(init[c])
				a[c] += math.Abs(float64(init[c]))
			}
			got := download(t, db)
			requireNear(t, "bias_grad", s, got, scaled(a, tolSum))

			// The same sums again, bit for bit (fixed summation order).
			db2 := upload(t, d, init)
			require.NoError(t, d.BiasGrad(db2, upload(t, d, y), rows, cols))
			require.Equal(t, got, download(t, db2), "bias_grad is deterministic")
		})
	}
}

// activationInputs are values across the interesting range, extremes
// included, then normal samples.
func activationInputs(r *rand.Rand, n int) []float32 {
	x := []float32{0, -0.5, 0.5, -3, 3, -10, 10, -30, 30, -100, 100, 1e-6, -1e-6}
	for len(x) < n {
		x = append(x, float32(3*r.NormFloat64()))
	}
	return x[:n]
}

func TestGPUActivations(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 13))
	type act struct {
		name    string
		fwd     func(out, x *F32) error
		bwd     func(dx, dy, x *F32, acc bool) error
		f, grad func(float64) float64
	}
	acts := []act{
		{"silu", d.SiLU, d.SiLUBackward, refSiLU, refSiLUGrad},
		{"gelu_erf", func(o, x *F32) error { return d.GELU(o, x, GELUErf) },
			func(dx, dy, x *F32, acc bool) error { return d.GELUBackward(dx, dy, x, GELUErf, acc) }, refGELUErf, refGELUErfGrad},
		{"gelu_tanh", func(o, x *F32) error { return d.GELU(o, x, GELUTanh) },
			func(dx, dy, x *F32, acc bool) error { return d.GELUBackward(dx, dy, x, GELUTanh, acc) }, refGELUTanh, refGELUTanhGrad},
	}
	for _, a := range acts {
		for _, n := range elemSizes {
			t.Run(fmt.Sprintf("%s/%d", a.name, n), func(t *testing.T) {
				x, dy, init := activationInputs(r, n), randF32(r, n, 1), randF32(r, n, 1)
				dx := upload(t, d, x)
				ddy := upload(t, d, dy)

				out := poisoned[float32](t, d, n)
				require.NoError(t, a.fwd(out, dx))
				want := make([]float64, n)
				for i := range want {
					want[i] = a.f(float64(x[i]))
				}
				requireNear(t, a.name, want, download(t, out), mixed(want, tolMathAbs, tolMathRel))

				grad := poisoned[float32](t, d, n)
				require.NoError(t, a.bwd(grad, ddy, dx, false))
				gw := make([]float64, n)
				for i := range gw {
					gw[i] = float64(dy[i]) * a.grad(float64(x[i]))
				}
				requireNear(t, a.name+" backward", gw, download(t, grad), mixed(gw, tolMathAbs, tolMathRel))

				acc := upload(t, d, init)
				require.NoError(t, a.bwd(acc, ddy, dx, true))
				aw, sc := make([]float64, n), make([]float64, n)
				for i := range aw {
					aw[i] = float64(init[i]) + gw[i]
					sc[i] = math.Abs(float64(init[i])) + math.Abs(gw[i])
				}
				requireNear(t, a.name+" backward accumulated", aw, download(t, acc),
					func(i int) float64 { return tolMathAbs + tolMathRel*sc[i] })
			})
		}
	}
}

func TestGPULayerNorm(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 14))
	const eps = 1e-5
	for _, sh := range matShapes {
		rows, cols := sh[0], sh[1]
		t.Run(fmt.Sprintf("%dx%d", rows, cols), func(t *testing.T) {
			x, gamma, beta := randF32(r, rows*cols, 2), randF32(r, cols, 1), randF32(r, cols, 1)
			dx, dg, db := upload(t, d, x), upload(t, d, gamma), upload(t, d, beta)
			out, mean, rstd := poisoned[float32](t, d, rows*cols), poisoned[float32](t, d, rows), poisoned[float32](t, d, rows)
			require.NoError(t, d.LayerNorm(out, mean, rstd, dx, dg, db, rows, cols, eps))

			wo, wm, wr := make([]float64, rows*cols), make([]float64, rows), make([]float64, rows)
			refLayerNorm(wo, wm, wr, x, gamma, beta, rows, cols, eps)
			// Error scales. The mean is a sum of cols terms: error
			// δμ ≤ tolSum·mean|x|. The two-pass variance mean((x − μ̂)²)
			// is off by δμ² (the cross term vanishes) plus its own sum's
			// rounding, so rstd is within rstd·(tolSum + (δμ·rstd)²). The
			// output (x − μ̂)·rstd·γ + β adds both, scaled by rstd·|γ|.
			dmu, drs := make([]float64, rows), make([]float64, rows)
			for i := range rows {
				for c := range cols {
					dmu[i] += tolSum * math.Abs(float64(x[i*cols+c])) / float64(cols)
				}
				drs[i] = tolSum + (dmu[i]*wr[i])*(dmu[i]*wr[i]) // relative
			}
			requireNear(t, "mean", wm, download(t, mean), func(i int) float64 { return dmu[i] + 1e-30 })
			requireNear(t, "rstd", wr, download(t, rstd), func(i int) float64 { return wr[i] * drs[i] })
			requireNear(t, "out", wo, download(t, out), func(i int) float64 {
				row, c := i/cols, i%cols
				dev := math.Abs(float64(x[i]) - wm[row])
				return math.Abs(float64(gamma[c]))*wr[row]*(dmu[row]+dev*drs[row]) +
					tolArith*(math.Abs(wo[i])+math.Abs(float64(beta[c]))) + 1e-30
			})

			// Backward from the saved statistics (the same float32 values
			// on both sides).
			m32, r32 := download(t, mean), download(t, rstd)
			gy := randF32(r, rows*cols, 1)
			wdx, wdg, wdb := refLayerNormBackward(gy, x, gamma, m32, r32, rows, cols)
			dxScale, dgScale, dbScale := layerNormBackwardScales(gy, x, gamma, m32, r32, rows, cols)

			dgy := upload(t, d, gy)
			gx := poisoned[float32](t, d, rows*cols)
			g0, b0 := randF32(r, cols, 1), randF32(r, cols, 1)
			ggam, gbet := upload(t, d, g0), upload(t, d, b0)
			require.NoError(t, d.LayerNormBackward(gx, ggam, gbet, dgy, dx, upload(t, d, m32), upload(t, d, r32), dg, rows, cols, false))
			requireNear(t, "dx", wdx, download(t, gx), scaled(dxScale, tolSum))
			for c := range cols {
				wdg[c] += float64(g0[c])
				wdb[c] += float64(b0[c])
				dgScale[c] += math.Abs(float64(g0[c]))
				dbScale[c] += math.Abs(float64(b0[c]))
			}
			requireNear(t, "dgamma", wdg, download(t, ggam), scaled(dgScale, tolSum))
			requireNear(t, "dbeta", wdb, download(t, gbet), scaled(dbScale, tolSum))

			// accumulate: dx is added into.
			init := randF32(r, rows*cols, 1)
			gxa := upload(t, d, init)
			require.NoError(t, d.LayerNormBackward(gxa, ggam, gbet, dgy, dx, upload(t, d, m32), upload(t, d, r32), dg, rows, cols, true))
			for i := range wdx {
				wdx[i] += float64(init[i])
				dxScale[i] += math.Abs(float64(init[i]))
			}
			requireNear(t, "dx accumulated", wdx, download(t, gxa), scaled(dxScale, tolSum))
		})
	}
}

// layerNormBackwardScales returns the magnitudes of the terms behind each
// gradient: for dx, rstd·(|g| + mean|g| + |x̂|·mean|g·x̂|); for dgamma and
// dbeta, Σ_r |dy·x̂| and Σ_r |dy|.
func layerNormBackwardScales(dy, x, gamma, mean, rstd []float32, rows, cols int) (dx, dgamma, dbeta []float64) {
	dx, dgamma, dbeta = make([]float64, rows*cols), make([]float64, cols), make([]float64, cols)
	for r := range rows {
		mu, rs := float64(mean[r]), float64(rstd[r])
		var ag, agx float64
		for c := range cols {
			k := r*cols + c
			xh := (float64(x[k]) - mu) * rs
			g := math.Abs(float64(dy[k]) * float64(gamma[c]))
			ag += g / float64(cols)
			agx += g * math.Abs(xh) / float64(cols)
			dgamma[c] += math.Abs(float64(dy[k]) * xh)
			dbeta[c] += math.Abs(float64(dy[k]))
		}
		for c := range cols {
			k := r*cols + c
			xh := (float64(x[k]) - mu) * rs
			dx[k] = rs*(math.Abs(float64(dy[k])*float64(gamma[c]))+ag+math.Abs(xh)*agx) + 1e-30
		}
	}
	return
}

func TestGPUTimestepEmbedding(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 15))
	for _, dim := range []int{1, 2, 7, 128} {
		for _, tScale := range []float32{1, 0.5} {
			t.Run(fmt.Sprintf("dim%d/scale%g", dim, tScale), func(t *testing.T) {
				const rows = 33
				ts := make([]int32, rows)
				for i := range ts {
					ts[i] = int32(r.IntN(1000))
				}
				ts[0], ts[1] = 0, 999
				out := poisoned[float32](t, d, rows*dim)
				require.NoError(t, d.TimestepEmbedding(out, upload(t, d, ts), dim, 10000, tScale))
				want := refTimestepEmbedding(ts, dim, 10000, float64(tScale))
				requireNear(t, "embedding", want, download(t, out), func(i int) float64 {
					return tolMathAbs + tolEmbedArg*float64(tScale)*float64(ts[i/dim])
				})
			})
		}
	}
}

func TestGPUNoiseAndLoss(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 16))
	for _, sh := range matShapes {
		rows, cols := sh[0], sh[1]
		t.Run(fmt.Sprintf("%dx%d", rows, cols), func(t *testing.T) {
			x0, eps := randF32(r, rows*cols, 1), randF32(r, rows*cols, 1)
			alpha, sigma := make([]float32, rows), make([]float32, rows)
			for i := range alpha {
				a := r.Float64()
				alpha[i], sigma[i] = float32(a), float32(math.Sqrt(1-a*a))
			}
			dx0, deps := upload(t, d, x0), upload(t, d, eps)
			xt := poisoned[float32](t, d, rows*cols)
			require.NoError(t, d.Noise(xt, dx0, deps, upload(t, d, alpha), upload(t, d, sigma), rows, cols))
			want, sc := make([]float64, rows*cols), make([]float64, rows*cols)
			for i := range want {
				a, s := float64(alpha[i/cols]), float64(sigma[i/cols])
				want[i] = a*float64(x0[i]) + s*float64(eps[i])
				sc[i] = math.Abs(a*float64(x0[i])) + math.Abs(s*float64(eps[i])) + 1e-30
			}
			requireNear(t, "x_t", want, download(t, xt), scaled(sc, tolArith))

			pred, w := randF32(r, rows*cols, 1), randF32(r, rows, 1)
			dpred, dw := upload(t, d, pred), upload(t, d, w)
			loss := poisoned[float32](t, d, rows)
			require.NoError(t, d.MSERows(loss, dpred, deps, dw, rows, cols))
			wl := refMSERows(pred, eps, w, rows, cols)
			requireNear(t, "mse rows", wl, download(t, loss), mixed(wl, 1e-30, tolSum))

			grad := poisoned[float32](t, d, rows*cols)
			scale := float32(1) / float32(rows)
			require.NoError(t, d.MSEGrad(grad, dpred, deps, dw, rows, cols, scale))
			wg := refMSEGrad(pred, eps, w, rows, cols, float64(scale))
			requireNear(t, "mse grad", wg, download(t, grad), mixed(wg, 1e-30, tolArith))
		})
	}
}

func TestGPUAdamWAndEMA(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 17))
	const n = 100003
	for _, h := range []AdamW{
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 1},
		{LR: 1e-4, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0, Step: 10, ClipScale: 0.5},
	} {
		t.Run(fmt.Sprintf("step%d", h.Step), func(t *testing.T) {
			p, g, m := randF32(r, n, 1), randF32(r, n, 1), randF32(r, n, 0.1)
			v := randF32(r, n, 0.1)
			for i := range v {
				v[i] *= v[i]
			}
			if h.Step == 1 {
				m, v = make([]float32, n), make([]float32, n)
			}
			dp, dm, dv := upload(t, d, p), upload(t, d, m), upload(t, d, v)
			require.NoError(t, d.AdamWStep(dp, upload(t, d, g), dm, dv, h))

			wp, wm, wv := f64s(p), f64s(m), f64s(v)
			refAdamW(wp, f64s(g), wm, wv, h)
			gs := h.ClipScale
			if gs == 0 {
				gs = 1
			}
			// Scales: the terms of each moment update, and for p its
			// decayed value and the size of the step.
			mScale, vScale, pScale := make([]float64, n), make([]float64, n), make([]float64, n)
			for i := range n {
				gi := gs * float64(g[i])
				mScale[i] = math.Abs(h.Beta1*float64(m[i])) + math.Abs((1-h.Beta1)*gi) + 1e-30
				vScale[i] = h.Beta2*float64(v[i]) + (1-h.Beta2)*gi*gi + 1e-30
				decayed := float64(p[i]) * (1 - h.LR*h.WeightDecay)
				pScale[i] = math.Abs(decayed) + 10*math.Abs(decayed-wp[i]) + 1e-30
			}
			requireNear(t, "m", wm, download(t, dm), scaled(mScale, tolArith))
			requireNear(t, "v", wv, download(t, dv), scaled(vScale, tolArith))
			requireNear(t, "p", wp, download(t, dp), scaled(pScale, tolArith))
		})
	}

	ema, p := randF32(r, n, 1), randF32(r, n, 1)
	de := upload(t, d, ema)
	require.NoError(t, d.EMA(de, upload(t, d, p), 0.999))
	want, sc := make([]float64, n), make([]float64, n)
	for i := range want {
		want[i] = 0.999*float64(ema[i]) + 0.001*float64(p[i])
		sc[i] = math.Abs(0.999*float64(ema[i])) + math.Abs(0.001*float64(p[i]))
	}
	requireNear(t, "ema", want, download(t, de), scaled(sc, tolArith))
}

func TestGPUSumSquares(t *testing.T) {
	d := kernelDevice(t)
	r := rand.New(rand.NewPCG(6, 18))
	for _, n := range []int{1, 255, 256, 257, 300000, 1<<20 + 7} {
		x := randF32(r, n, 1)
		want := 0.0
		for _, v := range x {
			want += float64(v) * float64(v)
		}
		dx := upload(t, d, x)
		got, err := d.SumSquares(dx)
		require.NoError(t, err)
		require.InEpsilon(t, want, got, tolSumSq, "n = %d", n)
		again, err := d.SumSquares(dx)
		require.NoError(t, err)
		require.Equal(t, got, again, "deterministic")
	}
	empty, err := d.SumSquares(upload(t, d, []float32{}))
	require.NoError(t, err)
	require.Zero(t, empty)
}
