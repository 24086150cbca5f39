package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/stretchr/testify/require"
)

// TestNotebook runs the notebook at smoke scale and checks that it finds
// what `paretodiff reproduce fig2` finds from the same models and seeds.
func TestNotebook(t *testing.T) {
	models := t.TempDir()
	o := nb.Options{Scale: reproduce.Smoke, Out: t.TempDir(), Models: models, Seed: 1}
	require.NoError(t, run(context.Background(), o))
	_, err := os.Stat(o.Path("loss_change.png"))
	require.NoError(t, err)
	rep, err := os.ReadFile(o.Path("report.md"))
	require.NoError(t, err)
	require.Contains(t, string(rep), "## Reading")

	out := t.TempDir()
	tg, _ := reproduce.Lookup("fig2")
	_, err = reproduce.RunTarget(context.Background(), &reproduce.Env{Scale: reproduce.Smoke, Out: out, Models: models, Seed: 1}, tg)
	require.NoError(t, err)
	target, err := os.ReadFile(filepath.Join(out, "fig2", "report.md"))
	require.NoError(t, err)
	// Each bin's row starts with the same change inside the bin.
	for _, bin := range []string{"[100,200)", "[200,300)", "[300,400)"} {
		row := rowOf(t, string(rep), "| "+bin+" | ")
		cell := strings.Split(row, " | ")[1]
		require.Contains(t, string(target), "| "+bin+" | "+cell+" | ", bin)
	}
}

func rowOf(t *testing.T, md, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no row %q", prefix)
	return ""
}
