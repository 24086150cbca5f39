package atomicfile

import (
	"errors"
	"io"
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
