package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/matio"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/stretchr/testify/require"
)

// numpyGram is a Gram matrix written by numpy, with its optimum for several
// λ computed by brute force in numpy (solvers/testdata/reference.py).
var (
	numpyGram    = filepath.Join("..", "..", "solvers", "testdata", "gram_k7.npy")
	numpyGramRef = filepath.Join("..", "..", "solvers", "testdata", "gram_k7_ref.txt")
)

// solveRelTol: the CLI's default tolerance bounds the relative error of the
// objective by 1e-10; weights of this well-conditioned problem follow to
// about 1e-6.
const (
	solveRelTol    = 1e-9
	solveWeightTol = 1e-5
)

func readRef(t *testing.T) map[float64][]float64 {
	raw, err := os.ReadFile(numpyGramRef)
	require.NoError(t, err)
	ref := map[float64][]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var vals []float64
		for _, s := range strings.Fields(line) {
			v, err := strconv.ParseFloat(s, 64)
			require.NoError(t, err)
			vals = append(vals, v)
		}
		ref[vals[0]] = vals[1:] // f*, w*...
	}
	return ref
}

func TestSolveAgainstNumpyReference(t *testing.T) {
	ref := readRef(t)
	for lambda, want := range ref {
		for _, m := range []string{"fw", "afw", "pfw", "pgd", "ugd", "exact"} {
			stdout, stderr, code := runCLI(t, "solve", "--gram", numpyGram, "--lambda", strconv.FormatFloat(lambda, 'g', -1, 64), "--method", m)
			require.Equal(t, 0, code, stderr)
			var got solveResult
			require.NoError(t, json.Unmarshal([]byte(stdout), &got))
			require.Equal(t, m, got.Method)
			require.Equal(t, 7, got.K)
			require.Equal(t, lambda, got.Lambda)
			require.Equal(t, "converged", got.Status)
			require.InDelta(t, 0, (float64(got.Objective)-want[0])/want[0], solveRelTol, "λ=%g %s", lambda, m)
			require.InDeltaSlice(t, want[1:], got.Weights, solveWeightTol, "λ=%g %s", lambda, m)
			require.LessOrEqual(t, float64(got.Gap), 1e-10*float64(got.Objective))
			require.GreaterOrEqual(t, got.Seconds, 0.0)
			require.Positive(t, got.Iterations)
		}
	}
	// The JSON object has exactly the fields, and the Eq. 8 check.
	stdout, _, _ := runCLI(t, "solve", "--gram", numpyGram)
	var fields map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &fields))
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	require.ElementsMatch(t, []string{"method", "k", "lambda", "weights", "objective", "gap", "iterations", "status", "seconds",
		"normalized", "on_simplex", "norm", "inner", "min_inner", "conflict_ratio"}, names)
}

// From gradients in a .csv with a loss normaliser, against the library.
func TestSolveGradsCSVWithLosses(t *testing.T) {
	dir := t.TempDir()
	grads := pareto.ConflictingGrads(6, 4, 5)
	gpath := filepath.Join(dir, "grads.csv")
	require.NoError(t, matio.WriteCSV(gpath, grads))
	losses := []float64{0.5, 1, 2, 0.25, 1.5, 3}
	lpath := filepath.Join(dir, "losses.npy")
	require.NoError(t, matio.WriteVectorNPY(lpath, losses))
	out := filepath.Join(dir, "w.csv")
	_, stderr, code := runCLI(t, "solve", "--grads", gpath, "--losses", lpath, "--normalize", "loss+", "--lambda", "0.01",
		"--method", "exact", "--format", "csv", "--out", out)
	require.Equal(t, 0, code, stderr)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, []string{"method", "k", "lambda", "objective", "gap", "iterations", "status", "seconds", "w_0", "w_1", "w_2", "w_3", "w_4", "w_5",
		"norm", "min_inner", "conflict_ratio", "on_simplex", "inner_0", "inner_1", "inner_2", "inner_3", "inner_4", "inner_5",
		"n_0", "n_1", "n_2", "n_3", "n_4", "n_5", "r_0", "r_1", "r_2", "r_3", "r_4", "r_5"}, rows[0])
	require.Equal(t, "exact", rows[1][0])
	require.Equal(t, "6", rows[1][1])
	require.Equal(t, "converged", rows[1][6])

	p, err := pareto.NewFromGrads(grads, pareto.Config{Normalizer: pareto.NormLossPlus, Losses: losses, Lambda: 0.01})
	require.NoError(t, err)
	want, err := solvers.Solve(p, solvers.Exact, nil)
	require.NoError(t, err)
	obj, _ := strconv.ParseFloat(rows[1][3], 64)
	require.InDelta(t, want.F, obj, 1e-12*want.F)
	for i := range 6 {
		w, _ := strconv.ParseFloat(rows[1][8+i], 64)
		require.InDelta(t, want.W[i], w, 1e-9)
	}
}

func TestSolveBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	nanGram := write("nan.csv", "1,0\n0,nan\n")
	asym := write("asym.csv", "1,0.5\n0.1,1\n")
	indef := write("indef.csv", "1,2\n2,1\n")
	ragged := write("ragged.csv", "1,2\n3\n")
	good := write("good.csv", "1,0\n0,1\n")
	losses3 := write("l3.csv", "1,2,3\n")
	notNpy := write("x.npy", "hello")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{}, "give exactly one of --gram FILE or --grads FILE"},
		{[]string{"--gram", good, "--grads", good}, "give exactly one of"},
		{[]string{"--gram", filepath.Join(dir, "missing.npy")}, "--gram: matio: " + filepath.Join(dir, "missing.npy") + ": no such file"},
		{[]string{"--gram", nanGram}, nanGram + `: line 2, field 2 (row 1, column 1 counting from 0): "nan" is not finite`},
		{[]string{"--gram", asym}, "--gram " + asym + ": pareto: Gram matrix is not symmetric"},
		{[]string{"--gram", indef}, "--gram " + indef + ": pareto: Gram matrix is not positive semidefinite"},
		{[]string{"--grads", ragged}, ragged + ": line 2 has 1 fields"},
		{[]string{"--gram", notNpy}, notNpy + ": not a .npy file"},
		{[]string{"--gram", filepath.Join(dir, "g.txt")}, `unknown file type ".txt"`},
		{[]string{"--gram", good, "--method", "newton"}, `--method "newton"`},
		{[]string{"--gram", good, "--lambda", "-1"}, "--lambda -1: must be finite and ≥ 0"},
		{[]string{"--gram", good, "--lambda", "abc"}, `invalid argument "abc"`},
		{[]string{"--gram", good, "--normalize", "max"}, `--normalize "max"`},
		{[]string{"--gram", good, "--normalize", "loss"}, "--normalize loss needs --losses FILE"},
		{[]string{"--gram", good, "--losses", losses3}, "--losses is used only with --normalize loss or loss+"},
		{[]string{"--gram", good, "--normalize", "loss", "--losses", losses3}, "--gram " + good + ": pareto: normalizer loss: got 3 losses for 2 tasks"},
		{[]string{"--gram", good, "--normalize", "loss", "--losses", filepath.Join(dir, "nolosses.csv")}, "--losses: matio: " + filepath.Join(dir, "nolosses.csv") + ": no such file"},
		{[]string{"--gram", good, "--tol", "0"}, "--tol 0: must be finite and > 0"},
		{[]string{"--gram", good, "--max-iter", "-3"}, "--max-iter -3"},
		{[]string{"--gram", good, "--format", "xml"}, `--format "xml"`},
		{[]string{"--gram", write("three.csv", "1,0,0\n0,1,0\n0,0,1\n"), "--method", "two-task"}, "two-task needs K = 2 tasks, the input has 3"},
		{[]string{"--gram", good, "--out", filepath.Join(dir, "missing", "w.json")}, "--out: cannot write"},
	} {
		stdout, stderr, code := runCLI(t, append([]string{"solve"}, c.args...)...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg, "%v", c.args)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.True(t, strings.HasPrefix(stderr, "paretodiff: "), stderr)
		require.Empty(t, stdout)
	}
}

func TestSolveIterationCapIsAStatus(t *testing.T) {
	dir := t.TempDir()
	g := filepath.Join(dir, "g.npy")
	require.NoError(t, matio.WriteNPY(g, pareto.ConflictingGrads(30, 10, 2)))
	stdout, stderr, code := runCLI(t, "solve", "--grads", g, "--method", "fw", "--max-iter", "5")
	require.Equal(t, 0, code, stderr)
	var got solveResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Equal(t, "iteration-limit", got.Status)
	require.Equal(t, 5, got.Iterations)
	sum := 0.0
	for _, w := range got.Weights {
		require.GreaterOrEqual(t, w, 0.0)
		sum += w
	}
	require.InDelta(t, 1, sum, 1e-12)
	require.False(t, math.IsNaN(float64(got.Gap)))
}

// Every aggregator runs from solve, its output agreeing with package mtl
// on the same Gram, with the Eq. 8 check recomputed here from the weights.
func TestSolveAggregators(t *testing.T) {
	m, err := matio.ReadMatrix(numpyGram)
	require.NoError(t, err)
	p, err := pareto.NewFromGram(m, pareto.Config{})
	require.NoError(t, err)
	for _, name := range mtl.Aggregators {
		stdout, stderr, code := runCLI(t, "solve", "--gram", numpyGram, "--method", name, "--mtl-options", "c=0.4,seed=3")
		require.Equal(t, 0, code, stderr)
		var got solveResult
		require.NoError(t, json.Unmarshal([]byte(stdout), &got))
		a, err := mtl.New(name, mtl.Config{C: 0.4, Seed: 3})
		require.NoError(t, err)
		want, err := a.Aggregate(p)
		require.NoError(t, err)
		require.Equal(t, name, got.Method)
		require.Equal(t, want.W, got.Weights, name)
		for k := range 7 {
			var gw float64
			for j := range 7 {
				gw += m.At(k, j) * got.Weights[j]
			}
			require.InDelta(t, gw, got.Inner[k], 1e-12*math.Abs(gw)+1e-15, "%s: (Gw)_%d", name, k)
			require.GreaterOrEqual(t, got.Inner[k], got.MinInner)
		}
		require.InDelta(t, float64(got.ConflictRatio), got.MinInner/(got.Norm*got.Norm), 1e-12, name)
		if name == "upgrad" || name == "dualproj" {
			require.GreaterOrEqual(t, float64(got.ConflictRatio), -1e-10, name)
		}
	}
	_, stderr, code := runCLI(t, "solve", "--gram", numpyGram, "--method", "cagrad", "--mtl-options", "c=-2")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--mtl-options: mtl: c=-2")
}

// rawBruteTol: the brute-force search below ends on a grid of spacing
// 2.5e-6 around its best point; the solver's raw weights must fall within
// a few of those steps.
const rawBruteTol = 2e-5

// With --normalize l2, raw_weights are the weights r on the raw tasks that
// give the normalised problem's direction: found by brute force over r on
// the simplex, minimising the normalised objective at w̃ ∝ r_k·‖g_k‖,
// ‖Σ_k r_k g_k‖²/(Σ_k r_k ‖g_k‖)², without the solver's conversion.
func TestSolveRawWeightsAgainstBruteForce(t *testing.T) {
	grads := [][]float64{{3, 0, 1, 0.5}, {-0.2, 0.4, 0.1, 0}, {0.5, 1.5, -2, 1}}
	dir := t.TempDir()
	var lines []string
	for _, g := range grads {
		var s []string
		for _, v := range g {
			s = append(s, strconv.FormatFloat(v, 'g', -1, 64))
		}
		lines = append(lines, strings.Join(s, ","))
	}
	path := filepath.Join(dir, "g.csv")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	stdout, stderr, code := runCLI(t, "solve", "--grads", path, "--normalize", "l2", "--method", "exact")
	require.Equal(t, 0, code, stderr)
	var got solveResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Len(t, got.RawWeights, 3)

	norms := make([]float64, 3)
	for k, g := range grads {
		for _, v := range g {
			norms[k] += v * v
		}
		norms[k] = math.Sqrt(norms[k])
	}
	f := func(r0, r1 float64) float64 {
		r := []float64{r0, r1, 1 - r0 - r1}
		if r[2] < 0 || r0 < 0 || r1 < 0 {
			return math.Inf(1)
		}
		var d [4]float64
		var scale float64
		for k, g := range grads {
			for i, v := range g {
				d[i] += r[k] * v
			}
			scale += r[k] * norms[k]
		}
		var n2 float64
		for _, v := range d {
			n2 += v * v
		}
		return n2 / (scale * scale)
	}
	best0, best1, step := 0.5, 0.5, 0.5 // the first grid covers the simplex
	// A 41×41 grid of ±step around the best point, then zoom in 8×.
	for range 6 {
		c0, c1 := best0, best1
		for i := -20; i <= 20; i++ {
			for j := -20; j <= 20; j++ {
				r0, r1 := c0+float64(i)*step/20, c1+float64(j)*step/20
				if f(r0, r1) < f(best0, best1) {
					best0, best1 = r0, r1
				}
			}
		}
		step /= 8
	}
	want := []float64{best0, best1, 1 - best0 - best1}
	require.InDeltaSlice(t, want, got.RawWeights, rawBruteTol)
	// The weights on the normalised tasks are w̃_k ∝ r_k·‖g_k‖.
	var s float64
	for k := range want {
		s += got.RawWeights[k] * norms[k]
	}
	for k := range want {
		require.InDelta(t, got.Weights[k], got.RawWeights[k]*norms[k]/s, 1e-12)
	}

	stdout, _, code = runCLI(t, "solve", "--grads", path, "--method", "exact")
	require.Equal(t, 0, code)
	require.NotContains(t, stdout, "raw_weights")
	stdout, _, code = runCLI(t, "solve", "--grads", path, "--normalize", "l2", "--method", "exact", "--format", "csv")
	require.Equal(t, 0, code)
	require.Contains(t, strings.SplitN(stdout, "\n", 2)[0], ",r_0,r_1,r_2")
}
