package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReproduceWeights(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := runCLI(t, "reproduce", "weights", "--out", dir, "--scale", "smoke")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "weights")
	require.Contains(t, stdout, "agrees")
	require.Contains(t, stderr, "weights: start")
	for _, f := range []string{"weights.png", "weights.csv", "report.md"} {
		_, err := os.Stat(filepath.Join(dir, "weights", f))
		require.NoError(t, err)
	}
	_, err := os.Stat(filepath.Join(dir, "index.md"))
	require.True(t, os.IsNotExist(err), "one target writes no index")
}

func TestReproduceSmokeTwoTargetsQuiet(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := runCLI(t, "reproduce", "fig5", "fig6", "--scale", "smoke", "--out", dir, "--quiet", "--seed", "4")
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stderr, "--quiet prints no progress")
	require.Contains(t, stdout, "index: ")
	idx, err := os.ReadFile(filepath.Join(dir, "index.md"))
	require.NoError(t, err)
	require.Contains(t, string(idx), "(fig5/report.md)")
	require.Contains(t, string(idx), "(fig6/report.md)")
	rep, err := os.ReadFile(filepath.Join(dir, "fig6", "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(rep), "seed 4")
}

func TestReproduceHelpListsTargets(t *testing.T) {
	stdout, _, code := runCLI(t, "reproduce", "--help")
	require.Equal(t, 0, code)
	for _, name := range []string{"weights", "fig2", "fig5", "fig6", "table2", "all"} {
		require.Contains(t, stdout, "  "+name+" ")
	}
}

func TestReproduceBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		{"reproduce"},
		{"reproduce", "fig99", "--out", dir},
		{"reproduce", "weights", "--scale", "huge", "--out", dir},
		{"reproduce", "weights", "--device", "tpu", "--out", dir},
		{"reproduce", "weights", "--out", ""},
		{"reproduce", "weights", "--seed", "-1", "--out", dir},
	}
	for _, args := range cases {
		stdout, stderr, code := runCLI(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.True(t, strings.HasPrefix(stderr, "paretodiff: "), stderr)
		require.Empty(t, stdout)
	}
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries, "bad input writes nothing")
}
