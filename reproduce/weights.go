package reproduce

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/internal/prose"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/plot/vg"
)

// WeightsFigure draws weight against timestep on a log scale, one panel per
// target of sched.Targets() (ε, x0, v; ε, x0, flow on the flow schedule),
// one line per strategy: the paper's picture of the strategies (`paretodiff
// weights --plot` draws it too).
func WeightsFigure(sched *diffusion.Schedule, names []string, strategies []weighting.Strategy) plots.Grid {
	snr := sched.SNRs()
	ts := make([]float64, sched.T())
	for t := range ts {
		ts[t] = float64(t)
	}
	targets := sched.Targets()
	grid := plots.Grid{Rows: 1, Cols: len(targets), Width: 15 * vg.Inch, Height: 4.5 * vg.Inch, SharedLegend: true}
	for _, target := range targets {
		panel := plots.Lines{
			Title:  fmt.Sprintf("%s-prediction loss weight (%s, T=%d)", target, sched, sched.T()),
			XLabel: "timestep t", YLabel: "weight (log scale)", LogY: true,
		}
		for i, s := range strategies {
			panel.Series = append(panel.Series, plots.Series{Name: names[i], X: ts, Y: weighting.Weights(nil, s, target, snr)})
		}
		p, err := panel.Plot()
		if err != nil {
			panic(err) // series lengths are equal by construction
		}
		grid.Panels = append(grid.Panels, p)
	}
	return grid
}

// weightsRelTol: the library computes each weight as w_x0(SNR) divided by
// SNR or SNR + 1, the check below writes the closed forms differently
// (min(1, γ/SNR) and so on); both are a few float64 roundings from exact.
const weightsRelTol = 1e-12

// weightsGamma is the γ of the min-SNR curve checked (the paper's default).
const weightsGamma = 5

// WeightsResult is what the weights target computes: the weight of every
// strategy at every timestep of the cosine schedule for each prediction
// target, and how far they are from closed forms written out
// independently of package weighting.
type WeightsResult struct {
	// Schedule is the schedule the weights are computed on (cosine,
	// T = 1000) and Strategies the strategies' specs
	// (weighting.PaperStrategies).
	Schedule   *diffusion.Schedule
	Strategies []string
	// Columns name the weight columns, "target:spec" for every target of
	// weighting.Targets and every strategy, and Weights[col][t] is the
	// weight of column col at timestep t.
	Columns []string
	Weights map[string][]float64
	// CapT is the last timestep at which SNR ≥ γ (−1 if none), where
	// min-SNR-γ's cap acts, and MaxX0 its largest x0 weight.
	CapT  int
	MaxX0 float64
	// DevX0, DevEps and DevV are the largest relative deviations of
	// min-SNR-γ's x0, ε and v weights from min(SNR, γ), min(1, γ/SNR) and
	// min(SNR, γ)/(SNR + 1); Identity is the largest deviation of every
	// strategy's ε and v weights from w_x0/SNR and w_x0/(SNR + 1), and of
	// its x0 weight from its closed form.
	DevX0, DevEps, DevV, Identity float64
	// Flow is the flow-matching schedule the same strategies are computed on
	// (flow, T = 1000: x_t = (1 − t)x0 + t·ε, t = (i + 1)/T), FlowColumns
	// its columns ("target:spec" for ε, x0 and flow) and FlowWeights their
	// weights.
	Flow        *diffusion.Schedule
	FlowColumns []string
	FlowWeights map[string][]float64
	// DevFlow is the largest relative deviation of min-SNR-γ's velocity
	// weight from min(SNR, γ)·t², and FlowIdentity that of every strategy's
	// velocity weight from w_x0·t², both written in t (not SNR) and over
	// the timesteps with SNR > 0.
	DevFlow, FlowIdentity float64
}

// Weights computes the weights target: every strategy of
// weighting.PaperStrategies on every target of the cosine schedule with
// T = 1000, and on ε, x0 and the velocity of the flow-matching schedule
// with T = 1000, checked against independent closed forms. It trains
// nothing and writes nothing; ctx and env are unused (the numbers are the
// same at every scale).
func Weights(ctx context.Context, env *Env) (*WeightsResult, error) {
	sched := diffusion.Cosine(1000)
	flow, err := diffusion.FlowSchedule(1000, 1)
	if err != nil {
		return nil, err
	}
	res := &WeightsResult{Schedule: sched, Strategies: slices.Clone(weighting.PaperStrategies), Weights: map[string][]float64{},
		Flow: flow, FlowWeights: map[string][]float64{}}
	res.Columns = weightColumns(sched, res.Strategies, res.Weights)
	res.FlowColumns = weightColumns(flow, res.Strategies, res.FlowWeights)
	res.check(sched.SNRs())
	res.checkFlow()
	return res, nil
}

// weightColumns fills weights with every strategy's weight on every target
// of sched.Targets() and returns the column names, "target:spec".
func weightColumns(sched *diffusion.Schedule, strategies []string, weights map[string][]float64) []string {
	snr := sched.SNRs()
	var cols []string
	for _, tg := range sched.Targets() {
		for _, spec := range strategies {
			col := tg.String() + ":" + spec
			cols = append(cols, col)
			weights[col] = weighting.Weights(nil, weighting.MustParse(spec), tg, snr)
		}
	}
	return cols
}

// checkFlow sets the flow deviations: the velocity weight against w_x0·t²
// with t = (i + 1)/T and SNR = ((1 − t)/t)² written out here.
func (r *WeightsResult) checkFlow() {
	g := float64(weightsGamma)
	x0 := weightsX0Forms()
	r.DevFlow, r.FlowIdentity = 0, 0
	T := r.Flow.T()
	for i := range T - 1 { // SNR(T−1) = 0: the weight is 1 by the zero-SNR rule
		t := float64(i+1) / float64(T)
		snr := (1 - t) * (1 - t) / (t * t)
		rel := func(got, want float64) float64 { return math.Abs(got-want) / math.Abs(want) }
		r.DevFlow = math.Max(r.DevFlow, rel(r.FlowWeights["flow:min-snr:5"][i], math.Min((1-t)*(1-t), g*t*t)))
		for _, spec := range r.Strategies {
			r.FlowIdentity = math.Max(r.FlowIdentity, rel(r.FlowWeights["flow:"+spec][i], x0[spec](snr)*t*t))
		}
	}
}

// weightsX0Forms are the x0 weights of weighting.PaperStrategies, written
// out here, not through package weighting.
func weightsX0Forms() map[string]func(s float64) float64 {
	g := float64(weightsGamma)
	return map[string]func(s float64) float64{
		"constant":  func(float64) float64 { return 1 },
		"snr":       func(s float64) float64 { return s },
		"max-snr:1": func(s float64) float64 { return math.Max(s, 1) },
		"min-snr:5": func(s float64) float64 { return math.Min(s, g) },
	}
}

// check sets the deviations from the closed forms, written out here, not
// through weighting.Weight.
func (r *WeightsResult) check(snr []float64) {
	g := float64(weightsGamma)
	x0 := weightsX0Forms()
	dev := func(col string, f func(float64) float64) float64 {
		m := 0.0
		for t, s := range snr {
			m = math.Max(m, math.Abs(r.Weights[col][t]-f(s))/math.Abs(f(s)))
		}
		return m
	}
	r.CapT, r.MaxX0 = -1, 0
	for t, s := range snr {
		if s >= g {
			r.CapT = t
		}
		r.MaxX0 = math.Max(r.MaxX0, r.Weights["x0:min-snr:5"][t])
	}
	r.DevX0 = dev("x0:min-snr:5", func(s float64) float64 { return math.Min(s, g) })
	r.DevEps = dev("eps:min-snr:5", func(s float64) float64 { return math.Min(1, g/s) })
	r.DevV = dev("v:min-snr:5", func(s float64) float64 { return math.Min(s, g) / (s + 1) })
	r.Identity = 0
	for _, spec := range r.Strategies {
		r.Identity = math.Max(r.Identity, dev("eps:"+spec, func(s float64) float64 { return x0[spec](s) / s }))
		r.Identity = math.Max(r.Identity, dev("v:"+spec, func(s float64) float64 { return x0[spec](s) / (s + 1) }))
		r.Identity = math.Max(r.Identity, dev("x0:"+spec, x0[spec]))
	}
}

// Render writes weights.png (WeightsFigure) and weights.csv (α̅_t, SNR and
// every column's weight at every t), and weights_flow.png and
// weights_flow.csv (the flow time t, SNR and every flow column's weight)
// into dir and returns the report.
func (r *WeightsResult) Render(dir string) (*Report, error) {
	out := &output{dir: dir}
	strategies := make([]weighting.Strategy, len(r.Strategies))
	for i, s := range r.Strategies {
		strategies[i] = weighting.MustParse(s)
	}
	if err := WeightsFigure(r.Schedule, r.Strategies, strategies).Save(out.path("weights.png")); err != nil {
		return nil, err
	}
	snr := r.Schedule.SNRs()
	tab := Table{Header: append([]string{"t", "alpha_bar", "snr_t"}, r.Columns...)}
	for t := range snr {
		row := []any{t, r.Schedule.AlphaBar(t), snr[t]}
		for _, col := range r.Columns {
			row = append(row, r.Weights[col][t])
		}
		tab.Add(row...)
	}
	if err := tab.WriteCSV(out.path("weights.csv")); err != nil {
		return nil, err
	}
	if err := WeightsFigure(r.Flow, r.Strategies, strategies).Save(out.path("weights_flow.png")); err != nil {
		return nil, err
	}
	flowSNR := r.Flow.SNRs()
	ftab := Table{Header: append([]string{"i", "t", "snr_t"}, r.FlowColumns...)}
	for i := range flowSNR {
		row := []any{i, r.Flow.FlowTime(i), flowSNR[i]}
		for _, col := range r.FlowColumns {
			row = append(row, r.FlowWeights[col][i])
		}
		ftab.Add(row...)
	}
	if err := ftab.WriteCSV(out.path("weights_flow.csv")); err != nil {
		return nil, err
	}
	return &Report{
		Title: "loss weights of the four strategies for ε, x0 and v, and for flow matching",
		Paper: "the weighting strategies of §3.4 and §4.2 (constant, SNR, max-SNR-γ = truncated SNR for γ = 1, min-SNR-γ), stated on the x0 loss and converted to ε and v prediction; cosine schedule, T = 1000. Beyond the paper: the same strategies on the flow-matching velocity u = ε − x0 (flow schedule, T = 1000)",
		Sizes: struct {
			Schedule   string
			T          int
			Strategies []string
		}{"cosine", r.Schedule.T(), r.Strategies},
		Findings: r.findings(),
		Limits:   "This target is exact arithmetic: it involves no training, so every scale gives the same numbers. It checks the weights this toolkit trains with, not the paper's code; the figures are the ones `paretodiff weights --plot` draws (weights_flow.png with --schedule flow).",
		Files:    out.files,
	}, nil
}

// weightsVerdict agrees if a deviation is within weightsRelTol.
func weightsVerdict(d float64) Verdict {
	if d <= weightsRelTol {
		return Agrees
	}
	return Disagrees
}

// findings compares the weights with the paper's definitions.
func (r *WeightsResult) findings() []Finding {
	g := float64(weightsGamma)
	w := r.Weights
	return []Finding{
		{
			Claim: fmt.Sprintf("Min-SNR-γ weights the x0 loss by min(SNR, γ): it follows SNR where SNR < γ and is capped at γ (γ = %g).", g),
			Measured: fmt.Sprintf("largest x0 weight %s (the cap γ = %g); SNR ≥ γ for t ≤ %d, so the cap acts on timesteps 0–%d of 1000; largest relative deviation from min(SNR, γ) %s.",
				prose.F3(r.MaxX0), g, r.CapT, r.CapT, prose.F3(r.DevX0)),
			Rule:    fmt.Sprintf("agrees if the deviation is at most %g at every t", weightsRelTol),
			Verdict: weightsVerdict(math.Max(r.DevX0, math.Abs(r.MaxX0-g)/g)),
		},
		{
			Claim:    "On ε-prediction the same weighting is min(SNR, γ)/SNR = min(1, γ/SNR): 1 at high noise, falling as γ/SNR at low noise.",
			Measured: fmt.Sprintf("largest relative deviation of the ε weight from min(1, γ/SNR): %s; weight at t = 0: %s, at t = 999: %s.", prose.F3(r.DevEps), prose.F3(w["eps:min-snr:5"][0]), prose.F3(w["eps:min-snr:5"][999])),
			Rule:     fmt.Sprintf("agrees if the deviation is at most %g", weightsRelTol),
			Verdict:  weightsVerdict(r.DevEps),
		},
		{
			Claim:    "On v-prediction it is min(SNR, γ)/(SNR + 1) (not min(SNR, γ)/SNR, a common mistake in peer code).",
			Measured: fmt.Sprintf("largest relative deviation of the v weight from min(SNR, γ)/(SNR + 1): %s; weight at t = 999: %s (min(SNR,γ)/SNR would give 1).", prose.F3(r.DevV), prose.F3(w["v:min-snr:5"][999])),
			Rule:     fmt.Sprintf("agrees if the deviation is at most %g", weightsRelTol),
			Verdict:  weightsVerdict(r.DevV),
		},
		{
			Claim:    "Every strategy converts between targets by the loss identities ‖ε − ε̂‖² = SNR·‖x0 − x̂0‖² and ‖v − v̂‖² = (SNR + 1)·‖x0 − x̂0‖²: the ε weight is w_x0/SNR and the v weight w_x0/(SNR + 1); so the plain ε-MSE is SNR weighting, and constant x0 weighting is 1/SNR on ε.",
			Measured: fmt.Sprintf("largest relative deviation over the four strategies, three targets and 1000 timesteps: %s; ε weight of snr at t = 500: %s.", prose.F3(r.Identity), prose.F3(w["eps:snr"][500])),
			Rule:     fmt.Sprintf("agrees if the deviation is at most %g", weightsRelTol),
			Verdict:  weightsVerdict(r.Identity),
		},
		{
			Claim: fmt.Sprintf("Beyond the paper, under flow matching (x_t = (1 − t)x0 + tε, velocity u = ε − x0, x̂0 = x_t − t·û): ‖u − û‖² = ‖x0 − x̂0‖²/t², so every x0 weight becomes w_x0·t² and min-SNR-γ is min(SNR, γ)·t² = min((1 − t)², γt²) with SNR = ((1 − t)/t)² (γ = %g).", g),
			Measured: fmt.Sprintf("largest relative deviation of the velocity weight of min-SNR-γ from min((1 − t)², γt²): %s, of every strategy's from w_x0·t²: %s, over the %d flow times with SNR > 0; velocity weight of min-SNR-γ at t = 0.5: %s, of constant at t = 0.001: %s.",
				prose.F3(r.DevFlow), prose.F3(r.FlowIdentity), r.Flow.T()-1, prose.F3(r.FlowWeights["flow:min-snr:5"][499]), prose.F3(r.FlowWeights["flow:constant"][0])),
			Rule:    fmt.Sprintf("agrees if both deviations are at most %g", weightsRelTol),
			Verdict: weightsVerdict(math.Max(r.DevFlow, r.FlowIdentity)),
		},
	}
}
