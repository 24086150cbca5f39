package conflict_test

import (
	"bytes"
	"encoding/csv"
	"math"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// methodsTol: the table's Eq. 8 check and objectives against the same
// quantities formed from explicit gradient vectors and package pareto.
const methodsTol = 1e-10

// Every row of the method table: its Eq. 8 check equals the inner products
// of Σ_k W_k g_k with the bins' gradient vectors, and a closed form's
// objective is pareto's Evaluate of its weights.
func TestCompareMethods(t *testing.T) {
	grads := pareto.ConflictingGrads(4, 6, 3)
	var G mat.SymDense
	G.SymOuterK(1, grads)
	sched := diffusion.Cosine(1000)
	bins := weighting.MustEqualT(1000, 4)
	closed, err := conflict.ClosedForms(conflict.DefaultCompareClosed, nil, sched, bins)
	require.NoError(t, err)
	rec := conflict.Record{Step: 7, Gram: &G, Losses: []float64{1, 0.5, 0.25, 2}}
	for _, norm := range []pareto.Normalizer{pareto.NormNone, pareto.NormL2, pareto.NormLoss} {
		cfg := conflict.SolveConfig{Normalizer: norm, Lambda: 0}
		tab, err := conflict.CompareMethods(rec, []string{"0-250", "250-500", "500-750", "750-1000"}, cfg, closed)
		require.NoError(t, err)
		require.Len(t, tab.Rows, len(conflict.DefaultCompareMethods)+2)
		prob, err := cfg.Problem(&G, rec.Losses)
		require.NoError(t, err)
		for _, r := range tab.Rows {
			d := make([]float64, 6)
			for k := range 4 {
				floats.AddScaled(d, r.W[k], grads.RawRowView(k))
			}
			minInner := math.Inf(1)
			for k := range 4 {
				minInner = math.Min(minInner, floats.Dot(d, grads.RawRowView(k)))
			}
			require.InDelta(t, minInner, r.MinInner, methodsTol*floats.Dot(d, d)+1e-14, "%s %s", norm, r.Name)
			require.InDelta(t, floats.Norm(d, 2), r.Norm, methodsTol*floats.Norm(d, 2), "%s %s", norm, r.Name)
			switch r.Name {
			case "exact":
				require.Equal(t, "solver", r.Kind)
				require.True(t, r.OnSimplex)
			case "upgrad", "dualproj":
				require.GreaterOrEqual(t, r.ConflictRatio, -1e-10, r.Name)
			}
			if r.Kind == "closed-form" {
				wn, err := prob.FromRaw(nil, r.W)
				require.NoError(t, err)
				ev, err := prob.Evaluate(wn)
				require.NoError(t, err)
				require.InDelta(t, ev.Objective, r.Objective, methodsTol*ev.Objective, "%s %s", norm, r.Name)
				require.InDelta(t, ev.Gap, r.Gap, methodsTol*ev.Objective, "%s %s", norm, r.Name)
			}
		}
		// The exact solver is the least objective on the simplex.
		for _, r := range tab.Rows[1:] {
			if r.OnSimplex {
				require.GreaterOrEqual(t, r.Objective, tab.Rows[0].Objective*(1-methodsTol), r.Name)
			}
		}
		md := tab.Markdown()
		require.Contains(t, md, "| upgrad | aggregator |")
		require.Contains(t, md, "| min-snr:5 | closed-form |")
		var buf bytes.Buffer
		require.NoError(t, tab.WriteCSV(&buf))
		lines, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
		require.NoError(t, err)
		require.Len(t, lines, 1+len(tab.Rows))
		require.Len(t, lines[0], 9+4)
	}
	_, err = conflict.CompareMethods(conflict.Record{}, nil, conflict.SolveConfig{}, nil)
	require.ErrorContains(t, err, "no Gram matrix")
}
