package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/matio"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// Foreign files: the start of a PNG image, and text.
const (
	foreignPNG  = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
	foreignText = "This is not a data file.\nIt has two lines.\n"
)

// badFile is a damaged or foreign version of an input file.
type badFile struct {
	name string
	data []byte
}

// damaged returns a file's versions cut at each of cuts (a negative cut
// counts from the end), bit-flipped (at flip, with the bit mask), empty and
// foreign, and the extra ones given.
func damaged(good []byte, cuts []int, flip int, mask byte, extra ...badFile) []badFile {
	flipped := bytes.Clone(good)
	flipped[flip] ^= mask
	var out []badFile
	for _, n := range cuts {
		if n < 0 {
			n += len(good)
		}
		out = append(out, badFile{fmt.Sprintf("truncated to %d of %d bytes", n, len(good)), bytes.Clone(good[:n])})
	}
	return append(append(out,
		badFile{"empty", nil},
		badFile{"bit-flipped", flipped},
		badFile{"foreign PNG", []byte(foreignPNG)},
		badFile{"foreign text", []byte(foreignText)},
	), extra...)
}

// requireBadInput checks the outcome of a command given a bad file: exit
// status 2, nothing on stdout, one line on stderr starting "paretodiff: "
// and naming the file at path (unless path is empty), and no panic.
func requireBadInput(t *testing.T, path string, args ...string) {
	t.Helper()
	stdout, stderr, code := runCLI(t, args...)
	require.Equal(t, 2, code, "%v: %s", args, stderr)
	require.Empty(t, stdout)
	require.True(t, strings.HasPrefix(stderr, "paretodiff: "), stderr)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	require.True(t, strings.HasSuffix(stderr, "\n"), stderr)
	if path != "" {
		require.Contains(t, stderr, path, "the error names the file")
	}
	for _, s := range []string{"panic", "goroutine", "runtime error"} {
		require.NotContains(t, stderr, s)
	}
}

// editHeader rewrites the JSON header of a checkpoint file with edit and
// fixes the header length and the CRC, so that the damage is past them.
func editHeader(t *testing.T, raw []byte, edit func(string) string) []byte {
	t.Helper()
	hl := binary.LittleEndian.Uint32(raw[8:12])
	header := string(raw[12 : 12+hl])
	edited := edit(header)
	require.NotEqual(t, header, edited, "the edit applies")
	b := append(bytes.Clone(raw[:8]), binary.LittleEndian.AppendUint32(nil, uint32(len(edited)))...)
	b = append(append(b, edited...), raw[12+hl:len(raw)-4]...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// Every command that reads a checkpoint refuses a damaged or foreign one
// as bad input.
func TestBadCheckpointFiles(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(tinyModel(t, "toy:8gaussians"), "checkpoint.bin"))
	require.NoError(t, err)
	bad := damaged(good, []int{3, 10, 100, len(good) / 2, -4, -1}, len(good)/2, 0x01,
		// Past the CRC: a header that is not JSON, a network that is not
		// the layout's, and one whose W² overflows (nn.Build panicked).
		badFile{"header not JSON", editHeader(t, good, func(h string) string { return strings.Replace(h, `{"step"`, `{"step`, 1) })},
		badFile{"other depth", editHeader(t, good, func(h string) string { return strings.Replace(h, `"depth":1`, `"depth":9`, 1) })},
		badFile{"overflowing width", editHeader(t, good, func(h string) string { return strings.Replace(h, `"width":16`, `"width":4294967296`, 1) })},
		badFile{"absurd batch", editHeader(t, good, func(h string) string { return strings.Replace(h, `"batch":16`, `"batch":4611686018427387904`, 1) })},
		badFile{"unknown schedule", editHeader(t, good, func(h string) string { return strings.Replace(h, `"schedule":"cosine"`, `"schedule":"quadratic"`, 1) })},
	)
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			run := filepath.Join(t.TempDir(), "run")
			require.NoError(t, os.MkdirAll(run, 0o755))
			path := filepath.Join(run, "checkpoint.bin")
			require.NoError(t, os.WriteFile(path, b.data, 0o644))
			out := t.TempDir()
			for _, args := range [][]string{
				{"sample", "--checkpoint", run, "--n", "4", "--progress", "none", "--out", filepath.Join(out, "x.png")},
				{"sample", "--checkpoint", path, "--n", "4", "--progress", "none", "--out", filepath.Join(out, "x.npy")},
				{"eval", "--checkpoint", run, "--n", "4", "--progress", "none"},
				{"conflict", "--checkpoint", run, "--per-bin", "2", "--figures", "none", "--out", filepath.Join(out, "probe")},
				{"train", "--resume", "--out", run, "--steps", "10", "--progress", "none"},
			} {
				requireBadInput(t, path, args...)
			}
			entries, err := os.ReadDir(out)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing is written on bad input")
		})
	}
}

// solve and compare-solvers refuse damaged or foreign matrices, .npy and
// .csv, as bad input.
func TestBadMatrixFiles(t *testing.T) {
	dir := t.TempDir()
	gram := mat.NewDense(3, 3, []float64{2, 0.5, 0, 0.5, 1, 0, 0, 0, 1})
	grads := mat.NewDense(3, 4, []float64{1, 0, 2, 0, 0, 1, 0, 1, 1, 1, 0, 0})
	files := map[string][]badFile{}
	for name, m := range map[string]*mat.Dense{"gram": gram, "grads": grads} {
		p := filepath.Join(dir, name+".npy")
		require.NoError(t, matio.WriteNPY(p, m))
		npy, err := os.ReadFile(p)
		require.NoError(t, err)
		// The bit flip turns the shape's first 3 into a 7: the data is then too short.
		at := bytes.Index(npy, []byte("'shape': (3,")) + len("'shape': (")
		files[name+".npy"] = damaged(npy, []int{3, 9, 50, len(npy) / 2, -1}, at, 0x04)
		var csv bytes.Buffer
		require.NoError(t, matio.EncodeCSV(&csv, m))
		// A cut within a row and a bit flip that turns the first digit into
		// a letter. (A cut at a row's end leaves a valid, smaller matrix:
		// text has no length to check.)
		files[name+".csv"] = damaged(csv.Bytes(), []int{csv.Len() / 2}, 0, 0x40)
	}
	for file, bad := range files {
		for _, b := range bad {
			t.Run(file+" "+b.name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), file)
				require.NoError(t, os.WriteFile(p, b.data, 0o644))
				flag := "--" + strings.TrimSuffix(file, filepath.Ext(file))
				out := filepath.Join(t.TempDir(), "cmp")
				requireBadInput(t, p, "solve", flag, p)
				requireBadInput(t, p, "compare-solvers", flag, p, "--out", out)
				_, err := os.Stat(out)
				require.ErrorIs(t, err, os.ErrNotExist, "nothing is written on bad input")
			})
		}
	}
	// --losses is read the same way; a cut there leaves fewer losses than
	// tasks, an error about the problem.
	for _, b := range damaged([]byte("0.5,0.25,0.125\n"), []int{7}, 0, 0x40) {
		p := filepath.Join(t.TempDir(), "losses.csv")
		require.NoError(t, os.WriteFile(p, b.data, 0o644))
		g := filepath.Join(dir, "gram.npy")
		name := p
		if strings.HasPrefix(b.name, "truncated") {
			name = "got 2 losses for 3 tasks"
		}
		requireBadInput(t, name, "solve", "--gram", g, "--normalize", "loss", "--losses", p)
	}
}

// train --resume keeps the metrics records up to the checkpoint: a last
// line cut short by a kill is dropped, any other line that is not a record
// is bad input naming the file and line.
func TestResumeWithDamagedMetrics(t *testing.T) {
	run := tinyModel(t, "toy:8gaussians") // 5 steps, one record at step 5
	metrics := filepath.Join(run, "metrics.jsonl")
	good, err := os.ReadFile(metrics)
	require.NoError(t, err)
	require.Equal(t, 1, bytes.Count(good, []byte("\n")))
	resume := []string{"train", "--resume", "--out", run, "--steps", "6", "--progress", "none"}

	for _, c := range []struct {
		name, text string
		line       int
	}{
		{"foreign", foreignPNG, 1},
		{"garbage before a record", "garbage\n" + string(good), 1},
		{"record without a step", string(good) + `{"loss":1}` + "\n", 2},
		{"cut line in the middle", string(good[:len(good)/2]) + "\n" + string(good), 1},
	} {
		require.NoError(t, os.WriteFile(metrics, []byte(c.text), 0o644), c.name)
		_, stderr, code := runCLI(t, resume...)
		require.Equal(t, 2, code, "%s: %s", c.name, stderr)
		require.True(t, strings.HasPrefix(stderr, "paretodiff: run: "+metrics+" line "+string(rune('0'+c.line))+": "), "%s: %s", c.name, stderr)
		require.Equal(t, 1, strings.Count(stderr, "\n"), c.name)
	}

	// A last line cut short (no newline) is what a kill leaves: dropped.
	require.NoError(t, os.WriteFile(metrics, append(bytes.Clone(good), good[:len(good)/2]...), 0o644))
	_, stderr, code := runCLI(t, resume...)
	require.Equal(t, 0, code, stderr)
	after, err := os.ReadFile(metrics)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(after), "\n"), "\n")
	require.Len(t, lines, 2, "the record of step 5 and the new one of step 6")
	require.Equal(t, strings.TrimSuffix(string(good), "\n"), lines[0])
	require.True(t, strings.HasPrefix(lines[1], `{"step":6,`), lines[1])
}
