package mtl

// Independent, straightforward implementations of the methods on explicit
// gradient vectors in ℝ^P (one task per row), following each paper's
// algorithm as written: projections, cosines and norms are computed on the
// vectors, never from the Gram.

import (
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// rows returns the task gradients of a K×P matrix as slices.
func rows(g *mat.Dense) [][]float64 {
	k, _ := g.Dims()
	out := make([][]float64, k)
	for i := range k {
		out[i] = append([]float64(nil), g.RawRowView(i)...)
	}
	return out
}

// combine returns Σ_k w_k g_k.
func combine(g [][]float64, w []float64) []float64 {
	d := make([]float64, len(g[0]))
	for k, gk := range g {
		floats.AddScaled(d, w[k], gk)
	}
	return d
}

// refPCGrad is Yu et al.'s Alg. 1 on vectors.
func refPCGrad(g [][]float64, orders [][]int) []float64 {
	d := make([]float64, len(g[0]))
	for i := range g {
		pc := append([]float64(nil), g[i]...)
		for _, j := range orders[i] {
			if dot := floats.Dot(pc, g[j]); dot < 0 {
				floats.AddScaled(pc, -dot/floats.Dot(g[j], g[j]), g[j])
			}
		}
		floats.Add(d, pc)
	}
	return d
}

// refGradVac is Wang et al.'s Alg. 1 on vectors; it updates target (K×K).
func refGradVac(g [][]float64, orders [][]int, target [][]float64, beta float64) []float64 {
	d := make([]float64, len(g[0]))
	for i := range g {
		gi := append([]float64(nil), g[i]...)
		for _, j := range orders[i] {
			ni, nj := floats.Norm(gi, 2), floats.Norm(g[j], 2)
			phi := floats.Dot(gi, g[j]) / (ni * nj)
			th := target[i][j]
			if phi < th {
				coef := ni * (th*math.Sqrt(1-phi*phi) - phi*math.Sqrt(1-th*th)) / (nj * math.Sqrt(1-th*th))
				floats.AddScaled(gi, coef, g[j])
			}
			target[i][j] = (1-beta)*th + beta*phi
		}
		floats.Add(d, gi)
	}
	return d
}

// refIMTLG is Liu et al.'s closed form α_{2:K} = g_1 Uᵀ(D Uᵀ)⁻¹ on vectors.
func refIMTLG(g [][]float64) []float64 {
	k, p := len(g), len(g[0])
	u := make([][]float64, k)
	for i := range g {
		u[i] = append([]float64(nil), g[i]...)
		floats.Scale(1/floats.Norm(g[i], 2), u[i])
	}
	D, U := mat.NewDense(k-1, p, nil), mat.NewDense(k-1, p, nil)
	for r := 1; r < k; r++ {
		for c := range p {
			D.Set(r-1, c, g[0][c]-g[r][c])
			U.Set(r-1, c, u[0][c]-u[r][c])
		}
	}
	var dut, inv, a mat.Dense
	dut.Mul(D, U.T())
	if err := inv.Inverse(&dut); err != nil {
		panic(err)
	}
	g1 := mat.NewDense(1, p, g[0])
	a.Mul(g1, U.T())
	a.Mul(&a, &inv)
	alpha := make([]float64, k)
	alpha[0] = 1
	for r := 1; r < k; r++ {
		alpha[r] = a.At(0, r-1)
		alpha[0] -= alpha[r]
	}
	return alpha
}

// refAligned is Senushkin et al.'s Ĵ = σ_min·VUᵀ (SVD of J on vectors,
// full rank), d = Ĵᵀ·(1/K)1.
func refAligned(g [][]float64) []float64 {
	k, p := len(g), len(g[0])
	J := mat.NewDense(k, p, nil)
	for i := range g {
		J.SetRow(i, g[i])
	}
	var svd mat.SVD
	if !svd.Factorize(J, mat.SVDThin) {
		panic("svd")
	}
	vals := svd.Values(nil)
	var V, U mat.Dense
	svd.UTo(&V) // left singular vectors: K×K
	svd.VTo(&U) // right: P×K
	var hat mat.Dense
	hat.Mul(&V, U.T())
	hat.Scale(vals[len(vals)-1], &hat)
	d := make([]float64, p)
	for i := range k {
		floats.AddScaled(d, 1/float64(k), hat.RawRowView(i))
	}
	return d
}

// refNash solves α_k⟨Σ_j α_j g_j, g_k⟩ = 1 by exact coordinate
// minimisation of ½‖Σα_j g_j‖² − Σ ln α_j: each α_k is the positive root
// of G_kk α² + s_k α − 1 = 0, s_k = ⟨Σ_{j≠k} α_j g_j, g_k⟩.
func refNash(g [][]float64, sweeps int) []float64 {
	k := len(g)
	alpha := make([]float64, k)
	for i := range alpha {
		alpha[i] = 1
	}
	for range sweeps {
		for i := range k {
			d := combine(g, alpha)
			floats.AddScaled(d, -alpha[i], g[i])
			s, a := floats.Dot(d, g[i]), floats.Dot(g[i], g[i])
			alpha[i] = (-s + math.Sqrt(s*s+4*a)) / (2 * a)
		}
	}
	return alpha
}

// refDualCone projects x onto {y : ⟨y, g_k⟩ ≥ 0 ∀k} in ℝ^P by Dykstra's
// alternating projections onto the K half-spaces.
func refDualCone(g [][]float64, x []float64, cycles int) []float64 {
	k := len(g)
	y := append([]float64(nil), x...)
	inc := make([][]float64, k)
	for i := range inc {
		inc[i] = make([]float64, len(x))
	}
	for range cycles {
		for i, gi := range g {
			z := append([]float64(nil), y...)
			floats.Add(z, inc[i])
			if dot := floats.Dot(z, gi); dot < 0 {
				floats.AddScaled(z, -dot/floats.Dot(gi, gi), gi)
			}
			for c := range z {
				inc[i][c] = y[c] + inc[i][c] - z[c]
			}
			y = z
		}
	}
	return y
}

// refUPGrad averages the projections of the task gradients.
func refUPGrad(g [][]float64, cycles int) []float64 {
	d := make([]float64, len(g[0]))
	for _, gi := range g {
		floats.AddScaled(d, 1/float64(len(g)), refDualCone(g, gi, cycles))
	}
	return d
}

// refDualProj projects the mean gradient.
func refDualProj(g [][]float64, cycles int) []float64 {
	return refDualCone(g, combine(g, uniform(len(g))), cycles)
}

// refCAGrad minimises F(w) = ⟨g_w, g_0⟩ + c‖g_0‖‖g_w‖ over a grid of the
// simplex of three tasks (step 1/n) and returns the direction.
func refCAGrad(g [][]float64, c float64, n int) []float64 {
	g0 := combine(g, uniform(len(g)))
	r := c * floats.Norm(g0, 2)
	best, bw := math.Inf(1), []float64(nil)
	for a := 0; a <= n; a++ {
		for b := 0; a+b <= n; b++ {
			w := []float64{float64(a) / float64(n), float64(b) / float64(n), float64(n-a-b) / float64(n)}
			gw := combine(g, w)
			if f := floats.Dot(gw, g0) + r*floats.Norm(gw, 2); f < best {
				best, bw = f, w
			}
		}
	}
	gw := combine(g, bw)
	d := append([]float64(nil), g0...)
	floats.AddScaled(d, r/floats.Norm(gw, 2), gw)
	return d
}
