package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// legacyRuns are run folders written by the release before the run layer
// (run/testdata/legacy, see its README): every command that reads a run
// folder reads them.
var legacyRuns = []string{"train", "train-pareto", "conflict", "demo/model",
	"reproduce/v_min-snr-5_s1_715a91b1007e", "reproduce/v_min-snr-5_s1_probe_ce2851d50b84"}

func TestCommandsReadLegacyRunFolders(t *testing.T) {
	for _, name := range legacyRuns {
		dir := filepath.Join("..", "..", "run", "testdata", "legacy", name)
		out := t.TempDir()
		stdout, stderr, code := runCLI(t, "sample", "--checkpoint", dir, "--n", "16", "--steps", "3", "--progress", "none", "--out", filepath.Join(out, "s.npy"))
		require.Equal(t, 0, code, "%s: %s", name, stderr)
		require.Contains(t, stdout, "wrote 16 samples", name)

		stdout, stderr, code = runCLI(t, "eval", "--checkpoint", dir, "--n", "32", "--steps", "3", "--progress", "none")
		require.Equal(t, 0, code, "%s: %s", name, stderr)
		require.Contains(t, stdout, `"swd"`, name)

		stdout, stderr, code = runCLI(t, "conflict", "--checkpoint", dir, "--bins", "t:4", "--per-bin", "4", "--figures", "none", "--out", filepath.Join(out, "c"))
		require.Equal(t, 0, code, "%s: %s", name, stderr)
		require.True(t, strings.HasPrefix(stdout, "probe step "), "%s: %s", name, stdout)
	}
}
