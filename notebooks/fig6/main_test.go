package main

import (
	"context"
	"os"
	"testing"

	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/stretchr/testify/require"
)

func TestNotebook(t *testing.T) {
	o := nb.Options{Scale: reproduce.Smoke, Out: t.TempDir(), Models: t.TempDir(), Seed: 1}
	require.NoError(t, run(context.Background(), o))
	_, err := os.Stat(o.Path("x0mse.png"))
	require.NoError(t, err)
	rep, err := os.ReadFile(o.Path("report.md"))
	require.NoError(t, err)
	for _, s := range []string{"## eps-prediction", "## x0-prediction", "## v-prediction", "| min-snr:5 |", "the most balanced strategy is"} {
		require.Contains(t, string(rep), s)
	}
}
