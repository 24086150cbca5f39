package analyze_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/analyze"
	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// weightTol: the solvers' weights against the closed-form optima below,
// far above the exact solver's rounding and below any visible difference.
const weightTol = 1e-9

// writeHandLog writes a log of the given Gram matrices (one probe each, at
// steps 0, 10, …) over equal bins of T = 1000, with bogus logged
// statistics and solutions, which Analyze must not use.
func writeHandLog(t *testing.T, grams ...*mat.SymDense) string {
	t.Helper()
	dir := t.TempDir()
	K := grams[0].SymmetricDim()
	bins, err := weighting.EqualT(1000, K)
	require.NoError(t, err)
	info := conflict.Info{Edges: bins.Edges, Labels: bins.Labels(), PerBin: 8, Params: "all", Selected: 100, Task: "constant", Target: "eps",
		Schedule: "cosine", T: 1000, Methods: []string{"fw"}, Normalizer: "none", Gram: "one-pass"}
	log, err := conflict.CreateLog(dir, info)
	require.NoError(t, err)
	for i, g := range grams {
		bogus := make([]float64, K)
		rec := conflict.Record{Step: 10 * i, Losses: make([]float64, K), Gram: g, Cosine: gram.Cosine(g),
			Stats:     conflict.Stats{Norms: bogus, CosineByDistance: bogus, NegativeFraction: 0.5},
			Solutions: []conflict.Solution{{Method: "fw", W: append([]float64{1}, make([]float64, K-1)...)}}}
		for k := range rec.Losses {
			rec.Losses[k] = 1 + float64(k)
		}
		require.NoError(t, log.Append(rec))
	}
	return dir
}

// solution returns the named method's solution.
func solution(t *testing.T, sols []conflict.Solution, method string) conflict.Solution {
	t.Helper()
	for _, s := range sols {
		if s.Method == method {
			return s
		}
	}
	t.Fatalf("no solution of %s", method)
	return conflict.Solution{}
}

// Two bins: min over w ∈ [0, 1] of (w, 1−w)(G + λI)(w, 1−w)ᵀ has the closed
// form w₀ = (b + λ − c)/(a + b + 2λ − 2c) (clipped to [0, 1]), with
// G = [[a, c], [c, b]]; the cosine is c/√(ab) and one pair of one conflicts
// when c < 0.
func TestAnalyzeTwoBinsClosedForm(t *testing.T) {
	a, b, c := 4.0, 1.0, -0.5
	G := mat.NewSymDense(2, []float64{a, c, c, b})
	dir := writeHandLog(t, G)
	const lambda = 0.75
	res, err := analyze.Analyze(dir, analyze.Config{Methods: []string{"exact", "fw", "two-task", "mean"}, Closed: []string{"constant"}, Lambda: lambda})
	require.NoError(t, err)
	want := func(l float64) []float64 {
		w0 := (b + l - c) / (a + b + 2*l - 2*c)
		return []float64{w0, 1 - w0}
	}
	pw := res.Weights[0]
	require.Equal(t, lambda, pw.Lambda)
	for _, m := range []string{"exact", "fw", "two-task"} {
		require.InDeltaSlice(t, want(0), solution(t, pw.Plain, m).W, weightTol, m)
		require.InDeltaSlice(t, want(lambda), solution(t, pw.WithLambda, m).W, weightTol, m+" λ")
	}
	require.Equal(t, []float64{0.5, 0.5}, solution(t, pw.Plain, "mean").W)

	st := res.Records[0].Stats
	require.InDelta(t, c/math.Sqrt(a*b), st.MinCosine, 1e-15)
	require.Equal(t, 1.0, st.NegativeFraction)
	require.InDeltaSlice(t, []float64{2, 1}, st.Norms, 1e-15)

	// The tables: the exact optimum's row at λ = 0 satisfies Eq. 8 with
	// equality across both bins, (Gw)_0 = (Gw)_1 = wᵀGw.
	w := want(0)
	f := a*w[0]*w[0] + 2*c*w[0]*w[1] + b*w[1]*w[1]
	row := res.Plain.Rows[0]
	require.Equal(t, "exact", row.Name)
	require.InDelta(t, f, row.Objective, 1e-12)
	require.InDelta(t, f, row.MinInner, 1e-12)
	require.InDelta(t, 1, row.ConflictRatio, 1e-12)
	require.Equal(t, lambda, res.WithLambda.Lambda)
	closed := res.WithLambda.Rows[len(res.WithLambda.Rows)-1]
	require.Equal(t, "constant", closed.Name)
	require.InDelta(t, (a+b+2*c)/4+lambda/2, closed.Objective, 1e-12) // ¼·1ᵀG1 + λ‖w‖²
}

// Orthogonal gradients: G = diag(a_k) gives w_k ∝ 1/(a_k + λ); with the
// l2 normaliser every task has unit norm, so the normalised weights are
// uniform and the raw ones w_k ∝ 1/√a_k. The relative λ is rel·tr(G)/K.
func TestAnalyzeOrthogonalGradients(t *testing.T) {
	d := []float64{1, 4, 16}
	G := mat.NewSymDense(3, nil)
	for k, v := range d {
		G.SetSym(k, k, v)
	}
	dir := writeHandLog(t, G, G)
	prop := func(f func(float64) float64) []float64 {
		w := make([]float64, len(d))
		var s float64
		for k, v := range d {
			w[k] = f(v)
			s += w[k]
		}
		for k := range w {
			w[k] /= s
		}
		return w
	}
	res, err := analyze.Analyze(dir, analyze.Config{Methods: []string{"exact", "pfw"}, RelativeLambda: 0.5})
	require.NoError(t, err)
	lambda := 0.5 * (1 + 4 + 16) / 3.0
	for _, pw := range res.Weights {
		require.InDelta(t, lambda, pw.Lambda, 1e-15)
		for _, m := range []string{"exact", "pfw"} {
			require.InDeltaSlice(t, prop(func(v float64) float64 { return 1 / v }), solution(t, pw.Plain, m).W, weightTol, m)
			require.InDeltaSlice(t, prop(func(v float64) float64 { return 1 / (v + lambda) }), solution(t, pw.WithLambda, m).W, weightTol, m)
		}
	}
	require.Equal(t, []string{"constant", "snr", "max-snr:1", "min-snr:5"}, names(res.Closed))
	sched, err := res.Info.NoiseSchedule()
	require.NoError(t, err)
	require.Equal(t, conflict.BinWeights(weighting.MinSNR{Gamma: 5}, nil, sched, res.Info.Bins()), res.Closed[3].W)
	require.Equal(t, 0.0, res.Records[1].Stats.NegativeFraction)

	l2, err := analyze.Analyze(dir, analyze.Config{Methods: []string{"exact"}, Normalizer: "l2"})
	require.NoError(t, err)
	require.InDeltaSlice(t, prop(func(v float64) float64 { return 1 / math.Sqrt(v) }), l2.Weights[0].Plain[0].W, weightTol)
	require.InDelta(t, 0.1, l2.Weights[0].Lambda, 1e-15) // tr(I)/K = 1
}

func names(cs []conflict.ClosedForm) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// Render writes every file, and the same result renders the same bytes.
func TestRenderWritesEveryFile(t *testing.T) {
	G := mat.NewSymDense(3, []float64{2, -0.5, 0.1, -0.5, 1, 0.2, 0.1, 0.2, 3})
	dir := writeHandLog(t, G, G, G)
	res, err := analyze.Analyze(dir, analyze.Config{Methods: []string{"exact", "upgrad"}})
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "a")
	files, err := res.Render(out, analyze.RenderOptions{})
	require.NoError(t, err)
	var rel []string
	for _, f := range files {
		rel = append(rel, filepath.Base(f))
	}
	require.Equal(t, []string{"cosine.png", "stats.png", "weights.png", "stats.csv", "weights.csv", "methods.md", "methods.csv",
		"methods-lambda.md", "methods-lambda.csv", "report.md"}, rel)
	again := filepath.Join(t.TempDir(), "b")
	_, err = res.Render(again, analyze.RenderOptions{Format: "none"})
	require.NoError(t, err)
	for _, f := range []string{"stats.csv", "weights.csv", "methods.csv", "methods-lambda.md"} {
		x, err := os.ReadFile(filepath.Join(out, f))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(again, f))
		require.NoError(t, err)
		require.Equal(t, string(x), string(y), f)
	}
	require.NoFileExists(t, filepath.Join(again, "cosine.png"))
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(report), "3 probe(s) from step 0 to step 20 of 3 timestep bins")
	require.Contains(t, string(report), "| exact | solver |")
}
