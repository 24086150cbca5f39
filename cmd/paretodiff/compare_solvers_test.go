package main

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/solvers"
	"github.com/stretchr/testify/require"
)

// compareRelTol: the methods that converge stop at gap ≤ 1e-10·f, so their
// objectives agree to that.
const compareRelTol = 1e-10

func readCompareCSV(t *testing.T, path string) [][]string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return rows
}

func TestCompareSolversGenerated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cmp") // created by the command
	stdout, stderr, code := runCLI(t, "compare-solvers", "--k", "40", "--p", "15", "--seed", "3", "--normalize", "l2",
		"--lambda", "0.01", "--out", dir)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "| method | status | iterations | seconds | objective | gap | support | (objective − best)/best | ‖d‖ | min_k ⟨d, g_k⟩ | min_k ⟨d, g_k⟩/‖d‖² |")
	require.Contains(t, stdout, "K=40 P=15 seed=3, normalizer l2, λ=0.01")
	md, err := os.ReadFile(filepath.Join(dir, "solvers.md"))
	require.NoError(t, err)
	require.Equal(t, stdout, string(md))

	rows := readCompareCSV(t, filepath.Join(dir, "solvers.csv"))
	require.Equal(t, []string{"method", "status", "iterations", "seconds", "objective", "gap", "support", "rel_to_best",
		"norm", "min_inner", "conflict_ratio", "on_simplex"}, rows[0])
	// auto: every solver, then every aggregator (K = 40 ≤ 256).
	names := append([]string(nil), mtl.Aggregators...)
	for i := len(solvers.Methods) - 1; i >= 0; i-- {
		names = append([]string{solvers.Methods[i].String()}, names...)
	}
	require.Len(t, rows, 1+len(names))
	objs := map[string]float64{}
	for i, r := range rows[1:] {
		require.Equal(t, names[i], r[0])
		objs[r[0]], _ = strconv.ParseFloat(r[4], 64)
		if r[11] == "true" {
			rel, _ := strconv.ParseFloat(r[7], 64)
			require.GreaterOrEqual(t, rel, -1e-15, r[0])
		}
		support, _ := strconv.Atoi(r[6])
		require.Positive(t, support)
		ratio, _ := strconv.ParseFloat(r[10], 64)
		switch r[0] {
		case "exact": // Theorem 1 at λ > 0: (Gw)_k + λw_k ≥ f(w), so the ratio is ≥ 1 only up to λ.
			require.Greater(t, ratio, 0.0)
		case "upgrad", "dualproj", "nash-mtl":
			require.GreaterOrEqual(t, ratio, -1e-10, r[0])
		}
	}
	for _, m := range []string{"fw", "afw", "pfw", "pgd", "ugd"} {
		require.InDelta(t, 0, (objs[m]-objs["exact"])/objs["exact"], compareRelTol, m)
	}
	for _, r := range rows[1:] {
		require.Contains(t, []string{"converged", "closed-form"}, r[1], r[0])
	}
	_, err = os.Stat(filepath.Join(dir, "methods.png"))
	require.NoError(t, err)

	raw, err := os.ReadFile(filepath.Join(dir, "convergence.png"))
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), img.Bounds().Dy(), "two panels side by side")
}

func TestCompareSolversFromFile(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := runCLI(t, "compare-solvers", "--gram", numpyGram, "--methods", "exact,pfw", "--figure", "svg", "--out", dir)
	require.Equal(t, 0, code, stderr)
	rows := readCompareCSV(t, filepath.Join(dir, "solvers.csv"))
	require.Len(t, rows, 3)
	ref := readRef(t)[0]
	for _, r := range rows[1:] {
		f, _ := strconv.ParseFloat(r[4], 64)
		require.InDelta(t, 0, (f-ref[0])/ref[0], compareRelTol, r[0])
		require.Equal(t, "3", r[6], "the λ = 0 optimum of the numpy reference has 3 tasks")
	}
	svg, err := os.ReadFile(filepath.Join(dir, "convergence.svg"))
	require.NoError(t, err)
	require.Contains(t, string(svg), "<svg")
}

// The plain reference methods run by name, with their caps enforced.
func TestCompareSolversPlainMethods(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := runCLI(t, "compare-solvers", "--k", "30", "--p", "10", "--normalize", "l2",
		"--methods", "fw,fw-plain,ugd,ugd-plain", "--max-iter", "2000", "--out", dir)
	require.Equal(t, 0, code, stderr)
	rows := readCompareCSV(t, filepath.Join(dir, "solvers.csv"))
	require.Len(t, rows, 5)
	for i, name := range []string{"fw", "fw-plain", "ugd", "ugd-plain"} {
		r := rows[1+i]
		require.Equal(t, name, r[0])
		iters, _ := strconv.Atoi(r[2])
		require.LessOrEqual(t, iters, 2000, name)
		require.Contains(t, []string{"converged", "iteration-limit"}, r[1], name)
	}
}

func TestCompareSolversBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{}, "--out DIR is required"},
		{[]string{"--out", dir, "--gram", numpyGram, "--k", "5"}, "--k is for generated problems"},
		{[]string{"--out", dir, "--k", "0"}, "--k 0: want 1 ≤ K ≤ 20000"},
		{[]string{"--out", dir, "--p", "0"}, "--p 0"},
		{[]string{"--out", dir, "--methods", "fw,bogus"}, `--methods: unknown method "bogus"`},
		{[]string{"--out", dir, "--methods", "fw,fw"}, "fw is given twice"},
		{[]string{"--out", dir, "--methods", "two-task"}, "two-task needs K = 2"},
		{[]string{"--out", dir, "--figure", "gif"}, `--figure "gif"`},
		{[]string{"--out", dir, "--normalize", "loss"}, "--normalize loss needs --losses FILE"},
		{[]string{"--out", dir, "--max-time", "-1s"}, "--max-time"},
		{[]string{"--out", dir, "--gram", filepath.Join(dir, "none.npy")}, "no such file"},
	} {
		stdout, stderr, code := runCLI(t, append([]string{"compare-solvers"}, c.args...)...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg, "%v", c.args)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.Empty(t, stdout)
	}
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries, "nothing is written on bad input")
}

func TestThinTrace(t *testing.T) {
	var tr []solvers.TracePoint
	for i := range 100000 {
		tr = append(tr, solvers.TracePoint{Iter: i})
	}
	thin := thinTrace(tr)
	require.Less(t, len(thin), 600)
	require.Equal(t, 0, thin[0].Iter)
	require.Equal(t, 99999, thin[len(thin)-1].Iter)
	for i := 1; i < len(thin); i++ {
		require.Greater(t, thin[i].Iter, thin[i-1].Iter)
	}
}
