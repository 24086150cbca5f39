package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/learned"
	"github.com/stretchr/testify/require"
)

// train --weighting learned writes the comparison with the closed forms
// into the run folder, u is in the checkpoint, and a resumed run ends
// where an uninterrupted one does, u included; conflict --weighting
// learned adds the probes' Pareto weights at the same steps.
func TestLearnedWeightingRuns(t *testing.T) {
	base := t.TempDir()
	whole, part := filepath.Join(base, "whole"), filepath.Join(base, "part")
	stdout, stderr, code := runCLI(t, trainArgs(whole, "--steps", "20", "--weighting", "learned:bins=4")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "learned weights at step 20: nearest closed form ")
	for _, f := range []string{learned.CSVFile, learned.FigureName + ".png", learned.ReportFile} {
		require.FileExists(t, filepath.Join(whole, f))
	}
	rows := readCSV(t, filepath.Join(whole, learned.CSVFile))
	require.Equal(t, []string{"step", "bin", "t_lo", "t_hi", "u_mean", "learned", "constant", "snr", "min-snr:5", "max-snr:1"}, rows[0])
	require.Len(t, rows, 1+4*4, "records at 5, 10, 15, 20; 4 bins")
	ck, err := diffusion.LoadCheckpoint(filepath.Join(whole, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, "learned:bins=t:4,lr=0.01", ck.Config.Weighting)
	require.NotEmpty(t, ck.PassState)

	_, stderr, code = runCLI(t, trainArgs(part, "--steps", "8", "--weighting", "learned:bins=4")...)
	require.Equal(t, 0, code, stderr)
	_, stderr, code = runCLI(t, "train", "--out", part, "--resume", "--steps", "20", "--progress", "none")
	require.Equal(t, 0, code, stderr)
	resumed, err := diffusion.LoadCheckpoint(filepath.Join(part, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, ck.Params, resumed.Params)
	require.Equal(t, ck.PassState, resumed.PassState)

	probed := filepath.Join(base, "probed")
	args := append(append([]string(nil), smallConflict...), "--steps", "20", "--every", "10", "--method", "fw",
		"--progress", "none", "--weighting", "learned:mlp=8", "--out", probed)
	stdout, stderr, code = runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "Pareto fw at step 20 ")
	rows = readCSV(t, filepath.Join(probed, learned.CSVFile))
	require.Equal(t, "pareto:fw", rows[0][len(rows[0])-1])
	require.Len(t, rows, 1+2*4, "records at 10 and 20 on the probes' 4 bins")
	md, err := os.ReadFile(filepath.Join(probed, learned.ReportFile))
	require.NoError(t, err)
	require.Contains(t, string(md), "Pareto fw at the 2 probe steps with a record")

	// A closed form's run gets no comparison.
	plain := filepath.Join(base, "plain")
	stdout, stderr, code = runCLI(t, trainArgs(plain, "--steps", "5")...)
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, stdout, "learned")
	require.NoFileExists(t, filepath.Join(plain, learned.CSVFile))

	_, stderr, code = runCLI(t, trainArgs(filepath.Join(base, "bad"), "--steps", "2", "--weighting", "learned:mlp=0")...)
	require.Equal(t, 2, code)
	require.True(t, strings.Contains(stderr, "mlp=0"), stderr)
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return rows
}
