package reproduce

import (
	"context"
	"fmt"
	"math"

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
	grid := plots.Grid{Rows: 1, Cols: len(weighting.Targets), Width: 15 * vg.Inch, Height: 4.5 * vg.Inch}
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

func runWeights(ctx context.Context, env *Env) (*Report, error) {
	dir, err := env.Dir("weights")
	if err != nil {
		return nil, err
	}
	out := &output{dir: dir}
	sched := diffusion.Cosine(1000)
	specs := weighting.PaperStrategies
	strategies := make([]weighting.Strategy, len(specs))
	for i, s := range specs {
		strategies[i] = weighting.MustParse(s)
	}
	if err := WeightsFigure(sched, specs, strategies).Save(out.path("weights.png")); err != nil {
		return nil, err
	}

	snr := sched.SNRs()
	tab := Table{Header: []string{"t", "alpha_bar", "snr"}}
	w := map[string][]float64{}
	for _, tg := range weighting.Targets {
		for i, s := range strategies {
			col := tg.String() + ":" + specs[i]
			tab.Header = append(tab.Header, col)
			w[col] = weighting.Weights(nil, s, tg, snr)
		}
	}
	for t := range snr {
		row := []any{t, sched.AlphaBar(t), snr[t]}
		for _, col := range tab.Header[3:] {
			row = append(row, w[col][t])
		}
		tab.Add(row...)
	}
	if err := tab.WriteCSV(out.path("weights.csv")); err != nil {
		return nil, err
	}

	// Independent closed forms of each weight (written out, not through
	// weighting.Weight) and the largest relative deviation from them.
	g := float64(weightsGamma)
	x0 := map[string]func(s float64) float64{
		"constant":  func(float64) float64 { return 1 },
		"snr":       func(s float64) float64 { return s },
		"max-snr:1": func(s float64) float64 { return math.Max(s, 1) },
		"min-snr:5": func(s float64) float64 { return math.Min(s, g) },
	}
	closed := map[string]func(s float64) float64{
		"eps:min-snr:5": func(s float64) float64 { return math.Min(1, g/s) },
		"x0:min-snr:5":  func(s float64) float64 { return math.Min(s, g) },
		"v:min-snr:5":   func(s float64) float64 { return math.Min(s, g) / (s + 1) },
	}
	dev := func(col string, f func(float64) float64) float64 {
		m := 0.0
		for t, s := range snr {
			m = math.Max(m, math.Abs(w[col][t]-f(s))/math.Abs(f(s)))
		}
		return m
	}
	verdict := func(d float64) Verdict {
		if d <= weightsRelTol {
			return Agrees
		}
		return Disagrees
	}
	capT, maxX0 := -1, 0.0
	for t, s := range snr {
		if s >= g {
			capT = t
		}
		maxX0 = math.Max(maxX0, w["x0:min-snr:5"][t])
	}
	dX0, dEps, dV := dev("x0:min-snr:5", closed["x0:min-snr:5"]), dev("eps:min-snr:5", closed["eps:min-snr:5"]), dev("v:min-snr:5", closed["v:min-snr:5"])
	identity := 0.0
	for _, spec := range specs {
		identity = math.Max(identity, dev("eps:"+spec, func(s float64) float64 { return x0[spec](s) / s }))
		identity = math.Max(identity, dev("v:"+spec, func(s float64) float64 { return x0[spec](s) / (s + 1) }))
		identity = math.Max(identity, dev("x0:"+spec, x0[spec]))
	}
	r := &Report{
		Title: "loss weights of the four strategies for ε, x0 and v",
		Paper: "the weighting strategies of §3.4 and §4.2 (constant, SNR, max-SNR-γ = truncated SNR for γ = 1, min-SNR-γ), stated on the x0 loss and converted to ε and v prediction; cosine schedule, T = 1000",
		Sizes: struct {
			Schedule   string
			T          int
			Strategies []string
		}{"cosine", 1000, specs},
		Findings: []Finding{
			{
				Claim: fmt.Sprintf("Min-SNR-γ weights the x0 loss by min(SNR, γ): it follows SNR where SNR < γ and is capped at γ (γ = %g).", g),
				Measured: fmt.Sprintf("largest x0 weight %s (the cap γ = %g); SNR ≥ γ for t ≤ %d, so the cap acts on timesteps 0–%d of 1000; largest relative deviation from min(SNR, γ) %s.",
					prose.F3(maxX0), g, capT, capT, prose.F3(dX0)),
				Rule:    fmt.Sprintf("agrees if the deviation is at most %g at every t", weightsRelTol),
				Verdict: verdict(math.Max(dX0, math.Abs(maxX0-g)/g)),
			},
			{
				Claim:    "On ε-prediction the same weighting is min(SNR, γ)/SNR = min(1, γ/SNR): 1 at high noise, falling as γ/SNR at low noise.",
				Measured: fmt.Sprintf("largest relative deviation of the ε weight from min(1, γ/SNR): %s; weight at t = 0: %s, at t = 999: %s.", prose.F3(dEps), prose.F3(w["eps:min-snr:5"][0]), prose.F3(w["eps:min-snr:5"][999])),
				Rule:     fmt.Sprintf("agrees if the deviation is at most %g", weightsRelTol),
				Verdict:  verdict(dEps),
			},
			{
				Claim:    "On v-prediction it is min(SNR, γ)/(SNR + 1) (not min(SNR, γ)/SNR, a common mistake in peer code).",
				Measured: fmt.Sprintf("largest relative deviation of the v weight from min(SNR, γ)/(SNR + 1): %s; weight at t = 999: %s (min(SNR,γ)/SNR would give 1).", prose.F3(dV), prose.F3(w["v:min-snr:5"][999])),
				Rule:     fmt.Sprintf("agrees if the deviation is at most %g", weightsRelTol),
				Verdict:  verdict(dV),
			},
			{
				Claim:    "Every strategy converts between targets by the loss identities ‖ε − ε̂‖² = SNR·‖x0 − x̂0‖² and ‖v − v̂‖² = (SNR + 1)·‖x0 − x̂0‖²: the ε weight is w_x0/SNR and the v weight w_x0/(SNR + 1); so the plain ε-MSE is SNR weighting, and constant x0 weighting is 1/SNR on ε.",
				Measured: fmt.Sprintf("largest relative deviation over the four strategies, three targets and 1000 timesteps: %s; ε weight of snr at t = 500: %s.", prose.F3(identity), prose.F3(w["eps:snr"][500])),
				Rule:     fmt.Sprintf("agrees if the deviation is at most %g", weightsRelTol),
				Verdict:  verdict(identity),
			},
		},
		Limits: "This target is exact arithmetic: it involves no training, so every scale gives the same numbers. It checks the weights this toolkit trains with, not the paper's code; the figure is the same one `paretodiff weights --plot` draws.",
		Files:  out.files,
	}
	return r, nil
}
