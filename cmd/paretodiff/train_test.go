package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/stretchr/testify/require"
)

// smallTrain are the flags of a fast toy run shared by the tests.
var smallTrain = []string{"train", "--data", "toy:moons", "--width", "24", "--depth", "1", "--batch", "32",
	"--eval-size", "32", "--log-every", "5", "--progress", "none", "--seed", "4"}

func trainArgs(out string, extra ...string) []string {
	return append(append(append([]string(nil), smallTrain...), "--out", out), extra...)
}

// metricLines returns the metrics records without their timing fields.
func metricLines(t *testing.T, path string) []map[string]any {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := map[string]any{}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		delete(m, "elapsed_s")
		delete(m, "steps_per_s")
		out = append(out, m)
	}
	return out
}

func TestTrainToyWritesRunFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := runCLI(t, trainArgs(dir, "--steps", "20", "--progress", "lines", "--target", "v")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "trained steps 1–20")
	for _, f := range []string{"spec.json", "checkpoint.bin", "metrics.jsonl", "progress.json", "done.json"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	require.Contains(t, stderr, "step 20/20  loss ")
	recs := metricLines(t, filepath.Join(dir, "metrics.jsonl"))
	require.Len(t, recs, 4)
	require.Equal(t, 20.0, recs[3]["step"])
	for _, k := range []string{"loss", "eval_loss", "x0_mse_0_100", "x0_mse_800_900", "grad_norm", "lr"} {
		require.Contains(t, recs[3], k)
	}
	ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, 20, ck.Step)
	require.Equal(t, "v", ck.Config.Target)
	require.Equal(t, "toy:moons", ck.Config.Data)
	require.False(t, ck.Spec.ResMLP.Preconditioned(), "auto: no input skips for toy data")
	var spec struct {
		Spec struct {
			Train struct {
				Weighting string `json:"weighting"`
			} `json:"train"`
			Steps int `json:"steps"`
		} `json:"spec"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &spec))
	require.Equal(t, "min-snr:5", spec.Spec.Train.Weighting)
	require.Equal(t, 20, spec.Spec.Steps)
}

func TestTrainMNISTSmall(t *testing.T) {
	if _, err := data.FindMNIST(); err != nil {
		if _, noGo := exec.LookPath("go"); noGo != nil {
			t.Skipf("no Go toolchain and no module cache here (a copied test binary): %v", err)
		}
		t.Fatalf("MNIST must be in the module cache wherever go test runs: %v", err)
	}
	mnist := func(out string, extra ...string) []string {
		return append([]string{"train", "--data", "mnist", "--width", "16", "--depth", "1", "--batch", "8",
			"--eval-size", "4", "--progress", "none", "--out", out}, extra...)
	}
	dir := t.TempDir()
	_, stderr, code := runCLI(t, mnist(dir, "--steps", "3")...)
	require.Equal(t, 0, code, stderr)
	ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, "checkpoint.bin"))
	require.NoError(t, err)
	require.Equal(t, 784, ck.Spec.ResMLP.Dim)
	// auto: the ε target gets both input skips on MNIST; a resume keeps
	// them and refuses to drop one.
	require.True(t, ck.Spec.ResMLP.Skip)
	require.Equal(t, 0.5, ck.Spec.ResMLP.SigmaData)
	_, stderr, code = runCLI(t, mnist(dir, "--steps", "4", "--resume", "--skip", "off")...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--skip off differs from the run's on")
	_, stderr, code = runCLI(t, mnist(dir, "--steps", "4", "--resume", "--skip", "true")...)
	require.Equal(t, 0, code, stderr)
	// x0 has no noise part: no skips; explicit values override auto.
	for _, c := range []struct {
		args  []string
		skip  bool
		sigma float64
	}{
		{[]string{"--target", "x0"}, false, 0},
		{[]string{"--target", "v", "--skip", "off", "--sigma-data", "0.3"}, false, 0.3},
		{[]string{"--target", "x0", "--skip", "on"}, true, 0},
	} {
		dir := t.TempDir()
		_, stderr, code := runCLI(t, mnist(dir, append(c.args, "--steps", "2")...)...)
		require.Equal(t, 0, code, stderr)
		ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, "checkpoint.bin"))
		require.NoError(t, err)
		require.Equal(t, c.skip, ck.Spec.ResMLP.Skip, "%v", c.args)
		require.Equal(t, c.sigma, ck.Spec.ResMLP.SigmaData, "%v", c.args)
	}

	// Missing MNIST files are bad input, and nothing is left behind.
	out := filepath.Join(t.TempDir(), "run")
	_, stderr, code = runCLI(t, "train", "--data", "mnist", "--mnist-dir", t.TempDir(), "--steps", "3", "--out", out)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "cannot open MNIST file")
	require.NoDirExists(t, out)
}

func TestTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"train"}, "--out: give a run folder"},
		{trainArgs(dir, "--device", "tpu"), `--device "tpu": want cpu, cuda or auto`},
		{trainArgs(dir, "--data", "cifar"), `unknown data "cifar"`},
		{trainArgs(dir, "--weighting", "min-snr:-1"), "γ must be positive"},
		{trainArgs(dir, "--target", "score"), `unknown target "score"`},
		{trainArgs(dir, "--schedule", "sigmoid"), `unknown schedule "sigmoid"`},
		{trainArgs(dir, "--density", "gauss"), "unknown density"},
		{trainArgs(dir, "--model", "unet"), `--model "unet"`},
		{trainArgs(dir, "--act", "relu"), `unknown activation "relu"`},
		{trainArgs(dir, "--skip", "maybe"), `--skip "maybe": want on, off or auto`},
		{trainArgs(dir, "--sigma-data", "-1"), `--sigma-data "-1": want auto or a finite number ≥ 0`},
		{trainArgs(dir, "--steps", "0"), "--steps must be ≥ 1"},
		{trainArgs(dir, "--lr", "-1"), "learning rate"},
		{trainArgs(dir, "--ema", "1"), "EMA decay"},
		{trainArgs(dir, "--width", "0"), "--width and --depth"},
		{trainArgs(dir, "--progress", "fancy"), `--progress "fancy"`},
		{trainArgs(dir, "--resume"), "--resume: run:"},
		{trainArgs(dir, "--weighting", "pareto:fw,bins=1"), "--weighting: conflict:"},
		{trainArgs(dir, "--density", "range:5,3"), "--density: weighting:"},
	} {
		stdout, stderr, code := runCLI(t, c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg, "%v", c.args)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.Empty(t, stdout)
	}

	// An existing run is not overwritten, and a resume keeps its settings.
	_, stderr, code := runCLI(t, trainArgs(dir, "--steps", "5")...)
	require.Equal(t, 0, code, stderr)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{trainArgs(dir, "--steps", "10"), "already holds a run: add --resume"},
		{trainArgs(dir, "--steps", "10", "--resume", "--width", "32"), "--width 32 differs from the run's 24"},
		{trainArgs(dir, "--steps", "10", "--resume", "--weighting", "snr"), "--weighting snr differs"},
		{trainArgs(dir, "--steps", "5", "--resume"), "already at step 5"},
	} {
		_, stderr, code := runCLI(t, c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg)
	}
	// Flags equal to the checkpoint's are fine, even spelled differently.
	_, stderr, code = runCLI(t, trainArgs(dir, "--steps", "8", "--resume", "--lr", "0.0010")...)
	require.Equal(t, 0, code, stderr)
}

// childEnv makes the test binary act as the paretodiff command (see
// TestMain), so a test can start it as a separate process and kill it.
const childEnv = "PARETODIFF_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// A real stop of a separate process training the run, then --resume: the
// run ends bit for bit where an uninterrupted run ends, with the same
// metrics, and no temporary file of the stopped process is left.
//   - SIGKILL (no chance to react), with a checkpoint every step: the
//     checkpoint on disk survives;
//   - SIGTERM (what a preempted Slurm or Kubernetes job gets), as Ctrl-C:
//     the run writes the checkpoint of its last step and exits 143, the
//     shell's 128 + 15, with progress.json saying "interrupted".
func TestTrainStopAndResume(t *testing.T) {
	const steps = "300"
	straight := t.TempDir()
	_, stderr, code := runCLI(t, trainArgs(straight, "--steps", steps)...)
	require.Equal(t, 0, code, stderr)
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, c := range []struct {
		sig                      syscall.Signal
		checkpointEvery, atLeast int
		exit                     int // -1: killed by the signal
	}{{syscall.SIGKILL, 1, 7, -1}, {syscall.SIGTERM, 50, 50, 143}} {
		dir := t.TempDir()
		child := exec.Command(exe, trainArgs(dir, "--steps", "1000000", "--checkpoint-every", strconv.Itoa(c.checkpointEvery))...)
		child.Env = append(os.Environ(), childEnv+"=1")
		var childErr strings.Builder
		child.Stderr = &childErr
		require.NoError(t, child.Start())
		ckPath := filepath.Join(dir, "checkpoint.bin")
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if ck, err := diffusion.LoadCheckpoint(ckPath); err == nil && ck.Step >= c.atLeast {
				break
			}
		}
		require.NoError(t, child.Process.Signal(c.sig))
		err = child.Wait()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%v: %s", c.sig, childErr.String())
		require.Equal(t, c.exit, exit.ExitCode(), "%v: %s", c.sig, childErr.String())
		ck, err := diffusion.LoadCheckpoint(ckPath)
		require.NoError(t, err, "%v: the checkpoint survives", c.sig)
		require.GreaterOrEqual(t, ck.Step, c.atLeast, c.sig)
		require.Less(t, ck.Step, 300, "%v: stopped before the comparison point", c.sig)
		if c.sig == syscall.SIGTERM {
			require.Contains(t, childErr.String(), "interrupted (received terminated) with the checkpoint of step")
			raw, err := os.ReadFile(filepath.Join(dir, "progress.json"))
			require.NoError(t, err)
			require.Contains(t, string(raw), `"state": "interrupted"`)
		}

		_, stderr, code = runCLI(t, trainArgs(dir, "--steps", steps, "--resume")...)
		require.Equal(t, 0, code, stderr)
		a, err := diffusion.LoadCheckpoint(filepath.Join(straight, "checkpoint.bin"))
		require.NoError(t, err)
		b, err := diffusion.LoadCheckpoint(ckPath)
		require.NoError(t, err)
		require.Equal(t, a.Params, b.Params, "%v: parameters", c.sig)
		require.Equal(t, a.M, b.M)
		require.Equal(t, a.V, b.V)
		require.Equal(t, a.EMA, b.EMA)
		require.Equal(t, metricLines(t, filepath.Join(straight, "metrics.jsonl")), metricLines(t, filepath.Join(dir, "metrics.jsonl")), c.sig)
		stale, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
		require.Empty(t, stale, "%v: temporary files of the stopped write are cleaned up", c.sig)
	}
}

// One loss number: the progress line of a record's step prints that
// record's loss (the mean weighted training loss since the previous
// record), as metrics.jsonl holds it.
func TestProgressLossIsTheRecordsLoss(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, trainArgs(dir, "--steps", "15", "--progress", "lines")...)
	require.Equal(t, 0, code, stderr)
	recs := metricLines(t, filepath.Join(dir, "metrics.jsonl"))
	require.Len(t, recs, 3)
	for _, r := range recs {
		line := fmt.Sprintf("step %d/15  loss %.4g  ", int(r["step"].(float64)), r["loss"].(float64))
		require.Contains(t, stderr, line)
	}
}
