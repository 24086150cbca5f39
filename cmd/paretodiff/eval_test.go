package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/classifier"
	"github.com/stretchr/testify/require"
)

// testClassifier is the reduced MNIST classifier the eval tests use: a
// third of the training set for 3 epochs, about 96% test accuracy in a few
// seconds, where the default (98%) takes tens of seconds. FD's properties
// do not depend on which of the two gives the features (the classifier
// package tests them on the reduced one).
var testClassifier = classifier.Config{Epochs: 3, TrainSize: 20000, Seed: 3}

// mnistFDRatio: after 600 steps a small MNIST model draws digit-like blobs;
// its FD must be at most this share of the untrained model's (measured
// 210/637 = 0.33 with the reduced classifier and n = 500).
const mnistFDRatio = 0.6

// The "Done when" for MNIST at test size: FD of a trained model far
// below an untrained one's; and eval's MNIST output.
func TestEvalMNIST(t *testing.T) {
	saved := evalClassifier
	evalClassifier = testClassifier
	t.Cleanup(func() { evalClassifier = saved })
	cache := t.TempDir()

	run := filepath.Join(t.TempDir(), "mnist")
	_, stderr, code := runCLI(t, "train", "--data", "mnist", "--width", "64", "--depth", "1", "--batch", "64", "--steps", "600",
		"--target", "v", "--lr", "2e-3", "--ema", "0.99", "--eval-size", "32", "--log-every", "300", "--progress", "none", "--out", run)
	require.Equal(t, 0, code, stderr)

	args := []string{"eval", "--checkpoint", run, "--n", "500", "--sampler", "ddim", "--steps", "10", "--cache", cache, "--progress", "none"}
	stdout, stderr, code := runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "classifier: training the MNIST feature classifier once")
	require.Contains(t, stderr, "test accuracy")
	res := evalJSON(t, args[1:]...) // the second call loads the cached classifier
	require.NotEmpty(t, stdout)

	fd, real := metric(t, res, "fd", "value"), metric(t, res, "fd", "train_vs_test")
	cls := res["classifier"].(map[string]any)
	require.Equal(t, true, cls["cached"])
	require.GreaterOrEqual(t, cls["test_accuracy"].(float64), 0.94)
	require.True(t, strings.HasPrefix(cls["path"].(string), cache))
	le := res["label_entropy"].(map[string]any)
	for _, k := range []string{"mean", "marginal", "inception_score"} {
		v := le[k].(float64)
		require.True(t, v >= 0 && !math.IsInf(v, 0), "%s = %v", k, v)
		require.Contains(t, le["train"], k)
	}
	// Real digits: confident (low mean entropy) and all classes (marginal
	// near ln 10).
	train := le["train"].(map[string]any)
	require.Less(t, train["mean"].(float64), 0.3)
	require.InDelta(t, math.Log(10), train["marginal"].(float64), 0.05)

	res0 := evalJSON(t, append(args[1:], "--untrained")...)
	fd0 := metric(t, res0, "fd", "value")
	t.Logf("FD trained %.1f, untrained %.1f, train-vs-test %.2f (n = 500)", fd, fd0, real)
	require.Less(t, real, fd, "real digits are closer to the test set than samples")
	require.Less(t, fd, mnistFDRatio*fd0)
	require.Equal(t, real, metric(t, res0, "fd", "train_vs_test"), "the reference set depends only on the seed")

	// A damaged cache file is retrained, never trusted.
	files, _ := filepath.Glob(filepath.Join(cache, "mnist-classifier-*.bin"))
	require.Len(t, files, 1)
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	raw[len(raw)/3] ^= 0x40
	require.NoError(t, os.WriteFile(files[0], raw, 0o644))
	_, stderr, code = runCLI(t, args...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "not using the cached classifier")
	require.Contains(t, stderr, "SHA-256 mismatch")

	// An empty or wrong --mnist-dir is bad input, as everywhere.
	_, stderr, code = runCLI(t, append(args, "--mnist-dir", t.TempDir())...)
	require.Equal(t, 2, code, stderr)
	require.True(t, strings.HasPrefix(stderr, "paretodiff: --mnist-dir: data: cannot open MNIST file"), stderr)
}
