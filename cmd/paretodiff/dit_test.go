package main

import (
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/classifier"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// needMNIST skips where MNIST cannot be found only when there is no Go
// toolchain either (a copied test binary); elsewhere go test has it.
func needMNIST(t *testing.T) {
	t.Helper()
	if _, err := data.FindMNIST(); err != nil {
		if _, noGo := exec.LookPath("go"); noGo != nil {
			t.Skipf("no Go toolchain and no module cache here (a copied test binary): %v", err)
		}
		t.Fatalf("MNIST must be in the module cache wherever go test runs: %v", err)
	}
}

// tinyDiT are the flags of a tiny DiT run on MNIST: 16 tokens of 7×7
// pixels, width 8, one block of 2 heads.
func tinyDiT(out string, extra ...string) []string {
	return append([]string{"train", "--data", "mnist", "--model", "dit", "--patch", "7", "--width", "8", "--depth", "1", "--heads", "2",
		"--batch", "4", "--eval-size", "2", "--log-every", "2", "--progress", "none", "--out", out}, extra...)
}

// checkpointNet is the network spec of a run folder's checkpoint.
func checkpointNet(t *testing.T, dir string) nn.Spec {
	t.Helper()
	ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, run.CheckpointFile))
	require.NoError(t, err)
	return ck.Spec
}

// --model dit and dit-s build the presets (nn.DiTPreset "small" and "s"),
// the size flags given replace the preset's, and the input skips follow
// --skip and --sigma-data as for the ResMLP; the ResMLP's defaults are
// unchanged (256 wide, 3 blocks, inner width 512).
func TestTrainDiTModels(t *testing.T) {
	needMNIST(t)
	small, err := nn.DiTPreset("small")
	require.NoError(t, err)
	s, err := nn.DiTPreset("s")
	require.NoError(t, err)
	base := []string{"train", "--data", "mnist", "--batch", "2", "--eval-size", "1", "--steps", "1", "--progress", "none"}
	for _, c := range []struct {
		args []string
		want nn.DiTConfig
	}{
		{[]string{"--model", "dit"}, small},
		{[]string{"--model", "dit", "--learned-pos", "--mlp-ratio", "2", "--target", "x0"}, func() nn.DiTConfig {
			c := small
			c.LearnedPos, c.MLPRatio = true, 2
			return c
		}()},
		// DiT-S/2's width, heads and MLP ratio; patch and depth cut so that
		// one step is quick.
		{[]string{"--model", "dit-s", "--patch", "14", "--depth", "1", "--skip", "off", "--sigma-data", "0.25"}, func() nn.DiTConfig {
			c := s
			c.Patch, c.Depth = 14, 1
			return c
		}()},
	} {
		dir := filepath.Join(t.TempDir(), "run")
		_, stderr, code := runCLI(t, append(append(append([]string(nil), base...), "--out", dir), c.args...)...)
		require.Equal(t, 0, code, "%v: %s", c.args, stderr)
		net := checkpointNet(t, dir)
		require.Equal(t, "dit", net.Kind, c.args)
		require.Nil(t, net.ResMLP)
		got := *net.DiT
		require.Equal(t, []int{1, 28, 256}, []int{got.Channels, got.Side, got.FreqDim}, c.args)
		require.Equal(t, []int{c.want.Patch, c.want.Width, c.want.Depth, c.want.Heads}, []int{got.Patch, got.Width, got.Depth, got.Heads}, c.args)
		require.Equal(t, c.want.MLPRatio, got.MLPRatio, c.args)
		require.Equal(t, c.want.LearnedPos, got.LearnedPos, c.args)
		switch {
		case strings.Contains(strings.Join(c.args, " "), "x0"): // no noise part: no skips
			require.False(t, got.Preconditioned(), c.args)
		case strings.Contains(strings.Join(c.args, " "), "--skip off"):
			require.False(t, got.Skip)
			require.Equal(t, 0.25, got.SigmaData)
		default: // auto on MNIST with ε: both skips, as the ResMLP's
			require.True(t, got.Skip)
			require.Equal(t, 0.5, got.SigmaData)
		}
	}

	dir := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, "train", "--data", "toy:moons", "--steps", "1", "--batch", "2", "--eval-size", "1", "--progress", "none", "--out", dir)
	require.Equal(t, 0, code, stderr)
	net := checkpointNet(t, dir)
	require.Equal(t, "resmlp", net.Kind)
	require.Equal(t, []int{2, 256, 3, 512}, []int{net.ResMLP.Dim, net.ResMLP.Width, net.ResMLP.Depth, net.ResMLP.Hidden})
}

// Flags of the other network, impossible sizes and toy data for a DiT are
// usage errors: exit 2, one line, nothing on stdout, no run folder.
func TestTrainDiTBadInput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	mnist := func(extra ...string) []string {
		return append([]string{"train", "--data", "mnist", "--steps", "1", "--out", dir}, extra...)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{mnist("--model", "unet"), `--model "unet": want resmlp, dit, dit-s`},
		{[]string{"train", "--data", "toy:moons", "--model", "dit", "--out", dir}, "--model: the DiT needs image data (mnist), not toy:moons (2-dimensional points)"},
		{mnist("--model", "dit", "--hidden", "64"), "--hidden: only --model resmlp takes it, not dit"},
		{mnist("--model", "dit-s", "--act", "gelu"), "--act: only --model resmlp takes it, not dit-s"},
		{mnist("--heads", "4"), "--heads: only --model dit takes it, not resmlp"},
		{mnist("--patch", "4"), "--patch: only --model dit takes it, not resmlp"},
		{mnist("--mlp-ratio", "2"), "--mlp-ratio: only --model dit takes it, not resmlp"},
		{mnist("--learned-pos"), "--learned-pos: only --model dit takes it, not resmlp"},
		{mnist("--model", "dit", "--width", "0"), "--width and --depth must be ≥ 1"},
		{mnist("--model", "dit", "--depth", "-1"), "--width and --depth must be ≥ 1"},
		{mnist("--model", "dit", "--patch", "0"), "--patch and --heads must be ≥ 1"},
		{mnist("--model", "dit", "--heads", "0"), "--patch and --heads must be ≥ 1"},
		{mnist("--model", "dit", "--mlp-ratio", "-1"), "--mlp-ratio must be a finite number > 0, got -1"},
		{mnist("--model", "dit", "--patch", "5"), "--model: nn: dit needs a patch that divides the side, got side 28, patch 5"},
		{mnist("--model", "dit", "--heads", "3"), "--model: nn: dit needs a width divisible by heads, got width 64, heads 3"},
		{mnist("--model", "dit", "--width", "6", "--heads", "2"), "--model: nn: dit needs a width divisible by 4"},
		// conflict takes train's network flags and their checks.
		{[]string{"conflict", "--data", "mnist", "--heads", "2", "--out", dir}, "--heads: only --model dit takes it, not resmlp"},
		{[]string{"conflict", "--data", "toy:moons", "--model", "dit-s", "--out", dir}, "--model: the DiT needs image data (mnist), not toy:moons"},
	} {
		stdout, stderr, code := runCLI(t, c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Equal(t, "paretodiff: "+c.msg, strings.SplitN(strings.TrimSuffix(stderr, "\n"), "\n", 2)[0][:len("paretodiff: ")+len(c.msg)], "%v", c.args)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.Empty(t, stdout)
		require.NoDirExists(t, dir)
	}
}

// A DiT run resumes from its folder with its own sizes (a flag equal to
// the run's is fine, whichever preset it came from), and refuses another
// model or size in one line.
func TestTrainDiTResume(t *testing.T) {
	needMNIST(t)
	dir := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, tinyDiT(dir, "--steps", "2")...)
	require.Equal(t, 0, code, stderr)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--heads", "4"}, "--heads 4 differs from the run's 2; a resumed run keeps its settings"},
		{[]string{"--learned-pos"}, "--learned-pos true differs from the run's false"},
		{[]string{"--model", "resmlp"}, "--model resmlp differs from the run's dit; a resumed run keeps its settings"},
		{[]string{"--hidden", "4"}, "--hidden: only --model resmlp takes it, not dit"},
	} {
		args := append([]string{"train", "--out", dir, "--resume", "--steps", "4", "--progress", "none"}, c.args...)
		stdout, stderr, code := runCLI(t, args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg, c.args)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.Empty(t, stdout)
	}
	// Heads 2 with the small preset's width 64 would build too, but width
	// 8 and patch 7 are the run's, not the preset's: the run's sizes are
	// the base.
	_, stderr, code = runCLI(t, "train", "--out", dir, "--resume", "--steps", "3", "--progress", "none", "--heads", "2", "--model", "dit-s", "--patch", "7")
	require.Equal(t, 0, code, stderr)
	_, stderr, code = runCLI(t, "train", "--out", dir, "--resume", "--steps", "4", "--progress", "none")
	require.Equal(t, 0, code, stderr)
	ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, run.CheckpointFile))
	require.NoError(t, err)
	require.Equal(t, 4, ck.Step)
	require.Equal(t, 8, ck.Spec.DiT.Width)
}

// Everything that reads a checkpoint reads a DiT's (its Spec is in the
// checkpoint): sample, eval, conflict --checkpoint and export; conflict
// also trains one while probing.
func TestDiTCheckpointReaders(t *testing.T) {
	needMNIST(t)
	dir := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, tinyDiT(dir, "--steps", "4")...)
	require.Equal(t, 0, code, stderr)
	net := checkpointNet(t, dir)
	layout, err := net.Layout()
	require.NoError(t, err)
	params := 0
	for _, l := range layout {
		n := 1
		for _, d := range l.Shape {
			n *= d
		}
		params += n
	}

	samples := filepath.Join(t.TempDir(), "s.npy")
	_, stderr, code = runCLI(t, "sample", "--checkpoint", dir, "--n", "3", "--steps", "2", "--out", samples)
	require.Equal(t, 0, code, stderr)
	x, n, d := readNPY(t, samples)
	require.Equal(t, []int{3, data.MNISTDim}, []int{n, d})
	for _, v := range x {
		require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
	}

	saved := evalClassifier
	evalClassifier = classifier.Config{Arch: classifier.Arch{Hidden: []int{16}}, Epochs: 1, TrainSize: 500}
	t.Cleanup(func() { evalClassifier = saved })
	res := evalJSON(t, "--checkpoint", dir, "--n", "20", "--steps", "2", "--cache", t.TempDir())
	fd := metric(t, res, "fd", "value")
	require.False(t, math.IsNaN(fd) || fd < 0, "FD %v", fd)

	probe := filepath.Join(t.TempDir(), "probe")
	stdout, stderr, code := runCLI(t, "conflict", "--checkpoint", dir, "--out", probe, "--bins", "t:4", "--per-bin", "2", "--figures", "none", "--compare", "none")
	require.Equal(t, 0, code, stderr)
	info, recs, err := conflict.ReadLog(probe)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, 4, recs[0].Step)
	require.Equal(t, params, info.Selected, "every parameter of the DiT: %s", stdout)

	stdout, stderr, code = runCLI(t, "export", "--checkpoint", dir)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "exported the ema weights of step 4 (eps-prediction DiT, patch 7, width 8, depth 1, heads 2,")

	// conflict trains a DiT while probing, as train does.
	out := filepath.Join(t.TempDir(), "conflict")
	args := append(tinyDiT(out, "--steps", "2", "--every", "1", "--bins", "t:3", "--per-bin", "2", "--figures", "none", "--compare", "none"), "")[1:]
	args = append([]string{"conflict"}, args[:len(args)-1]...)
	_, stderr, code = runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	r, err := run.Open(out)
	require.NoError(t, err)
	_, recs, err = r.Probe(probeName)
	require.NoError(t, err)
	require.Len(t, recs, 3) // steps 0, 1 and 2
	require.Equal(t, "dit", r.Spec.Net.Kind)
}

// The online weightings (pareto:, mtl:, whose per-bin Grams run on the
// DiT's Linear layers) and the learned one train a DiT as they train a
// ResMLP.
func TestTrainDiTWeightings(t *testing.T) {
	needMNIST(t)
	for _, w := range []string{"learned", "pareto:fw,bins=t:4,every=1", "mtl:pcgrad,bins=t:4"} {
		dir := filepath.Join(t.TempDir(), "run")
		stdout, stderr, code := runCLI(t, tinyDiT(dir, "--steps", "3", "--weighting", w)...)
		require.Equal(t, 0, code, "%s: %s", w, stderr)
		require.Contains(t, stdout, "trained steps 1–3", w)
		r, err := run.Open(dir)
		require.NoError(t, err)
		require.Equal(t, 3, r.Step)
		require.Equal(t, "dit", r.Spec.Net.Kind)
		if w == "learned" {
			require.FileExists(t, filepath.Join(dir, "learned.csv"))
		}
	}
}

// conflict --gram ghost (every Linear layer, token-wise ones included, by
// the ghost products over token rows) and the default one-pass choice equal
// --gram reference (one backward pass per bin) on every entry of the Gram,
// to cliGramTol of √(G_kk·G_ll), on a tiny DiT of every target (flow on
// the flow schedule), with fixed and learned positions and the input
// skips, for several K and bins of unequal width.
func TestConflictDiTGhostEqualsReference(t *testing.T) {
	needMNIST(t)
	cases := []struct {
		name  string
		train []string
		bins  string
	}{
		{"eps", []string{"--target", "eps"}, "t:3"},
		{"x0 learned-pos", []string{"--target", "x0", "--learned-pos"}, "edges:0,100,400,1000"},
		{"v skips", []string{"--target", "v", "--skip", "on"}, "logsnr:5"},
		{"flow", []string{"--schedule", "flow", "--target", "flow"}, "t:4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			_, stderr, code := runCLI(t, tinyDiT(dir, append([]string{"--steps", "3", "--depth", "2"}, tc.train...)...)...)
			require.Equal(t, 0, code, stderr)
			gram := func(how string) conflict.Record {
				out := t.TempDir()
				_, stderr, code := runCLI(t, "conflict", "--checkpoint", dir, "--bins", tc.bins, "--per-bin", "3", "--gram", how,
					"--out", out, "--figures", "none", "--compare", "none")
				require.Equal(t, 0, code, stderr)
				_, recs, err := conflict.ReadLog(out)
				require.NoError(t, err)
				require.Len(t, recs, 1)
				return recs[0]
			}
			ref := gram("reference")
			K := ref.Gram.SymmetricDim()
			for _, how := range []string{"ghost", "auto"} {
				fast := gram(how)
				require.Equal(t, K, fast.Gram.SymmetricDim())
				for k := 0; k < K; k++ {
					for l := 0; l < K; l++ {
						scale := math.Sqrt(ref.Gram.At(k, k) * ref.Gram.At(l, l))
						require.Greater(t, scale, 0.0)
						require.InDelta(t, ref.Gram.At(k, l), fast.Gram.At(k, l), cliGramTol*scale, "--gram %s, entry (%d, %d)", how, k, l)
					}
				}
			}
		})
	}
}
