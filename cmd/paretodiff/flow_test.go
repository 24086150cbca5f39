package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paretodiff/paretodiff/conflict"
)

// Flow matching from the command line: conflict trains a flow model and
// probes it (its log names the schedule and target), a probe of its
// checkpoint reads them back, and eval samples it with the flow samplers;
// DDIM is refused with exit status 2.
func TestFlowMatchingCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := append(append([]string(nil), smallConflict...), "--schedule", "flow:shift=2", "--target", "flow", "--density", "mode",
		"--steps", "20", "--every", "10", "--progress", "none", "--out", dir)
	_, stderr, code := runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	info, recs, err := conflict.ReadLog(filepath.Join(dir, "probes", "conflict"))
	require.NoError(t, err)
	require.Equal(t, "flow:shift=2", info.Schedule)
	require.Equal(t, "flow", info.Target)
	require.Len(t, recs, 3)

	_, stderr, code = runCLI(t, "conflict", "--checkpoint", dir, "--bins", "t:4", "--per-bin", "4", "--out", filepath.Join(t.TempDir(), "probe"))
	require.Equal(t, 0, code, stderr)

	for _, smp := range []string{"flow-euler", "flow-heun", "heun"} {
		stdout, stderr, code := runCLI(t, "eval", "--checkpoint", dir, "--n", "64", "--steps", "6", "--sampler", smp, "--progress", "none")
		require.Equal(t, 0, code, stderr)
		var out struct {
			Sampler string `json:"sampler"`
			Metrics struct {
				SWD struct{ Value float64 } `json:"swd"`
			} `json:"metrics"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &out))
		require.Positive(t, out.Metrics.SWD.Value, smp)
	}
	_, stderr, code = runCLI(t, "eval", "--checkpoint", dir, "--sampler", "ddim", "--progress", "none")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "ddim needs a variance-preserving schedule")
	_, stderr, code = runCLI(t, "train", "--schedule", "flow", "--target", "v", "--out", filepath.Join(t.TempDir(), "v"), "--progress", "none")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "v-prediction needs a variance-preserving schedule")
}
