package learned_test

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/learned"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// A history whose u is −ln min(SNR, 5) per bin: with bins of one
// timestep each, e^{−u_k} = w(t_k) makes the learned weights exactly the
// closed form w's normalised bin weights, at distance 0 from it.
func TestCompareRecoversAClosedFormItWasGiven(t *testing.T) {
	const tol = 1e-12
	sched := diffusion.Cosine(6)
	edges := []int{0, 1, 2, 3, 4, 5, 6}
	spec := weighting.BinsSpec{Kind: "edges", K: 6, Edges: edges}
	minSNR := weighting.MinSNR{Gamma: 5}
	u := make([]float64, 6)
	for t := range u {
		u[t] = -math.Log(minSNR.X0Weight(sched.SNR(t)))
	}
	h := learned.History{Config: learned.Config{Bins: spec, Base: weighting.Constant{}}, Schedule: sched, Seed: 1,
		Steps: []int{0, 10}, Params: [][]float64{make([]float64, 6), u}}
	c, err := learned.Compare(h, nil, nil)
	require.NoError(t, err)
	require.Equal(t, "learned:bins=edges:0,1,2,3,4,5,6,lr=0.01,base=constant", c.Weighting)
	require.Len(t, c.Closed, len(learned.DefaultClosed))
	byName := map[string]learned.ClosedWeights{}
	for _, cl := range c.Closed {
		byName[cl.Name] = cl
	}
	require.InDelta(t, 0, byName["constant"].TV[0], tol, "u = 0 is the constant weighting")
	require.InDelta(t, 0, byName["min-snr:5"].TV[1], tol)
	require.Greater(t, byName["constant"].TV[1], 0.1)
	name, d := c.Nearest(1)
	require.Equal(t, "min-snr:5", name)
	require.InDelta(t, 0, d, tol)
	for i := range c.Steps {
		var s float64
		for k, w := range c.Learned[i] {
			require.GreaterOrEqual(t, w, 0.0)
			s += w
			require.InDelta(t, h.Params[i][k], c.U[i][k], tol, "one timestep per bin: mean u is u")
		}
		require.InDelta(t, 1, s, tol)
	}
}

// u = 0 is the base's weighting: by default the model's plain loss (for
// ε the x0 weight SNR, for v SNR + 1), with a base that closed form.
func TestCompareWithABase(t *testing.T) {
	sched := diffusion.Cosine(100)
	for spec, want := range map[string]string{"learned:bins=t:5,base=min-snr:5": "min-snr:5", "learned:bins=t:5": "snr"} {
		cfg, err := learned.Parse(spec)
		require.NoError(t, err)
		c, err := learned.Compare(learned.History{Config: cfg, Schedule: sched, Target: weighting.Eps, Steps: []int{0}, Params: [][]float64{make([]float64, 5)}}, nil, nil)
		require.NoError(t, err)
		name, d := c.Nearest(0)
		require.Equal(t, want, name, spec)
		require.InDelta(t, 0, d, 1e-12, spec)
		require.Contains(t, c.Divides, map[string]string{"snr": "the eps-MSE (b = SNR)", "min-snr:5": "min-snr:5-weighted x0-MSE"}[want])
	}
}

// With probes, the comparison is on the probes' bins, the learned weight
// of a bin is Σ_{t∈k} e^{−u(t)} normalised, and the Pareto weights are
// matched to the records of the same step.
func TestCompareWithProbes(t *testing.T) {
	const tol = 1e-12
	sched := diffusion.Cosine(8)
	h := learned.History{Config: learned.Config{Bins: weighting.BinsSpec{Kind: "t", K: 4}}, Schedule: sched, Target: weighting.X0, Seed: 1,
		Steps: []int{10, 20, 30}, Params: [][]float64{{0, 0, 0, 0}, {0, 1, 2, 3}, {-1, 0, 1, 2}}}
	probes := &learned.Probes{
		Info: conflict.Info{Edges: []int{0, 4, 8}, Schedule: "cosine", T: 8},
		Records: []conflict.Record{
			{Step: 0, Solutions: []conflict.Solution{{Method: "fw", W: []float64{0.5, 0.5}}}},
			{Step: 20, Solutions: []conflict.Solution{{Method: "fw", W: []float64{0.9, 0.1}}}},
			{Step: 30, Solutions: []conflict.Solution{{Method: "fw", W: []float64{0.2, 0.8}}}},
		},
	}
	c, err := learned.Compare(h, probes, []weighting.Strategy{weighting.Constant{}})
	require.NoError(t, err)
	require.Equal(t, 2, c.Bins.K())
	// Step 20: u = 0, 0, 1, 1, 2, 2, 3, 3 over t = 0..7.
	e := math.Exp
	a, b := 2*e(0)+2*e(-1), 2*e(-2)+2*e(-3)
	require.InDelta(t, a/(a+b), c.Learned[1][0], tol)
	require.InDelta(t, 0.5, c.U[1][0], tol)
	require.Len(t, c.Pareto, 1)
	p := c.Pareto[0]
	require.Equal(t, []int{20, 30}, p.Steps, "step 0 has no record")
	require.Equal(t, []int{1, 2}, p.Index)
	require.InDelta(t, math.Abs(a/(a+b)-0.9), p.TV[0], tol)

	dir := t.TempDir()
	files, err := c.WriteFiles(dir, "png")
	require.NoError(t, err)
	require.Len(t, files, 3)
	raw, err := os.ReadFile(filepath.Join(dir, learned.CSVFile))
	require.NoError(t, err)
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"step", "bin", "t_lo", "t_hi", "u_mean", "learned", "constant", "pareto:fw"}, rows[0])
	require.Len(t, rows, 1+3*2)
	require.Equal(t, "", rows[1][7], "no probe at step 10")
	require.Equal(t, "0.9", rows[3][7])
	md, err := os.ReadFile(filepath.Join(dir, learned.ReportFile))
	require.NoError(t, err)
	require.Contains(t, string(md), "## Step 30")
	require.Contains(t, string(md), "Pareto fw at the 2 probe steps with a record")
	require.FileExists(t, filepath.Join(dir, learned.FigureName+".png"))

	// The probes' bins must cover the run's schedule.
	probes.Info.Edges = []int{0, 4, 9}
	_, err = learned.Compare(h, probes, nil)
	require.Error(t, err)
	_, err = learned.Compare(learned.History{Config: h.Config, Schedule: sched}, nil, nil)
	require.Error(t, err)
}

// HistoryOf reads u's parameters from the records of a learned run and
// refuses another weighting.
func TestHistoryOf(t *testing.T) {
	spec := diffusion.TrainSpec{Schedule: "cosine", T: 100, Target: "eps", Weighting: "learned:mlp=4", Seed: 9}
	h, err := learned.HistoryOf(spec, []diffusion.Metrics{{Step: 0}, {Step: 5, PassParams: []float64{1, 2, 3, 4, 5}}})
	require.NoError(t, err)
	require.Equal(t, []int{5}, h.Steps)
	require.Equal(t, 4, h.Config.Fourier)
	require.Equal(t, uint64(9), h.Seed)
	c, err := learned.Compare(h, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 8, c.Bins.K(), "the Fourier model compares on t:8")
	spec.Weighting = "min-snr:5"
	_, err = learned.HistoryOf(spec, nil)
	require.ErrorIs(t, err, learned.ErrNotLearned)
	require.True(t, strings.HasPrefix(err.Error(), "learned: "))
}
