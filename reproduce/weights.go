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
// target (ε, x0, v), one line per strategy: the paper's picture of the
// strategies (`paretodiff weights --plot` draws it too).
func WeightsFigure(sched *diffusion.Schedule, names []string, strategies []weighting.Strategy) plots.Grid {
	snr := sched.SNRs()
	ts := make([]float64, sched.T())
	for t := range ts {
		ts[t] = float64(t)
	}
	grid := plots.Grid{Rows: 1, Cols: len(weighting.Targets), Width: 15 * vg.Inch, Height: 4.5 * vg.Inch, SharedLegend: true}
	for _, target := range weighting.Targets {
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
}

// Weights computes the weights target: every strategy of
// weighting.PaperStrategies on every target of the cosine schedule with
// T = 1000, checked against independent closed forms. It trains nothing
// and writes nothing; ctx and env are unused (the numbers are the same at
// every scale).
func Weights(ctx context.Context, env *Env) (*WeightsResult, error) {
	sched := diffusion.Cosine(1000)
	res := &WeightsResult{Schedule: sched, Strategies: slices.Clone(weighting.PaperStrategies), Weights: map[string][]float64{}}
	snr := sched.SNRs()
	for _, tg := range weighting.Targets {
		for _, spec := range res.Strategies {
			col := tg.String() + ":" + spec
			res.Columns = append(res.Columns, col)
			res.Weights[col] = weighting.Weights(nil, weighting.MustParse(spec), tg, snr)
		}
	}
	res.check(snr)
	return res, nil
}

// check sets the deviations from the closed forms, written out here, not
// through weighting.Weight.
func (r *WeightsResult) check(snr []float64) {
	g := float64(weightsGamma)
	x0 := map[string]func(s float64) float64{
		"constant":  func(float64) float64 { return 1 },
		"snr":       func(s float64) float64 { return s },
		"max-snr:1": func(s float64) float64 { return math.Max(s, 1) },
		"min-snr:5": func(s float64) float64 { return math.Min(s, g) },
	}
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
// every column's weight at every t) into dir and returns the report.
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
	return &Report{
		Title: "loss weights of the four strategies for ε, x0 and v",
		Paper: "the weighting strategies of §3.4 and §4.2 (constant, SNR, max-SNR-γ = truncated SNR for γ = 1, min-SNR-γ), stated on the x0 loss and converted to ε and v prediction; cosine schedule, T = 1000",
		Sizes: struct {
			Schedule   string
			T          int
			Strategies []string
		}{"cosine", r.Schedule.T(), r.Strategies},
		Findings: r.findings(),
		Limits:   "This target is exact arithmetic: it involves no training, so every scale gives the same numbers. It checks the weights this toolkit trains with, not the paper's code; the figure is the same one `paretodiff weights --plot` draws.",
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
	}
}
