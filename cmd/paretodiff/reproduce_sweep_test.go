package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paretodiff/paretodiff/internal/filelock"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/run"
	"github.com/stretchr/testify/require"
)

// asCLI returns a command that runs the test binary as paretodiff.
func asCLI(t *testing.T, args ...string) *exec.Cmd {
	exe, err := os.Executable()
	require.NoError(t, err)
	c := exec.Command(exe, args...)
	c.Env = append(os.Environ(), childEnv+"=1")
	return c
}

// csvFiles returns every CSV under dir (models/ aside) by its path
// relative to dir.
func csvFiles(t *testing.T, dir string) map[string][]byte {
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "models" {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".csv") {
			rel, _ := filepath.Rel(dir, p)
			out[rel], err = os.ReadFile(p)
		}
		return err
	})
	require.NoError(t, err)
	return out
}

// The smoke scale as a sweep: plan's lines trained by train-one in two
// processes at once (plan | xargs -P 2), then `reproduce all
// --cached-only`, which trains nothing, writes the same CSVs byte for byte
// as a serial `reproduce all` in another folder.
func TestSweepMatchesSerialRun(t *testing.T) {
	serial, sweep := t.TempDir(), t.TempDir()
	_, stderr, code := runCLI(t, "reproduce", "all", "--scale", "smoke", "--out", serial, "--quiet")
	require.Equal(t, 0, code, stderr)

	exe, err := os.Executable()
	require.NoError(t, err)
	pipeline := `"$EXE" reproduce plan all --scale smoke | sed -E 's/^\{"index":([0-9]+),.*/\1/' | ` +
		`xargs -P 2 -I{} "$EXE" reproduce train-one --scale smoke --index {} --out "$OUT" --quiet`
	sh := exec.Command("sh", "-c", pipeline)
	sh.Env = append(os.Environ(), childEnv+"=1", "EXE="+exe, "OUT="+sweep)
	out, err := sh.CombinedOutput()
	require.NoError(t, err, "%s", out)
	plan, err := reproduce.Plan(&reproduce.Env{Scale: reproduce.Smoke, Seed: 1}, reproduce.Targets())
	require.NoError(t, err)
	for _, p := range plan {
		require.Contains(t, string(out), "run "+strconv.Itoa(p.Index)+" "+p.Key+": complete")
		require.Equal(t, 1, strings.Count(string(out), "trained "+p.Key+"\n"), "%s is trained once (a fine-tune's task finds its base trained or trains it)", p.Key)
	}

	stdout, stderr, code := runCLI(t, "reproduce", "all", "--scale", "smoke", "--out", sweep, "--cached-only")
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, stderr, "step 20/40", "no run trains")
	require.Contains(t, stdout, "index: ")
	for _, name := range reproduce.Names() {
		rep, err := os.ReadFile(filepath.Join(sweep, name, "report.md"))
		require.NoError(t, err)
		if name != "weights" {
			require.Contains(t, string(rep), " (0 models trained, ", name)
		}
	}
	want, got := csvFiles(t, serial), csvFiles(t, sweep)
	require.Len(t, got, len(want))
	require.Greater(t, len(want), 15)
	for f, b := range want {
		require.True(t, bytes.Equal(b, got[f]), "%s differs between the serial run and the sweep", f)
	}
}

// syncBuffer is a bytes.Buffer for a child's output read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startTrainOne starts train-one of a plan index as a separate process.
func startTrainOne(t *testing.T, out string, index int) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	c := asCLI(t, "reproduce", "train-one", "--scale", "smoke", "--index", strconv.Itoa(index), "--out", out)
	var stdout, stderr syncBuffer
	c.Stdout, c.Stderr = &stdout, &stderr
	require.NoError(t, c.Start())
	return c, &stdout, &stderr
}

// waitFor waits until every buffer holds s (a minute at most).
func waitFor(t *testing.T, s string, bufs ...*syncBuffer) {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		all := true
		for _, b := range bufs {
			all = all && strings.Contains(b.String(), s)
		}
		if all {
			return
		}
		require.True(t, time.Now().Before(deadline), "no %q in a minute", s)
	}
}

// The lock between processes: two train-one of one index at once (both
// started while the run's lock is held, so both wait, then race for it)
// end with one complete folder, trained once, as the serial run trains it;
// a task stopped by SIGTERM while it waits exits 143 with one line.
func TestTrainOneTwiceAtOnce(t *testing.T) {
	plan, err := reproduce.Plan(&reproduce.Env{Scale: reproduce.Smoke, Seed: 1}, reproduce.Targets())
	require.NoError(t, err)
	const index = 0
	key := plan[index].Key
	out := t.TempDir()
	models := filepath.Join(out, "models")
	require.NoError(t, os.MkdirAll(models, 0o755))
	held, err := filelock.Acquire(context.Background(), filepath.Join(models, key+".lock"), nil)
	require.NoError(t, err)

	a, aOut, aErr := startTrainOne(t, out, index)
	b, bOut, bErr := startTrainOne(t, out, index)
	c, _, cErr := startTrainOne(t, out, index)
	waitFor(t, "another process is training it (pid ", aErr, bErr, cErr)
	require.NoError(t, c.Process.Signal(syscall.SIGTERM))
	err = c.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 143, exit.ExitCode(), cErr.String())
	last := strings.Split(strings.TrimSpace(cErr.String()), "\n")
	require.Contains(t, last[len(last)-1], "paretodiff: interrupted; the checkpoints in ")

	require.NoError(t, held.Release())
	require.NoError(t, a.Wait(), aErr.String())
	require.NoError(t, b.Wait(), bErr.String())
	outs := aOut.String() + bOut.String()
	require.Equal(t, 1, strings.Count(outs, "trained "+key+"\n"), outs)
	require.Equal(t, 1, strings.Count(outs, "complete in the cache, nothing trained"), outs)

	r, err := run.Open(filepath.Join(models, key))
	require.NoError(t, err)
	require.True(t, r.Complete)
	serial := t.TempDir()
	_, stderr, code := runCLI(t, "reproduce", "train-one", "--scale", "smoke", "--index", strconv.Itoa(index), "--models", serial, "--quiet")
	require.Equal(t, 0, code, stderr)
	want, err := os.ReadFile(filepath.Join(serial, key, run.CheckpointFile))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(models, key, run.CheckpointFile))
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "the checkpoint of the serial run")
	temps, _ := filepath.Glob(filepath.Join(models, key, ".*.tmp-*"))
	require.Empty(t, temps)
}

// Bad input to plan, train-one and the cached-only analysis: exit 2, one
// line on stderr, nothing written.
func TestSweepBadInput(t *testing.T) {
	work := t.TempDir()
	out := filepath.Join(work, "out")
	line := func(name, text string) string {
		p := filepath.Join(work, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	plan, stderr, code := runCLI(t, "reproduce", "plan", "all", "--scale", "smoke")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(plan), "\n")
	other, _, code := runCLI(t, "reproduce", "plan", "all", "--scale", "smoke", "--seed", "2")
	require.Equal(t, 0, code)
	n := strconv.Itoa(len(lines))
	trainOne := func(extra ...string) []string {
		return append([]string{"reproduce", "train-one", "--scale", "smoke", "--out", out}, extra...)
	}
	cases := []struct {
		args []string
		msg  string
	}{
		{trainOne("--index", n), "--index " + n + " is out of range: the plan's indices are 0 to " + strconv.Itoa(len(lines)-1)},
		{trainOne("--index", "-1"), "out of range"},
		{trainOne("fig3", "--index", "99"), "out of range"},
		{trainOne(), "give either --index or --spec"},
		{trainOne("--index", "0", "--spec", line("ok.jsonl", lines[0])), "give either --index or --spec"},
		{trainOne("--spec", line("cut.jsonl", lines[0][:len(lines[0])/2])), "not a line of `paretodiff reproduce plan`"},
		{trainOne("--spec", line("two.jsonl", lines[0]+"\n"+lines[1]+"\n")), "want one line"},
		{trainOne("--spec", line("other.jsonl", strings.SplitN(other, "\n", 2)[0])), "is not in the plan"},
		{trainOne("--spec", line("steps.jsonl", strings.Replace(lines[0], `"steps":40`, `"steps":39`, 1))), "its spec differs: steps"},
		{trainOne("--spec", filepath.Join(work, "missing.jsonl")), "no such file"},
		{trainOne("fig99", "--index", "0"), `unknown target "fig99"`},
		{trainOne("--index", "0", "--scale", "huge"), "--scale"},
		{[]string{"reproduce", "plan", "--scale", "huge"}, "--scale"},
		{[]string{"reproduce", "plan", "fig99"}, `unknown target "fig99"`},
		{[]string{"reproduce", "fig3", "--scale", "smoke", "--out", out, "--cached-only", "--quiet"}, "not in the model cache"},
	}
	for _, c := range cases {
		stdout, stderr, code := runCLI(t, c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.True(t, strings.HasPrefix(stderr, "paretodiff: "), stderr)
		require.Contains(t, stderr, c.msg, c.args)
		require.Empty(t, stdout)
	}
	runs, _ := filepath.Glob(filepath.Join(out, "models", "*_*[0-9a-f]"))
	require.Empty(t, runs, "bad input trains nothing")
}
