package conflict_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

func TestParseOnlineMTL(t *testing.T) {
	c, err := conflict.ParseOnline("mtl:upgrad")
	require.NoError(t, err)
	require.Equal(t, conflict.OnlineConfig{Family: "mtl", Method: "upgrad", Every: 1, Tol: conflict.DefaultOnlineTol, Params: "all",
		Bins: weighting.BinsSpec{Kind: "t", K: 8}}, c)
	require.Equal(t, "mtl:upgrad,bins=t:8,every=1,norm=none", c.String())
	require.Equal(t, "stratified:8", c.DefaultDensity())
	w, err := weighting.Parse("mtl:upgrad")
	require.NoError(t, err)
	require.Equal(t, c, w)

	c, err = conflict.ParseOnline("mtl:cagrad,c=0.4,bins=logsnr:4,every=3,norm=l2,seed=2,params=last-block")
	require.NoError(t, err)
	require.Equal(t, mtl.Config{C: 0.4, Seed: 2}, c.Options)
	require.Equal(t, pareto.NormL2, c.Normalizer)
	require.Equal(t, "mtl:cagrad,bins=logsnr:4,every=3,norm=l2,c=0.4,seed=2,params=last-block", c.String())
	back, err := conflict.ParseOnline(c.String())
	require.NoError(t, err)
	require.Equal(t, c, back)

	for spec, msg := range map[string]string{
		"mtl:":                "name an aggregator",
		"mtl:fw":              "the solvers are pareto:METHOD",
		"mtl:upgrad,lambda=1": `unknown option "lambda"`,
		"mtl:cagrad,c=-1":     "c=-1",
		"mtl:gradvac,beta=2":  "beta = 2 must be in (0, 1]",
		"mtl:upgrad,bins=1":   "at least 2 bins",
		"pareto:upgrad":       "unknown method",
	} {
		_, err := conflict.ParseOnline(spec)
		require.ErrorContains(t, err, msg, spec)
	}
}

// mtl:mean weighs every bin alike, so on a stratified batch its step loss
// is the plain constant-weighted (unweighted x0) loss.
func TestOnlineMTLMeanIsThePlainLoss(t *testing.T) {
	_, _, o, losses := onlineRun(t, "mtl:mean,bins=4", 3)
	for _, w := range o.Weights() {
		require.InDelta(t, 0.25, w, 1e-15)
	}
	toy, _ := data.NewToy("8gaussians")
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 32, Depth: 2}, 4)
	require.NoError(t, err)
	tr, err := diffusion.NewTrainer(net, toy, toy, diffusion.TrainConfig{
		Schedule: diffusion.Cosine(1000), Target: weighting.V, Weighting: weighting.Constant{},
		Density: weighting.Stratified{Steps: 1000, K: 4}, Steps: 3, Batch: 64, Seed: 5, EvalSize: 256,
		Optim: nn.OptimConfig{LR: 3e-3, Warmup: 10, EMADecay: 0.99},
	})
	require.NoError(t, err)
	var plain []float64
	stepTo(t, tr, 3, func() { plain = append(plain, tr.LastLoss()) })
	for i := range plain {
		require.InDelta(t, plain[i], losses[i], plainLossTol*plain[i], "step %d", i+1)
	}
}

// The non-negative aggregators train as online weightings (their weights
// stay on the simplex; onlineRun checks it after every step), and the
// stateful gradvac keeps its state across solves.
func TestOnlineMTLTrains(t *testing.T) {
	for _, spec := range []string{"mtl:upgrad,bins=4", "mtl:cagrad,bins=4,every=2", "mtl:gradvac,bins=4,beta=0.5", "mtl:nash-mtl,bins=4"} {
		before, after, o, _ := onlineRun(t, spec, 150)
		require.Less(t, after, onlineLossDrop*before, "%s: held-out x0-MSE %g → %g", spec, before, after)
		last, solves := o.Last()
		require.Equal(t, (150+o.Config().Every-1)/o.Config().Every, solves, spec)
		require.Equal(t, o.Config().Method, last.Method)
	}
}

// The mtl family's step is the weighted gradient, as the pareto family's.
func TestOnlineMTLStepIsTheWeightedGradient(t *testing.T) {
	oc, err := conflict.ParseOnline("mtl:imtl-g,bins=4")
	require.NoError(t, err)
	toy, _ := data.NewToy("checkerboard")
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 32, Depth: 2}, 6)
	require.NoError(t, err)
	w := &checked{OnlineConfig: oc, t: t}
	tr, err := diffusion.NewTrainer(net, toy, toy, diffusion.TrainConfig{Schedule: diffusion.Cosine(1000), Target: weighting.Eps, Weighting: w,
		Density: weighting.Stratified{Steps: 1000, K: 4}, Steps: 3, Batch: 48, Seed: 3, EvalSize: 16})
	require.NoError(t, err)
	stepTo(t, tr, 3, nil)
	require.Equal(t, 3, w.steps)
}

// An online weighting's state reads back; a checkpoint without state
// resumes a stateless aggregator afresh and refuses GradVac, whose EMA
// targets it lacks; a state of another spec or shape is an error.
func TestOnlineStateChecks(t *testing.T) {
	newOnline := func(spec string) *conflict.Online {
		oc, err := conflict.ParseOnline(spec)
		require.NoError(t, err)
		o, err := conflict.NewOnline(oc)
		require.NoError(t, err)
		return o
	}
	require.NoError(t, newOnline("mtl:upgrad,bins=4").SetPassState(nil))
	require.NoError(t, newOnline("pareto:fw,bins=4").SetPassState(nil))
	require.ErrorContains(t, newOnline("mtl:gradvac,bins=4").SetPassState(nil), "holds no state of gradvac")
	g := newOnline("mtl:gradvac,bins=4")
	require.JSONEq(t, `{"weighting":"mtl:gradvac,bins=t:4,every=1,norm=none","solves":0,"aggregator":{"k":0,"target":null}}`, string(g.PassState()))
	require.NoError(t, g.SetPassState(g.PassState()))
	for raw, msg := range map[string]string{
		`{"weighting":"mtl:gradvac,bins=t:8,every=1,norm=none","solves":0,"aggregator":{"k":0}}`:  "not \"mtl:gradvac,bins=t:4",
		`{"weighting":"mtl:gradvac,bins=t:4,every=1,norm=none","solves":1,"w":[1]}`:               "1 weights for 4 bins",
		`{"weighting":"mtl:gradvac,bins=t:4,every=1,norm=none","solves":0}`:                       "without gradvac's state",
		`{"weighting":"mtl:gradvac,bins=t:4,every=1,norm=none","solves":0,"aggregator":{"k":2}}`:  "0 targets for 2 tasks",
		`{"weighting":"mtl:gradvac,bins=t:4,every=1,norm=none","solves":-1,"aggregator":{"k":0}}`: "negative number of solves",
		`"x"`: "online weighting state",
	} {
		require.ErrorContains(t, g.SetPassState(json.RawMessage(raw)), msg, raw)
	}
}

// recorded wraps an online weighting, keeping the timesteps of every batch.
type recorded struct {
	conflict.OnlineConfig
	o  *conflict.Online
	ts [][]int
}

func (r *recorded) Start(tr *diffusion.Trainer) (diffusion.StepPass, error) {
	p, err := r.OnlineConfig.Start(tr)
	if err == nil {
		r.o = p.(*conflict.Online)
	}
	return recordedPass{r, p}, err
}

type recordedPass struct {
	r    *recorded
	pass diffusion.StepPass
}

func (p recordedPass) Pass(step int, b diffusion.Batch, c, mse []float64) (float64, error) {
	p.r.ts = append(p.r.ts, append([]int(nil), b.T...))
	return p.pass.Pass(step, b, c, mse)
}

// mtl:gradvac with bins left empty (6 uniform timesteps for 8 bins): every
// step trains, an empty bin gets weight 0 and the present ones a positive
// weight (GradVac's w_k ≥ 1 before rescaling).
func TestOnlineGradVacWithEmptyBins(t *testing.T) {
	oc, err := conflict.ParseOnline("mtl:gradvac,bins=8,beta=0.5")
	require.NoError(t, err)
	sched := diffusion.Cosine(1000)
	bins, err := oc.Bins.Bins(sched.LogSNRs())
	require.NoError(t, err)
	toy, _ := data.NewToy("8gaussians")
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 16, Depth: 2}, 4)
	require.NoError(t, err)
	w := &recorded{OnlineConfig: oc}
	tr, err := diffusion.NewTrainer(net, toy, toy, diffusion.TrainConfig{Schedule: sched, Target: weighting.V, Weighting: w,
		Density: weighting.Uniform{Steps: 1000}, Steps: 20, Batch: 6, Seed: 2, EvalSize: 16})
	require.NoError(t, err)
	stepTo(t, tr, 20, func() {
		counts := make([]int, 8)
		for _, tt := range w.ts[len(w.ts)-1] {
			counts[bins.Of(tt)]++
		}
		for k, wk := range w.o.Weights() {
			if counts[k] == 0 {
				require.Zero(t, wk, "step %d: empty bin %d", tr.Step(), k)
			} else {
				require.Greater(t, wk, 0.0, "step %d: bin %d", tr.Step(), k)
			}
		}
	})
	_, solves := w.o.Last()
	require.Equal(t, 20, solves)
	require.False(t, math.IsNaN(tr.Evaluate().EvalLoss))
}
