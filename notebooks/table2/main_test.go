package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/stretchr/testify/require"
)

// TestNotebook runs the notebook at smoke scale and checks its table
// against `paretodiff reproduce table2` on the same models.
func TestNotebook(t *testing.T) {
	models := t.TempDir()
	o := nb.Options{Scale: reproduce.Smoke, Out: t.TempDir(), Models: models, Seed: 1}
	require.NoError(t, run(context.Background(), o))
	_, err := os.Stat(o.Path("table2.png"))
	require.NoError(t, err)
	rep, err := os.ReadFile(o.Path("report.md"))
	require.NoError(t, err)

	out := t.TempDir()
	tg, _ := reproduce.Lookup("table2")
	r, err := reproduce.RunTarget(context.Background(), &reproduce.Env{Scale: reproduce.Smoke, Out: out, Models: models, Seed: 1}, tg)
	require.NoError(t, err)
	require.Equal(t, 3, r.ModelsTrained, "every min-SNR-γ model came from the notebook's cache; the target also trains fig5's three x0 baselines, the scale of its robustness test")
	f, err := os.Open(filepath.Join(out, "table2", "table2.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	for _, row := range rows[1:] { // target, gamma, mean, se, seeds
		m, _ := strconv.ParseFloat(row[2], 64)
		sd, _ := strconv.ParseFloat(row[3], 64)
		require.Contains(t, string(rep), fmt.Sprintf("%.4f ± %.4f", m, sd), "%v", row)
	}
}
