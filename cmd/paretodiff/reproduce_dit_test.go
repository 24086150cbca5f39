package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/classifier"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/stretchr/testify/require"
)

// cacheFolders are the run folders of a model cache.
func cacheFolders(t *testing.T, models string) []string {
	t.Helper()
	entries, err := os.ReadDir(models)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// reproduce --model dit at smoke scale (a tiny DiT on MNIST) trains DiT
// runs only (labels dit_…), which its reports name; a ResMLP run of the
// same targets in the same cache reuses none of them, and a second DiT run
// trains nothing.
func TestReproduceSmokeDiT(t *testing.T) {
	needMNIST(t)
	t.Setenv(classifier.CacheEnv, t.TempDir())
	dir := t.TempDir()
	args := []string{"reproduce", "fig5", "conflict", "--scale", "smoke", "--model", "dit", "--out", dir, "--quiet"}
	stdout, stderr, code := runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "index: ")
	dits := cacheFolders(t, filepath.Join(dir, "models"))
	require.NotEmpty(t, dits)
	for _, f := range dits {
		require.True(t, strings.HasPrefix(f, "dit_"), f)
	}
	rep, err := os.ReadFile(filepath.Join(dir, "fig5", "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(rep), "Scale `smoke`, model `dit`, seed 1")
	require.Contains(t, string(rep), "| Net | dit |")
	require.Contains(t, string(rep), "| Patch | 7 |")
	idx, err := os.ReadFile(filepath.Join(dir, "index.md"))
	require.NoError(t, err)
	require.Contains(t, string(idx), "Scale `smoke`, model `dit`, seed 1")

	_, stderr, code = runCLI(t, "reproduce", "fig5", "--scale", "smoke", "--out", dir, "--quiet")
	require.Equal(t, 0, code, stderr)
	rep, err = os.ReadFile(filepath.Join(dir, "fig5", "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(rep), ", 0 reused from the cache)", "the ResMLP run reuses no DiT model")
	require.NotContains(t, string(rep), "model `")
	require.Greater(t, len(cacheFolders(t, filepath.Join(dir, "models"))), len(dits))

	_, stderr, code = runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	rep, err = os.ReadFile(filepath.Join(dir, "fig5", "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(rep), "(0 models trained")
}

// A sweep of a DiT: plan and train-one take --model, a line of the DiT's
// plan is found only in the DiT's plan, and a model the scale cannot train
// is a one-line usage error in every subcommand.
func TestReproduceSweepDiT(t *testing.T) {
	needMNIST(t)
	t.Setenv(classifier.CacheEnv, t.TempDir())
	models := t.TempDir()
	plan, err := reproduce.Plan(&reproduce.Env{Scale: reproduce.Smoke, Model: "dit", Seed: 1}, reproduce.Targets())
	require.NoError(t, err)
	stdout, stderr, code := runCLI(t, "reproduce", "plan", "--scale", "smoke", "--model", "dit")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, len(plan))
	require.Contains(t, lines[0], `"key":"`+plan[0].Key+`"`)
	require.Contains(t, lines[0], `"kind":"dit"`)

	stdout, stderr, code = runCLI(t, "reproduce", "train-one", "--scale", "smoke", "--model", "dit", "--index", "0", "--models", models, "--quiet")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "trained "+plan[0].Key)
	require.DirExists(t, filepath.Join(models, plan[0].Key))

	line := filepath.Join(t.TempDir(), "run.jsonl")
	require.NoError(t, os.WriteFile(line, []byte(lines[0]+"\n"), 0o644))
	stdout, stderr, code = runCLI(t, "reproduce", "train-one", "--scale", "smoke", "--model", "dit", "--spec", line, "--models", models, "--quiet")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "complete in the cache, nothing trained")

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"reproduce", "train-one", "--scale", "smoke", "--spec", line, "--models", models}, "is not in the plan"},
		{[]string{"reproduce", "fig5", "--scale", "quick", "--model", "dit", "--out", t.TempDir()}, "--model: reproduce: --model dit needs image data: the quick scale trains on toy:checkerboard (2-D points); use the medium or paper scale"},
		{[]string{"reproduce", "plan", "--scale", "quick", "--model", "dit-s"}, "--model: reproduce: --model dit-s needs image data"},
		{[]string{"reproduce", "train-one", "--scale", "smoke", "--model", "unet", "--index", "0", "--models", models}, `--model: reproduce: unknown model "unet" (want resmlp, dit, dit-s)`},
	} {
		stdout, stderr, code := runCLI(t, c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg, c.args)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.Empty(t, stdout)
	}
}
