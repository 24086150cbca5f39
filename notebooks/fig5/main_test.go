package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/stretchr/testify/require"
)

// TestNotebook runs the notebook at smoke scale and checks its final
// qualities against the grid's own.
func TestNotebook(t *testing.T) {
	o := nb.Options{Scale: reproduce.Smoke, Out: t.TempDir(), Models: t.TempDir(), Seed: 1}
	require.NoError(t, run(context.Background(), o))
	for _, f := range []string{"quality.png", "samples.png", "report.md"} {
		_, err := os.Stat(o.Path(f))
		require.NoError(t, err, f)
	}
	rep, err := os.ReadFile(o.Path("report.md"))
	require.NoError(t, err)
	require.Contains(t, string(rep), "| target | constant | snr | max-snr:1 |")
	// The grid again, from the cache: the report prints its numbers.
	env := o.Env()
	g, err := reproduce.TrainGrid(context.Background(), env, "check", reproduce.ModelSizesFor(reproduce.Smoke), reproduce.PaperTargets, reproduce.PaperStrategies)
	require.NoError(t, err)
	for _, tg := range reproduce.PaperTargets {
		for _, st := range reproduce.PaperStrategies {
			require.True(t, g.Model(tg, st, 1).Cached)
			q := g.FinalQuality(tg, st)
			require.Contains(t, string(rep), fmt.Sprintf("%.4f ± %.4f", q.Mean, q.SE), "%s %s", tg, st)
		}
	}
}
