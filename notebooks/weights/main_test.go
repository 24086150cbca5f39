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
	_, err := os.Stat(o.Path("weights.png"))
	require.NoError(t, err)
	rep, err := os.ReadFile(o.Path("report.md"))
	require.NoError(t, err)
	// The cap of min-SNR-5 ends at t = 260 on the cosine schedule (SNR(260)
	// ≥ 5 > SNR(261)), as reproduce's weights target finds; the closed
	// forms agree exactly.
	require.Contains(t, string(rep), "caps the x0 weight at 5 for t ≤ 260")
	require.Contains(t, string(rep), "largest deviation from the closed form over all t: 0)")
	require.Contains(t, string(rep), "## v-prediction")
}
