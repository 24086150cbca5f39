package conflict_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/matio"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// writeLog writes a log of three probes (steps 10, 20, 30) of 3 bins and
// returns its folder and its JSONL lines.
func writeLog(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	info := conflict.Info{Edges: []int{0, 300, 600, 1000}, Labels: []string{"0-299", "300-599", "600-999"}, PerBin: 4, Params: "all",
		Task: "constant", Target: "eps", Schedule: "cosine", T: 1000, Methods: []string{"fw"}, Normalizer: "none", Gram: "one-pass"}
	log, err := conflict.CreateLog(dir, info)
	require.NoError(t, err)
	for _, step := range []int{10, 20, 30} {
		require.NoError(t, log.Append(sampleRecord(step)))
	}
	raw, err := os.ReadFile(filepath.Join(dir, conflict.RecordsFile))
	require.NoError(t, err)
	return dir, strings.SplitAfter(strings.TrimSuffix(string(raw), "\n"), "\n")
}

// pngHeader starts every PNG file: a foreign file.
const pngHeader = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"

// Truncated, corrupted and foreign logs: an error that names the file (and
// the line of the JSONL), one line, never a panic.
func TestReadLogRejectsDamagedLogs(t *testing.T) {
	for _, c := range []struct {
		name string
		// damage changes the log in dir, whose JSONL lines are given.
		damage func(t *testing.T, dir string, lines []string)
		file   string // the file the error names
		msg    string
	}{
		{"records cut mid-line", func(t *testing.T, dir string, lines []string) {
			writeRecords(t, dir, lines[0]+lines[1][:len(lines[1])/2])
		}, conflict.RecordsFile + " line 2", "unexpected end of JSON input"},
		{"records bit flip", func(t *testing.T, dir string, lines []string) {
			b := []byte(strings.Join(lines, ""))
			b[len(lines[0])+1] ^= 0x40 // the quote of line 2's first key
			writeRecords(t, dir, string(b))
		}, conflict.RecordsFile + " line 2", "invalid character"},
		{"records foreign", func(t *testing.T, dir string, _ []string) { writeRecords(t, dir, pngHeader) },
			conflict.RecordsFile + " line 1", "invalid character"},
		{"records empty", func(t *testing.T, dir string, _ []string) { writeRecords(t, dir, "") },
			conflict.RecordsFile, "holds no probe"},
		{"records blank line", func(t *testing.T, dir string, lines []string) { writeRecords(t, dir, lines[0]+"\n"+lines[1]) },
			conflict.RecordsFile + " line 2", "unexpected end of JSON input"},
		{"records missing", func(t *testing.T, dir string, _ []string) {
			require.NoError(t, os.Remove(filepath.Join(dir, conflict.RecordsFile)))
		}, conflict.RecordsFile, "no such file"},
		{"too few losses", func(t *testing.T, dir string, lines []string) {
			writeRecords(t, dir, lines[0]+strings.Replace(lines[1], `"losses":[0.5,0.25,0.125]`, `"losses":[0.5,0.25]`, 1))
		}, conflict.RecordsFile + " line 2", "losses has 2 values for 3 bins"},
		{"no norms", func(t *testing.T, dir string, lines []string) {
			writeRecords(t, dir, strings.Replace(lines[0], `"norms":[`, `"norms":null,"x":[`, 1))
		}, conflict.RecordsFile + " line 1", "norms has 0 values for 3 bins"},
		{"short solution", func(t *testing.T, dir string, lines []string) {
			writeRecords(t, dir, lines[0]+lines[1]+strings.Replace(lines[2], `"w":[0.2,0.8,0]`, `"w":[1]`, 1))
		}, conflict.RecordsFile + " line 3", `solution "fw" has 1 weights for 3 bins`},
		{"negative step", func(t *testing.T, dir string, lines []string) {
			writeRecords(t, dir, strings.Replace(lines[0], `"step":10`, `"step":-10`, 1))
		}, conflict.RecordsFile + " line 1", "step -10 is negative"},
		{"number as text", func(t *testing.T, dir string, lines []string) {
			writeRecords(t, dir, strings.Replace(lines[0], `"seconds":0.01`, `"seconds":"fast"`, 1))
		}, conflict.RecordsFile + " line 1", `"fast" is not a number`},
		{"gram outside the folder", func(t *testing.T, dir string, lines []string) {
			writeRecords(t, dir, strings.Replace(lines[0], `"gram":"gram/`, `"gram":"../gram/`, 1))
		}, conflict.RecordsFile + " line 1", `gram "../gram/step-00000010.npy" is not a file inside the log's folder`},
		{"gram absolute", func(t *testing.T, dir string, lines []string) {
			writeRecords(t, dir, strings.Replace(lines[0], `"gram":"gram/`, `"gram":"/gram/`, 1))
		}, conflict.RecordsFile + " line 1", "is not a file inside the log's folder"},
		{"gram truncated", func(t *testing.T, dir string, _ []string) {
			p := filepath.Join(dir, conflict.GramDir, conflict.MatrixName(20))
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, raw[:len(raw)-5], 0o644))
		}, conflict.RecordsFile + " line 2", "matio: " + filepath.Join("DIR", conflict.GramDir, conflict.MatrixName(20)) + ": file is truncated"},
		{"gram foreign", func(t *testing.T, dir string, _ []string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, conflict.GramDir, conflict.MatrixName(30)), []byte(pngHeader), 0o644))
		}, conflict.RecordsFile + " line 3", "not a .npy file"},
		{"gram of other bins", func(t *testing.T, dir string, _ []string) {
			require.NoError(t, matio.WriteNPY(filepath.Join(dir, conflict.GramDir, conflict.MatrixName(10)), mat.NewDense(2, 2, []float64{1, 0, 0, 1})))
		}, conflict.RecordsFile + " line 1", "gram gram/step-00000010.npy is 2×2; want 3×3 for 3 bins"},
		{"gram missing", func(t *testing.T, dir string, _ []string) {
			require.NoError(t, os.Remove(filepath.Join(dir, conflict.GramDir, conflict.MatrixName(10))))
		}, conflict.RecordsFile + " line 1", "no such file"},
		{"info truncated", func(t *testing.T, dir string, _ []string) { cutFile(t, filepath.Join(dir, conflict.InfoFile)) },
			conflict.InfoFile, "unexpected end of JSON input"},
		{"info foreign", func(t *testing.T, dir string, _ []string) { writeInfo(t, dir, pngHeader) },
			conflict.InfoFile, "invalid character"},
		{"info without bins", func(t *testing.T, dir string, _ []string) { writeInfo(t, dir, `{"T": 1000}`) },
			conflict.InfoFile, "bin edges need at least 2 values, got 0"},
		{"info bins beyond T", func(t *testing.T, dir string, _ []string) {
			writeInfo(t, dir, `{"T": 1000, "bin_edges": [0, 500, 2000], "bin_labels": ["a", "b"]}`)
		}, conflict.InfoFile, "must start at 0 and end at T=1000"},
		{"info bins decreasing", func(t *testing.T, dir string, _ []string) {
			writeInfo(t, dir, `{"T": 1000, "bin_edges": [0, 600, 300, 1000], "bin_labels": ["a", "b", "c"]}`)
		}, conflict.InfoFile, "must increase strictly"},
		{"info labels short", func(t *testing.T, dir string, _ []string) {
			writeInfo(t, dir, `{"T": 1000, "bin_edges": [0, 300, 600, 1000], "bin_labels": ["a"]}`)
		}, conflict.InfoFile, "1 bin labels for 3 bins"},
		{"info of other bins", func(t *testing.T, dir string, _ []string) {
			writeInfo(t, dir, `{"T": 1000, "bin_edges": [0, 1000], "bin_labels": ["0-999"]}`)
		}, conflict.RecordsFile + " line 1", "losses has 3 values for 1 bins"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, lines := writeLog(t)
			require.Len(t, lines, 3)
			c.damage(t, dir, lines)
			info, recs, err := conflict.ReadLog(dir)
			require.Error(t, err)
			require.Nil(t, recs)
			require.Equal(t, conflict.Info{}, info)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "conflict: "), msg)
			require.Contains(t, msg, filepath.Join(dir, c.file), "the error names the file")
			require.Contains(t, msg, strings.ReplaceAll(c.msg, "DIR", dir))
			require.NotContains(t, msg, "\n")
		})
	}
}

// A JSONL line longer than the reader's bound is an error naming it.
func TestReadLogRejectsAHugeLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	dir, lines := writeLog(t)
	writeRecords(t, dir, lines[0]+`{"step":20,"x":"`+strings.Repeat("x", 1<<26)+`"}`+"\n")
	_, _, err := conflict.ReadLog(dir)
	require.EqualError(t, err, "conflict: "+filepath.Join(dir, conflict.RecordsFile)+" line 2: longer than 67108864 bytes")
}

// A log cut after a complete line (what an interrupted writer leaves
// behind is never less) reads as the probes before the cut.
func TestReadLogKeepsCompleteLines(t *testing.T) {
	dir, lines := writeLog(t)
	writeRecords(t, dir, lines[0]+lines[1])
	_, recs, err := conflict.ReadLog(dir)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, 20, recs[1].Step)
	require.Equal(t, sampleRecord(20).Solutions, recs[1].Solutions)
}

func writeRecords(t *testing.T, dir, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, conflict.RecordsFile), []byte(text), 0o644))
}

func writeInfo(t *testing.T, dir, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, conflict.InfoFile), []byte(text), 0o644))
}

func cutFile(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, bytes.Clone(raw[:len(raw)/2]), 0o644))
}
