package atomicfile

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.csv")
	require.NoError(t, WriteBytes(p, []byte("old")))
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "old", string(got), "a failed write leaves the old file")
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "no temporary file is left behind")

	require.NoError(t, WriteBytes(p, []byte("new")))
	got, _ = os.ReadFile(p)
	require.Equal(t, "new", string(got))
}

func TestWriteMissingDir(t *testing.T) {
	err := WriteBytes(filepath.Join(t.TempDir(), "nope", "x"), nil)
	require.ErrorContains(t, err, "cannot write")
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	require.NoError(t, WriteJSON(path, map[string]any{"k": 3, "w": []float64{0.5}}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"k\": 3,\n  \"w\": [\n    0.5\n  ]\n}\n", string(b))
	err = WriteJSON(path, map[string]any{"bad": math.NaN()})
	require.ErrorContains(t, err, "m.json: json: unsupported value: NaN")
	b, _ = os.ReadFile(path)
	require.Contains(t, string(b), "\"k\": 3", "a failed write leaves the last good file")
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "a.json")
	require.NoError(t, WriteBytes(keep, []byte("{}")))
	stale := filepath.Join(dir, ".a.json.tmp-123")
	require.NoError(t, os.WriteFile(stale, []byte("half"), 0o644))
	RemoveStale(dir)
	require.NoFileExists(t, stale)
	require.FileExists(t, keep)
}
