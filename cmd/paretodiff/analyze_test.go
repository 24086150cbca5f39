package main

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/matio"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// conflictLog trains a tiny model with probes (λ = 1e-3, fw and ugd) and
// returns the run folder and its probe log.
func conflictLog(t *testing.T) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	args := append(append([]string(nil), smallConflict...), "--steps", "20", "--every", "10", "--lambda", "1e-3", "--figures", "none", "--out", dir)
	_, stderr, code := runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	return dir, filepath.Join(dir, "probes", "conflict")
}

// analyze on a log that conflict wrote: with the log's λ and conflict's
// closed forms, its methods table is conflict's own, byte for byte, and its
// fw and ugd weights with λ at every probe are those the probes logged.
func TestAnalyzeConflictLog(t *testing.T) {
	run, logDir := conflictLog(t)
	out := filepath.Join(t.TempDir(), "analysis")
	stdout, stderr, code := runCLI(t, "analyze", logDir, "--closed", "min-snr:5,constant", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "3 probe(s) of 4 bins analysed")
	require.Contains(t, stdout, "# Methods on the probe at step 20")
	for _, f := range []string{"cosine.png", "stats.png", "weights.png", "stats.csv", "weights.csv", "methods.md", "methods.csv", "methods-lambda.md", "methods-lambda.csv", "report.md"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	// conflict's methods table (its --compare default) of the same log.
	want, err := os.ReadFile(filepath.Join(run, "methods.csv"))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(out, "methods-lambda.csv"))
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))

	_, recs, err := conflict.ReadLog(logDir)
	require.NoError(t, err)
	out2 := filepath.Join(t.TempDir(), "fw")
	_, stderr, code = runCLI(t, "analyze", logDir, "--method", "fw,ugd", "--figures", "none", "--out", out2)
	require.Equal(t, 0, code, stderr)
	rows := readCSV(t, filepath.Join(out2, "weights.csv"))
	seen := 0
	for _, row := range rows[1:] {
		step, _ := strconv.Atoi(row[0])
		if row[3] != "0.001" || (row[1] != "fw" && row[1] != "ugd") {
			continue
		}
		for _, r := range recs {
			if r.Step != step {
				continue
			}
			logged := r.Solution(row[1])
			require.NotNil(t, logged)
			for k, s := range row[9:] {
				v, err := strconv.ParseFloat(s, 64)
				require.NoError(t, err)
				require.InDelta(t, logged.W[k], v, 1e-12, "step %d %s bin %d", step, row[1], k)
			}
			seen++
		}
	}
	require.Equal(t, 6, seen) // 3 probes × fw, ugd
	stats := readCSV(t, filepath.Join(out, "stats.csv"))
	require.Len(t, stats, 4)
	for i, r := range recs {
		v, err := strconv.ParseFloat(stats[i+1][2], 64)
		require.NoError(t, err)
		require.InDelta(t, r.Stats.MeanCosine, v, 1e-12)
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(report), "λ = 0.001 (the log's)")
}

// copyLog copies a log folder (flat files and gram/, cosine/) to a new one.
func copyLog(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "log")
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	return dst
}

// Bad logs: one line on stderr, exit status 2, and no output folder.
func TestAnalyzeRejectsBadLogs(t *testing.T) {
	_, logDir := conflictLog(t)
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, dir string) string // returns the folder to analyse
		msg    string
	}{
		{"missing folder", func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") }, "no such file"},
		{"truncated jsonl", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, conflict.RecordsFile)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, b[:len(b)-40], 0o644))
			return dir
		}, "probes.jsonl line 3: unexpected end of JSON input"},
		{"npy of the wrong shape", func(t *testing.T, dir string) string {
			require.NoError(t, matio.WriteNPY(filepath.Join(dir, conflict.GramDir, conflict.MatrixName(10)), mat.NewDense(3, 3, nil)))
			return dir
		}, "is 3×3; want 4×4"},
		{"non-finite gram", func(t *testing.T, dir string) string {
			g := mat.NewDense(4, 4, nil)
			g.Set(2, 2, math.NaN())
			require.NoError(t, matio.WriteNPY(filepath.Join(dir, conflict.GramDir, conflict.MatrixName(20)), g))
			return dir
		}, "row 2, column 2 (counting from 0) is NaN; values must be finite"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := c.damage(t, copyLog(t, logDir))
			out := filepath.Join(t.TempDir(), "out")
			_, stderr, code := runCLI(t, "analyze", dir, "--out", out)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, c.msg)
			require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
			require.NoDirExists(t, out)
		})
	}
	_, stderr, code := runCLI(t, "analyze", filepath.Dir(filepath.Dir(logDir)))
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "is a run folder, not a probe log: give "+logDir)
	_, stderr, code = runCLI(t, "analyze", logDir, "--lambda", "-1")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--lambda -1")
	_, stderr, code = runCLI(t, "analyze", logDir, "--method", "nope")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `--method: conflict: unknown method "nope"`)
	_, stderr, code = runCLI(t, "analyze", logDir, "--closed", "min-snr:x")
	require.Equal(t, 2, code, stderr)
}
