package reproduce

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnitMean(t *testing.T) {
	// Three seeds: their draw means 2, 2, 6 are the units; sd √(16/3),
	// SE = sd/√3 = 4/3.
	u := UnitMean([][]float64{{1, 3}, {2, 2}, {6}})
	require.InDelta(t, 10.0/3, u.Mean, exactTol)
	require.InDelta(t, 4.0/3, u.SE, exactTol)
	require.Equal(t, 3, u.N)
	require.Equal(t, "seeds", u.Unit)
	// Two seeds: the draws, pooled within seeds. Seed means 2 and 4;
	// variances 2 (of 1, 3) and 4 (of 2, 4, 6): SE = √(2/2 + 4/3)/2.
	u = UnitMean([][]float64{{1, 3}, {2, 4, 6}})
	require.InDelta(t, 3, u.Mean, exactTol)
	require.InDelta(t, math.Sqrt(1+4.0/3)/2, u.SE, exactTol)
	require.Equal(t, 5, u.N)
	require.Equal(t, "draws", u.Unit)
	// One seed: the plain standard error of the draws.
	u = UnitMean([][]float64{{1, 2, 3, 4}})
	m, se := meanSE([]float64{1, 2, 3, 4})
	require.InDelta(t, m, u.Mean, exactTol)
	require.InDelta(t, se, u.SE, exactTol)
	require.True(t, math.IsNaN(UnitMean([][]float64{{1}}).SE), "one draw has no standard error")
}

func TestCompareMinSNR(t *testing.T) {
	// One seed, three draws of constant, snr, max-snr:1, min-snr:5.
	vals := [][][]float64{{{2, 0, 3, 1}, {2.1, 0, 3, 1.2}, {1.9, 0, 3, 0.8}}}
	// On snr's models snr's own (lowest) value is left out: min-SNR-5 is
	// compared with constant, lower by 1 with SE 0.1/√3.
	c := CompareMinSNR("snr", PaperStrategies, vals)
	require.Equal(t, "constant", c.Other)
	require.InDelta(t, -1, c.Diff.Mean, exactTol)
	require.InDelta(t, 0.1/math.Sqrt(3), c.Diff.SE, exactTol)
	require.Equal(t, Supports, c.Outcome)
	require.InDelta(t, 1, c.MinSNR, exactTol)
	require.InDelta(t, 2, c.OtherMean, exactTol)
	// On an online weighting's models every other closed form counts, and
	// snr is lower.
	c = CompareMinSNR(OnlineStrategies[0], PaperStrategies, vals)
	require.Equal(t, "snr", c.Other)
	require.Equal(t, Contradicts, c.Outcome)
	require.Equal(t, "pareto:fw: min-snr:5 1 vs snr 0 (higher)", c.Line(func(x float64) string { return fmt.Sprintf("%g", x) }))
	// Nothing to compare with: within noise.
	c = CompareMinSNR("constant", []string{"constant", "min-snr:5"}, [][][]float64{{{1, 2}, {1, 2}}})
	require.Equal(t, "", c.Other)
	require.Equal(t, WithinNoise, c.Outcome)
	require.False(t, OffDiagonal("min-snr:5", "min-snr:5.0"), "the same weighting, spelled two ways")
	require.True(t, OffDiagonal("min-snr:5", "max-snr:1"))
	require.Equal(t, "pareto:ugd", ShortName(OnlineStrategies[1]))
	require.Equal(t, "max-snr:1", ShortName("max-snr:1"))
}

// A report with a primary test prints it before the numbers, labels the
// findings and takes its overall verdict from the primary one alone.
func TestReportPrimaryTest(t *testing.T) {
	r := &Report{Name: "x", Title: "t", Primary: "the declared test", Sizes: ModelSizesFor(Smoke), Findings: []Finding{
		{Role: RolePrimary, Claim: "c1", Measured: "m1", Verdict: Disagrees},
		{Role: RoleSecondary, Claim: "c2", Measured: "m2", Verdict: Agrees},
	}}
	require.Equal(t, Disagrees, r.Overall())
	md := r.Markdown()
	require.Contains(t, md, "Overall: **does not agree** (the primary test's).")
	p, s := strings.Index(md, "## Primary test (declared in the code before measuring)\n\nthe declared test"), strings.Index(md, "## Sizes")
	require.True(t, p >= 0 && p < s, "the primary test comes before the sizes and the numbers")
	require.Contains(t, md, "1. **Primary test.** **Claim:** c1")
	require.Contains(t, md, "2. *Secondary.* **Claim:** c2")
	require.Contains(t, md, "| Probes | x0 models of 6 weightings: 3 draws × t:4 × 8 per bin every 20 steps; at step 0 and the last: t:3, logsnr:4, 3 draws × 32 examples each |")
	r.Findings[0].Role = ""
	r.Findings[1].Role = ""
	require.Equal(t, Partly, r.Overall(), "without a primary test the verdicts are combined")
}

// fig5's grid models of the probe target are the probed runs: after fig5
// and the online weightings' models (what the online target trains), fig4
// and conflict train nothing.
func TestFig4ReusesTheGridsModels(t *testing.T) {
	env := &Env{Scale: Smoke, Out: t.TempDir(), Seed: 1}
	ctx := context.Background()
	f5, err := Fig5(ctx, env)
	require.NoError(t, err)
	target := ProbeSizesFor(Smoke).Target
	for _, st := range PaperStrategies {
		require.NotNil(t, f5.Grid.Model(target, st, 1).Probes, "fig5's %s model of %s carries the probes", target, st)
		require.Nil(t, f5.Grid.Model("eps", st, 1).Probes, "no other target's")
	}
	trained, _ := env.counts()
	_, err = TrainProbedGrid(ctx, env, "online", OnlineStrategies)
	require.NoError(t, err)
	t2, _ := env.counts()
	require.Equal(t, len(OnlineStrategies), t2-trained, "the online weightings' models are new")
	for _, name := range []string{"fig4", "conflict", "fig3"} {
		tg, _ := Lookup(name)
		rep, err := RunTarget(ctx, env, tg)
		require.NoError(t, err)
		require.Equal(t, 0, rep.ModelsTrained, name)
		require.Equal(t, len(ProbedStrategies), rep.ModelsReused, name)
	}
	_, err = TrainProbedGrid(ctx, env, "x", []string{"min-snr:10"})
	require.ErrorContains(t, err, "carries no probes")
}
