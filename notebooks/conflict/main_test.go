package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The notebook runs end to end at smoke scale and writes its figures and
// report.
func TestNotebookSmoke(t *testing.T) {
	dir := t.TempDir()
	o := options{scale: "smoke", out: filepath.Join(dir, "out"), cache: filepath.Join(dir, "cache"), seed: 1}
	require.NoError(t, run(context.Background(), o))
	for _, f := range []string{"cosine.png", "stats.png", "slope.png", "report.md"} {
		st, err := os.Stat(filepath.Join(o.out, f))
		require.NoError(t, err)
		require.Positive(t, st.Size(), f)
	}
	require.Error(t, run(context.Background(), options{scale: "huge", out: o.out, cache: o.cache}))
}
