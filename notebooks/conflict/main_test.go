package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/stretchr/testify/require"
)

// The notebook runs end to end at smoke scale and writes its figures and
// report.
func TestNotebookSmoke(t *testing.T) {
	dir := t.TempDir()
	o := nb.Options{Scale: reproduce.Smoke, Out: filepath.Join(dir, "out"), Models: filepath.Join(dir, "models"), Seed: 1}
	require.NoError(t, os.MkdirAll(o.Out, 0o755))
	require.NoError(t, run(context.Background(), o))
	for _, f := range []string{"cosine.png", "stats.png", "slope.png", "report.md"} {
		st, err := os.Stat(o.Path(f))
		require.NoError(t, err)
		require.Positive(t, st.Size(), f)
	}
}
