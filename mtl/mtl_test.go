package mtl

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Tolerances of the tests, relative unless said.
const (
	// closedTol: closed forms and exact Gram-form rewrites against their
	// vector references (rounding of O(K²) operations).
	closedTol = 1e-9
	// iterTol: iterative methods (Nash-MTL, CAGrad, the dual-cone
	// projections) against references that iterate differently.
	iterTol = 1e-7
	// dykstraTol: the projections against Dykstra's alternating
	// projections (linear convergence, 20 000 cycles).
	dykstraTol = 1e-6
	// gridTol: CAGrad against its dual minimised on a simplex grid of step
	// 1/2000 (the direction is accurate to about the grid step).
	gridTol = 3e-3
	// conflictTol: how far below 0 min_k (Gw)_k may be, in units of
	// max_k G_kk·Σ|w| (rounding).
	conflictTol = 1e-11
)

// problemFromRows builds a problem from explicit gradients.
func problemFromRows(t *testing.T, g *mat.Dense) *pareto.Problem {
	t.Helper()
	p, err := pareto.NewFromGrads(g, pareto.Config{})
	require.NoError(t, err)
	return p
}

// conflicting returns K random conflicting gradients in ℝ^P (pareto's
// generator), l2-normalised rows when unit is set.
func conflicting(k, p int, seed uint64) *mat.Dense { return pareto.ConflictingGrads(k, p, seed) }

// run aggregates with a fresh method of the default configuration.
func run(t *testing.T, name string, p *pareto.Problem) Result {
	t.Helper()
	a, err := New(name, Config{})
	require.NoError(t, err)
	r, err := a.Aggregate(p)
	require.NoError(t, err, name)
	return r
}

// requireClose checks |a − b| ≤ tol·max(1, ‖b‖∞) entrywise.
func requireClose(t *testing.T, want, got []float64, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	scale := math.Max(1, floats.Norm(want, math.Inf(1)))
	for i := range want {
		require.InDelta(t, want[i], got[i], tol*scale, "%s: entry %d: want %v got %v", msg, i, want, got)
	}
}

// requireSameDirection checks d = Σ w_k g_k against a reference vector.
func requireSameDirection(t *testing.T, g [][]float64, w, want []float64, tol float64, msg string) {
	t.Helper()
	d := combine(g, w)
	scale := floats.Norm(want, 2)
	for c := range want {
		require.InDelta(t, want[c], d[c], tol*scale, "%s: coordinate %d", msg, c)
	}
}

func TestPCGradTwoConflictingByHand(t *testing.T) {
	// g1 = (1, 0), g2 = (−1, 1): ⟨g1, g2⟩ = −1. g1^PC = g1 + g2/2 =
	// (1/2, 1/2) (coefficients 1, 1/2); g2^PC = g2 + g1 = (0, 1)
	// (coefficients 1, 1). w = (2, 3/2), d = (1/2, 3/2).
	p := problemFromRows(t, mat.NewDense(2, 2, []float64{1, 0, -1, 1}))
	r := run(t, "pcgrad", p)
	requireClose(t, []float64{2, 1.5}, r.W, closedTol, "w")
	// ⟨d, g1⟩ = 1/2, ⟨d, g2⟩ = 1: PCGrad's d conflicts with neither.
	requireClose(t, []float64{0.5, 1}, r.Inner, closedTol, "Gw")
	require.InDelta(t, math.Sqrt(0.25+2.25), r.Norm, closedTol)
	require.True(t, r.OnSimplex)
	requireClose(t, []float64{4.0 / 7, 3.0 / 7}, r.Normalized, closedTol, "normalised")
}

func TestPCGradAndGradVacMatchVectors(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		G := conflicting(6, 5, seed)
		g, p := rows(G), problemFromRows(t, G)
		orders := ordersAt(seed, 0, 6)
		requireSameDirection(t, g, pcgradWeights(p, orders), refPCGrad(g, orders), closedTol, "pcgrad")
		// GradVac over three calls, with the state carried, against the
		// vector version with its own state.
		target, ref := make([]float64, 36), make([][]float64, 6)
		for i := range ref {
			ref[i] = make([]float64, 6)
		}
		stream := orderSeq{seed: seed + 100}
		for call := range 3 {
			o := stream.next(6)
			requireSameDirection(t, g, gradvacWeights(p, o, target, 0.3), refGradVac(g, o, ref, 0.3), closedTol, fmt.Sprintf("gradvac call %d", call))
		}
		for i := range 6 {
			requireClose(t, ref[i], target[i*6:(i+1)*6], closedTol, "gradvac targets")
		}
	}
}

// Call n's orders depend on (seed, n) alone: an aggregator set to call n
// gives the bits of one that made n calls before, and GradVac's targets,
// saved and restored, continue it exactly.
func TestSequencedCallsAndGradVacStateResume(t *testing.T) {
	p := problemFromRows(t, conflicting(6, 5, 2))
	for _, name := range []string{"pcgrad", "gradvac"} {
		a, err := New(name, Config{Seed: 4, Beta: 0.3})
		require.NoError(t, err)
		var straight []Result
		var saved json.RawMessage
		for call := range 4 {
			if call == 2 {
				if s, ok := a.(Stateful); ok {
					saved = s.State()
				}
			}
			r, err := a.Aggregate(p)
			require.NoError(t, err)
			straight = append(straight, r)
		}
		require.Greater(t, floats.Distance(straight[2].W, straight[3].W, math.Inf(1)), 1e-6, "%s: calls 2 and 3 differ", name)
		b, err := New(name, Config{Seed: 4, Beta: 0.3})
		require.NoError(t, err)
		if s, ok := b.(Stateful); ok {
			require.NoError(t, s.SetState(saved))
		}
		b.(Sequenced).SetCall(2)
		for call := 2; call < 4; call++ {
			r, err := b.Aggregate(p)
			require.NoError(t, err)
			require.Equal(t, straight[call].W, r.W, "%s call %d", name, call)
		}
	}
	g, err := New("gradvac", Config{})
	require.NoError(t, err)
	require.JSONEq(t, `{"k":0,"target":null}`, string(g.(Stateful).State()))
	for raw, msg := range map[string]string{
		`{"k":2,"target":[0,0,0]}`: "3 targets for 2 tasks",
		`{"k":1,"target":[2]}`:     "not a cosine",
		`{"k":-1,"target":[]}`:     "for -1 tasks",
		`[1]`:                      "gradvac state",
	} {
		require.ErrorContains(t, g.(Stateful).SetState(json.RawMessage(raw)), msg, raw)
	}
}

// GradVac on a subset of its tasks (an empty bin in training): the
// present tasks' step follows the vector algorithm with the call's orders
// restricted to them, and the targets of the absent task's pairs stay.
func TestGradVacSubsetOfTasks(t *testing.T) {
	G := conflicting(5, 6, 4)
	g := rows(G)
	a, err := New("gradvac", Config{Seed: 6, Beta: 0.3})
	require.NoError(t, err)
	sub := a.(TaskSubset)
	ref := make([][]float64, 5)
	for i := range ref {
		ref[i] = make([]float64, 5)
	}
	for call, present := range [][]int{{0, 1, 2, 3, 4}, {0, 2, 3, 4}, {0, 1, 2, 3, 4}, {1, 4}} {
		n := len(present)
		gs, ts := make([][]float64, n), make([][]float64, n)
		os := make([][]int, n)
		full := ordersAt(6, uint64(call), 5)
		for i, ti := range present {
			gs[i] = g[ti]
			ts[i] = make([]float64, n)
			for j, tj := range present {
				ts[i][j] = ref[ti][tj]
			}
			for _, o := range full[ti] {
				if j := slices.Index(present, o); j >= 0 {
					os[i] = append(os[i], j)
				}
			}
		}
		before := make([][]float64, 5)
		for i := range ref {
			before[i] = append([]float64(nil), ref[i]...)
		}
		want := refGradVac(gs, os, ts, 0.3)
		for i, ti := range present {
			for j, tj := range present {
				ref[ti][tj] = ts[i][j]
			}
		}
		sg := mat.NewDense(n, 6, nil)
		for i, r := range gs {
			sg.SetRow(i, r)
		}
		r, err := sub.AggregateTasks(problemFromRows(t, sg), present, 5)
		require.NoError(t, err)
		requireSameDirection(t, gs, r.W, want, closedTol, fmt.Sprintf("call %d", call))
		if call == 1 {
			require.NotEqual(t, before[0][2], ref[0][2], "the present pairs' targets move")
			for i := range 5 {
				require.Equal(t, before[1][i], ref[1][i], "task 1's targets stay")
				require.Equal(t, before[i][1], ref[i][1], "task 1's targets stay")
			}
		}
	}
	var st gradvacState
	require.NoError(t, json.Unmarshal(sub.State(), &st))
	for i := range 5 {
		requireClose(t, ref[i], st.Target[i*5:(i+1)*5], closedTol, "targets")
	}
	_, err = sub.AggregateTasks(problemFromRows(t, G), []int{0, 1, 2, 4, 3}, 5)
	require.ErrorContains(t, err, "not increasing")
	_, err = sub.AggregateTasks(problemFromRows(t, G), []int{0, 1, 2, 3}, 5)
	require.ErrorContains(t, err, "4 task indices for a problem of 5 tasks")
}

func TestGradVacFirstCallIsPCGradAndKeepsK(t *testing.T) {
	p := problemFromRows(t, conflicting(5, 4, 3))
	a, err := New("gradvac", Config{Seed: 7})
	require.NoError(t, err)
	b, err := New("pcgrad", Config{Seed: 7})
	require.NoError(t, err)
	ra, err := a.Aggregate(p)
	require.NoError(t, err)
	rb, err := b.Aggregate(p)
	require.NoError(t, err)
	requireClose(t, rb.W, ra.W, closedTol, "first call")
	// The targets have moved: the second call differs from PCGrad's.
	ra2, _ := a.Aggregate(p)
	rb2, _ := b.Aggregate(p)
	require.Greater(t, floats.Distance(ra2.W, rb2.W, math.Inf(1)), 1e-6)
	_, err = a.Aggregate(problemFromRows(t, conflicting(4, 4, 3)))
	require.ErrorContains(t, err, "keeps EMA targets for 5 tasks")
}

func TestIMTLGEqualProjectionsAndPaperForm(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		G := conflicting(5, 8, seed)
		p := problemFromRows(t, G)
		r := run(t, "imtl-g", p)
		require.InDelta(t, 1, floats.Sum(r.W), closedTol)
		proj := make([]float64, 5)
		for k := range proj {
			proj[k] = r.Inner[k] / math.Sqrt(p.At(k, k)) // ⟨d, u_k⟩
		}
		for k := range proj {
			require.InDelta(t, proj[0], proj[k], closedTol*math.Abs(proj[0]), "seed %d task %d: %v", seed, k, proj)
		}
		requireClose(t, refIMTLG(rows(G)), r.W, closedTol, "paper form")
	}
}

func TestNashMTLFixedPoint(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		G := conflicting(6, 10, seed)
		p := problemFromRows(t, G)
		r := run(t, "nash-mtl", p)
		require.Equal(t, "converged", r.Status)
		g := rows(G)
		d := combine(g, r.W)
		for k := range g {
			require.Greater(t, r.W[k], 0.0)
			require.InDelta(t, 1, r.W[k]*floats.Dot(d, g[k]), iterTol, "α_k⟨d, g_k⟩ on vectors")
		}
		requireClose(t, refNash(g, 5000), r.W, iterTol, "coordinate-descent reference")
	}
}

func TestAlignedMTLConditionNumberOne(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		G := conflicting(4, 7, seed)
		p := problemFromRows(t, G)
		s, err := rangeSpectrum(p, DefaultRankTol)
		require.NoError(t, err)
		// B = √λ_min V Λ^{-1/2} Vᵀ; the aligned Gram BGB is λ_min·I.
		B := mat.NewDense(4, 4, nil)
		e := make([]float64, 4)
		for j := range 4 {
			clear(e)
			e[j] = 1
			B.SetCol(j, s.apply(alignedScale(s), e))
		}
		var bgb mat.Dense
		bgb.Mul(B, p.Gram())
		bgb.Mul(&bgb, B)
		for i := range 4 {
			for j := range 4 {
				want := 0.0
				if i == j {
					want = s.values[0]
				}
				require.InDelta(t, want, bgb.At(i, j), closedTol*s.values[len(s.values)-1])
			}
		}
		r := run(t, "aligned-mtl", p)
		requireSameDirection(t, rows(G), r.W, refAligned(rows(G)), closedTol, "SVD reference")
	}
}

func TestUPGradDualProjNeverConflict(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		G := conflicting(8, 4, seed)
		p := problemFromRows(t, G)
		g := rows(G)
		for _, name := range []string{"upgrad", "dualproj"} {
			r := run(t, name, p)
			require.Equal(t, "converged", r.Status)
			requireNoConflict(t, p, r)
			for _, x := range r.W {
				require.GreaterOrEqual(t, x, 1/8.0-1e-15, "%s: w ≥ 1/K", name)
			}
			if seed <= 3 {
				ref := refUPGrad(g, 20000)
				if name == "dualproj" {
					ref = refDualProj(g, 20000)
				}
				requireSameDirection(t, g, r.W, ref, dykstraTol, name+" against Dykstra")
			}
		}
	}
}

// requireNoConflict checks min_k (Gw)_k ≥ −conflictTol·max G_kk·Σ|w|.
func requireNoConflict(t *testing.T, p *pareto.Problem, r Result) {
	t.Helper()
	maxDiag := 0.0
	for k := range p.K() {
		maxDiag = math.Max(maxDiag, p.At(k, k))
	}
	require.GreaterOrEqual(t, r.MinInner, -conflictTol*maxDiag*floats.Norm(r.W, 1), "%s: %v", r.Method, r.Inner)
}

func TestUPGradDualProjAreTheMeanWithoutConflict(t *testing.T) {
	// Gradients with pairwise non-negative inner products.
	p := problemFromRows(t, mat.NewDense(3, 3, []float64{1, 0.2, 0, 0.1, 2, 0.3, 0, 0.1, 0.5}))
	for _, name := range []string{"upgrad", "dualproj", "mean"} {
		requireClose(t, uniform(3), run(t, name, p).W, closedTol, name)
	}
}

func TestCAGradLimits(t *testing.T) {
	p := problemFromRows(t, conflicting(6, 5, 2))
	w0, _, _, err := cagradWeights(p, 0, DefaultTol, DefaultMaxIter)
	require.NoError(t, err)
	requireClose(t, uniform(6), w0, closedTol, "c = 0 is the mean")
	mgda, err := solvers.Solve(p, solvers.Exact, nil)
	require.NoError(t, err)
	prev := math.Inf(1)
	for _, c := range []float64{1, 10, 100, 1e4} {
		r, err := New("cagrad", Config{C: c})
		require.NoError(t, err)
		res, err := r.Aggregate(p)
		require.NoError(t, err)
		dist := floats.Distance(res.Normalized, mgda.W, 1)
		require.Less(t, dist, prev, "c = %g approaches MGDA", c)
		prev = dist
	}
	require.Less(t, prev, 1e-3, "c = 1e4: within 1e-3 of MGDA's min-norm point")
}

func TestCAGradAgainstGridAndBall(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		G := conflicting(3, 4, seed)
		g, p := rows(G), problemFromRows(t, G)
		r := run(t, "cagrad", p)
		ref := refCAGrad(g, DefaultC, 2000)
		requireSameDirection(t, g, r.W, ref, gridTol, "grid reference")
		// d lies on the ball's boundary ‖d − g_0‖ = c‖g_0‖ and beats its
		// reference point on the worst task.
		d, g0 := combine(g, r.W), combine(g, uniform(3))
		require.InDelta(t, DefaultC*floats.Norm(g0, 2), floats.Distance(d, g0, 2), iterTol*floats.Norm(g0, 2))
		worst := func(x []float64) float64 {
			m := math.Inf(1)
			for _, gk := range g {
				m = math.Min(m, floats.Dot(gk, x))
			}
			return m
		}
		require.GreaterOrEqual(t, worst(d), worst(ref)-iterTol*floats.Dot(g0, g0))
	}
}

// permuted returns the problem with tasks reordered: task i of the result
// is task perm[i] of p.
func permuted(t *testing.T, G *mat.Dense, perm []int) *pareto.Problem {
	k, c := G.Dims()
	H := mat.NewDense(k, c, nil)
	for i, j := range perm {
		H.SetRow(i, G.RawRowView(j))
	}
	return problemFromRows(t, H)
}

func TestPermutationEquivariance(t *testing.T) {
	G := conflicting(6, 5, 4)
	p := problemFromRows(t, G)
	perm := []int{3, 0, 5, 1, 4, 2}
	q := permuted(t, G, perm)
	for _, name := range []string{"mean", "cagrad", "imtl-g", "nash-mtl", "aligned-mtl", "upgrad", "dualproj", "exact"} {
		rp, rq := run(t, name, p), run(t, name, q)
		for i, j := range perm {
			require.InDelta(t, rp.W[j], rq.W[i], iterTol*math.Max(1, floats.Norm(rp.W, math.Inf(1))), "%s task %d", name, j)
		}
	}
	// PCGrad and GradVac: for a fixed order, permuted alike.
	inv := make([]int, 6)
	for i, j := range perm {
		inv[j] = i
	}
	permute := func(orders [][]int) [][]int {
		q := make([][]int, 6)
		for i, j := range perm {
			for _, o := range orders[j] {
				q[i] = append(q[i], inv[o])
			}
		}
		return q
	}
	stream := orderSeq{seed: 9}
	orders := stream.next(6)
	wp, wq := pcgradWeights(p, orders), pcgradWeights(q, permute(orders))
	for i, j := range perm {
		require.InDelta(t, wp[j], wq[i], closedTol*floats.Norm(wp, math.Inf(1)), "pcgrad")
	}
	// GradVac over three calls, so that its EMA targets (permuted alike)
	// are not zero.
	tp, tq := make([]float64, 36), make([]float64, 36)
	for call := range 3 {
		vp, vq := gradvacWeights(p, orders, tp, 0.5), gradvacWeights(q, permute(orders), tq, 0.5)
		for i, j := range perm {
			require.InDelta(t, vp[j], vq[i], closedTol*floats.Norm(vp, math.Inf(1)), "gradvac call %d", call)
		}
		orders = stream.next(6)
	}
}

func TestScalingTheGram(t *testing.T) {
	G := conflicting(6, 5, 5)
	p := problemFromRows(t, G)
	for _, s := range []float64{1e-6, 1e6} {
		H := mat.DenseCopyOf(G)
		H.Scale(math.Sqrt(s), H)
		q := problemFromRows(t, H) // Gram sG
		for _, name := range Names() {
			if name == "two-task" || name == "fw-plain" || name == "ugd-plain" {
				continue
			}
			rp, rq := run(t, name, p), run(t, name, q)
			want := rp.W
			if name == "nash-mtl" {
				want = slices.Clone(rp.W)
				floats.Scale(1/math.Sqrt(s), want)
			}
			requireClose(t, want, rq.W, iterTol*math.Max(1, floats.Norm(want, math.Inf(1))), fmt.Sprintf("%s at s=%g", name, s))
			require.InDelta(t, rp.Objective*s, rq.Objective, 1e-6*math.Abs(rp.Objective*s), name)
		}
	}
}

// degenerate returns gradient sets whose Gram is singular.
func degenerate() map[string]*mat.Dense {
	base := conflicting(4, 6, 8)
	dup := mat.NewDense(5, 6, nil)
	for i := range 4 {
		dup.SetRow(i, base.RawRowView(i))
	}
	dup.SetRow(4, base.RawRowView(1)) // task 4 duplicates task 1
	zero := mat.DenseCopyOf(base)
	zero.SetRow(2, make([]float64, 6)) // task 2 has no gradient
	return map[string]*mat.Dense{
		"duplicated":     dup,
		"rank-deficient": conflicting(6, 2, 8), // six tasks in ℝ²
		"zero-row":       zero,
	}
}

func TestDegenerateGrams(t *testing.T) {
	for kind, G := range degenerate() {
		p := problemFromRows(t, G)
		for _, name := range Aggregators {
			r := run(t, name, p)
			for _, x := range r.W {
				require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "%s %s: %v", kind, name, r.W)
			}
			switch name {
			case "upgrad", "dualproj":
				requireNoConflict(t, p, r)
			case "nash-mtl":
				if kind == "zero-row" {
					require.Equal(t, 0.0, r.W[2])
					require.Equal(t, "converged", r.Status)
				}
			case "imtl-g":
				if kind != "rank-deficient" { // inconsistent there (see imtlG)
					for k := range p.K() {
						if n := math.Sqrt(p.At(k, k)); n > 0 {
							require.InDelta(t, r.Inner[0]/math.Sqrt(p.At(0, 0)), r.Inner[k]/n, 1e-8*r.Norm, "%s: equal projections", kind)
						}
					}
				}
			}
		}
	}
	// Duplicating a task gives the methods that weigh by the Gram alone
	// the same direction split over the two copies.
	base := conflicting(4, 6, 8)
	p := problemFromRows(t, base)
	q := problemFromRows(t, degenerate()["duplicated"])
	for _, name := range []string{"imtl-g", "nash-mtl"} {
		a, b := run(t, name, p), run(t, name, q)
		wq := slices.Clone(b.W[:4])
		wq[1] += b.W[4]
		if name == "imtl-g" {
			requireClose(t, a.W, wq, 1e-8, name+" duplicate")
		}
		require.InDelta(t, b.W[1], b.W[4], 1e-8*floats.Norm(b.W, math.Inf(1)), name+": the copies weigh alike")
	}
}

func TestEvaluateCertificate(t *testing.T) {
	G := conflicting(5, 3, 6)
	p, err := pareto.NewFromGrads(G, pareto.Config{Lambda: 0.3})
	require.NoError(t, err)
	g := rows(G)
	w := []float64{0.5, -0.1, 0.2, 0.3, 0.1}
	r, err := Evaluate(p, "x", w)
	require.NoError(t, err)
	d := combine(g, w)
	for k := range g {
		require.InDelta(t, floats.Dot(d, g[k]), r.Inner[k], closedTol)
	}
	require.InDelta(t, floats.Norm(d, 2), r.Norm, closedTol)
	require.False(t, r.OnSimplex)
	require.True(t, math.IsNaN(r.Gap))
	n := slices.Clone(w)
	floats.Scale(1/floats.Sum(w), n)
	require.InDelta(t, p.Objective(n), r.Objective, closedTol)
	// On the simplex, the Eq. 11 objective and gap are pareto's.
	mg, err := solvers.Solve(p, solvers.Exact, nil)
	require.NoError(t, err)
	ex := run(t, "exact", p)
	require.InDelta(t, mg.F, ex.Objective, closedTol)
	require.Less(t, ex.Gap, 1e-10)
	p0, err := p.WithLambda(0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, run(t, "exact", p0).ConflictRatio(), 1-1e-9, "Theorem 1: at λ = 0, (Gw)_k ≥ ‖d‖²")
	_, err = Evaluate(p, "x", []float64{1})
	require.ErrorContains(t, err, "got 1 weights for 5 tasks")
}

func TestNewAndOptions(t *testing.T) {
	for _, name := range Names() {
		_, err := New(name, Config{})
		require.NoError(t, err, name)
		require.True(t, Known(name))
	}
	_, err := New("sgd", Config{})
	require.ErrorContains(t, err, `unknown method "sgd"`)
	c, err := ParseOptions("c=0.4, seed=3,beta=0.5,max-iter=50")
	require.NoError(t, err)
	require.Equal(t, Config{C: 0.4, Seed: 3, Beta: 0.5, MaxIter: 50}, c)
	back, err := ParseOptions(c.String())
	require.NoError(t, err)
	require.Equal(t, c, back)
	for _, bad := range []string{"c=-1", "beta=2", "seed=x", "lr=1", "c"} {
		_, err := ParseOptions(bad)
		require.Error(t, err, bad)
	}
	_, err = New("two-task", Config{})
	require.NoError(t, err)
	a, _ := New("two-task", Config{})
	_, err = a.Aggregate(problemFromRows(t, conflicting(3, 2, 1)))
	require.ErrorContains(t, err, "K = 2")
}

func TestDeterministic(t *testing.T) {
	p := problemFromRows(t, conflicting(7, 5, 11))
	for _, name := range Aggregators {
		require.Equal(t, run(t, name, p).W, run(t, name, p).W, name)
	}
}

// A cap is a status: with MaxIter 1 every iterative method says
// "iteration-limit" (and "converged" with the default cap on the same
// problem), and its result still carries the certificate of the weights it
// returns — (Gw)_k, wᵀGw and the Eq. 11 objective, recomputed here from G.
func TestIterationCapIsAStatusWithItsCertificate(t *testing.T) {
	p := problemFromRows(t, conflicting(6, 5, 2))
	for _, name := range []string{"cagrad", "nash-mtl", "upgrad", "dualproj"} {
		full := run(t, name, p)
		require.Equal(t, "converged", full.Status, name)
		require.Greater(t, full.Iterations, 1, "%s needs more than one iteration here", name)
		a, err := New(name, Config{MaxIter: 1})
		require.NoError(t, err)
		r, err := a.Aggregate(p)
		require.NoError(t, err)
		require.Equal(t, "iteration-limit", r.Status, name)
		require.LessOrEqual(t, r.Iterations, 6, name) // one per projection for upgrad's K
		scale := floats.Norm(r.W, 1) * p.At(0, 0)
		var nsq float64
		for i := range 6 {
			var gw float64
			for j := range 6 {
				gw += p.At(i, j) * r.W[j]
			}
			require.InDelta(t, gw, r.Inner[i], closedTol*scale, "%s (Gw)_%d", name, i)
			nsq += r.W[i] * gw
		}
		require.InDelta(t, nsq, r.NormSq, closedTol*scale*floats.Norm(r.W, 1), name)
		require.Equal(t, floats.Min(r.Inner), r.MinInner, name)
		require.NotNil(t, r.Normalized, name)
		require.InDelta(t, 1, floats.Sum(r.Normalized), closedTol, name)
		require.InDelta(t, p.Objective(r.Normalized), r.Objective, closedTol*math.Abs(r.Objective), name)
		require.NotEqual(t, full.W, r.W, "%s: the capped run stopped early", name)
	}
}
