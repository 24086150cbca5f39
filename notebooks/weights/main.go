// Notebook weights: how do the paper's four loss weightings treat each
// timestep, for ε-, x0- and v-prediction?
//
//	go run ./notebooks/weights            # writes out/notebooks/weights/
//
// The question. A diffusion model is trained on a sum of per-timestep
// losses, and a weighting w(t) decides how much each timestep counts.
// Hang et al. (ICCV 2023) compare four: constant, SNR, max-SNR-γ
// ("truncated SNR" for γ = 1) and their min-SNR-γ. They state every
// weighting on the x0 loss ‖x0 − x̂0‖², so the same strategy looks
// different on an ε- or v-prediction model: ‖ε − ε̂‖² = SNR·‖x0 − x̂0‖²
// and ‖v − v̂‖² = (SNR + 1)·‖x0 − x̂0‖², hence the ε weight is w_x0/SNR
// and the v weight w_x0/(SNR + 1).
//
// How to read the result. weights.png has one panel per target, weight
// against timestep on a log scale, one line per strategy; report.md has
// the weights at a few timesteps and the numbers that pin down min-SNR-5.
// This notebook involves no training: every scale gives the same numbers.
package main

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/notebooks/internal/nb"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/weighting"
)

func main() { nb.Main("weights", run) }

// probeTimesteps are the timesteps the report tabulates.
var probeTimesteps = []int{0, 100, 250, 500, 750, 999}

func run(ctx context.Context, o nb.Options) error {
	// Step 1: the noise schedule. The paper trains with the cosine
	// schedule of improved DDPM over T = 1000 steps; SNR(t) = ᾱ_t/(1 − ᾱ_t)
	// falls from about 2·10⁴ at t = 0 to almost 0 at t = 999.
	sched := diffusion.Cosine(1000)
	snr := sched.SNRs()

	// Step 2: the strategies, parsed from the same specs the command line
	// takes (`paretodiff weights --strategy min-snr:5`).
	specs := weighting.PaperStrategies
	strategies := make([]weighting.Strategy, len(specs))
	for i, s := range specs {
		st, err := weighting.ParseStrategy(s)
		if err != nil {
			return err
		}
		strategies[i] = st
	}

	// Step 3: the picture. reproduce.WeightsFigure converts every strategy
	// to every target with weighting.Weights and draws weight against t.
	if err := reproduce.WeightsFigure(sched, specs, strategies).Save(o.Path("weights.png")); err != nil {
		return err
	}

	// Step 4: read numbers off. For each target, the weight of every
	// strategy at a few timesteps.
	var b strings.Builder
	fmt.Fprintf(&b, "# Notebook weights: the four strategies on ε, x0 and v\n\n")
	fmt.Fprintf(&b, "Schedule %s, T = %d; SNR(0) = %.4g, SNR(500) = %.4g, SNR(999) = %.3g. ", sched.Name(), sched.T(), snr[0], snr[500], snr[999])
	fmt.Fprintf(&b, "Every weight below is the strategy's weight on that target's loss (weighting.Weight).\n\n")
	for _, tg := range weighting.Targets {
		fmt.Fprintf(&b, "## %s-prediction\n\n| t | SNR | %s |\n|---|---|%s\n", tg, strings.Join(specs, " | "), strings.Repeat("---|", len(specs)))
		for _, t := range probeTimesteps {
			fmt.Fprintf(&b, "| %d | %.4g |", t, snr[t])
			for _, s := range strategies {
				fmt.Fprintf(&b, " %.4g |", weighting.Weight(s, tg, snr[t]))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}

	// Step 5: what pins min-SNR-5 down. It caps the x0 weight at γ = 5
	// where SNR ≥ 5, which happens for the least noisy timesteps only.
	minSNR := weighting.MinSNR{Gamma: weighting.DefaultGamma}
	capT := -1
	for t, s := range snr {
		if s >= minSNR.Gamma {
			capT = t
		}
	}
	// On ε it becomes min(SNR, γ)/SNR = min(1, γ/SNR): 1 at high noise,
	// falling at low noise. On v it is min(SNR, γ)/(SNR + 1) — the trap in
	// some peer code is to divide by SNR as for ε, which gives weight 1
	// instead of almost 0 at t = 999. The largest deviation from these
	// closed forms over all t checks the library's conversion.
	devEps, devV := 0.0, 0.0
	for _, s := range snr {
		devEps = math.Max(devEps, relDev(weighting.Weight(minSNR, weighting.Eps, s), math.Min(1, minSNR.Gamma/s)))
		devV = math.Max(devV, relDev(weighting.Weight(minSNR, weighting.V, s), math.Min(s, minSNR.Gamma)/(s+1)))
	}
	trap := math.Min(snr[999], minSNR.Gamma) / snr[999]
	fmt.Fprintf(&b, "## Reading\n\n")
	fmt.Fprintf(&b, "- Min-SNR-5 caps the x0 weight at 5 for t ≤ %d: %d of the %d timesteps (the least noisy) are capped, the rest weighted by their SNR.\n", capT, capT+1, sched.T())
	fmt.Fprintf(&b, "- On ε-prediction it is min(1, 5/SNR): weight %.3g at t = 0 and %.3g at t = 999 (largest deviation from the closed form over all t: %.2g).\n",
		weighting.Weight(minSNR, weighting.Eps, snr[0]), weighting.Weight(minSNR, weighting.Eps, snr[999]), devEps)
	fmt.Fprintf(&b, "- On v-prediction it is min(SNR, 5)/(SNR + 1): %.3g at t = 999, where the mistaken min(SNR, 5)/SNR gives %.3g (largest deviation from the right form: %.2g).\n",
		weighting.Weight(minSNR, weighting.V, snr[999]), trap, devV)
	fmt.Fprintf(&b, "- SNR weighting on ε is the plain ε-MSE (weight %.3g everywhere); constant x0 weighting is 1/SNR on ε, %.3g at t = 0.\n",
		weighting.Weight(weighting.SNR{}, weighting.Eps, snr[500]), weighting.Weight(weighting.Constant{}, weighting.Eps, snr[0]))
	fmt.Fprintf(&b, "\n![weights.png](weights.png)\n\n`paretodiff reproduce weights` checks the same closed forms and states a verdict.\n")
	if o.Log != nil {
		fmt.Fprintf(o.Log, "weights: min-SNR-5 caps t ≤ %d; v weight at t = 999 %.3g\n", capT, weighting.Weight(minSNR, weighting.V, snr[999]))
	}
	return o.WriteReport(b.String())
}

// relDev is |a − b|/|b|.
func relDev(a, b float64) float64 { return math.Abs(a-b) / math.Abs(b) }
