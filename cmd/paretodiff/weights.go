package main

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/internal/jsonnum"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/reproduce"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/spf13/cobra"
)

func init() { register(newWeightsCmd) }

type weightsOptions struct {
	schedule     string
	T            int
	zeroTerminal bool
	target       string
	strategies   []string
	format       string
	out          string
	plot         string
}

func newWeightsCmd() *cobra.Command {
	o := &weightsOptions{}
	cmd := &cobra.Command{
		Use:   "weights",
		Short: "Print and plot closed-form loss weights per timestep for eps, x0, v or flow prediction",
		Long: `weights prints, for every timestep t, ᾱ_t, SNR(t) and the loss weight of each
--strategy for the chosen --target, as CSV (header t,alpha_bar,snr_t,<strategy>...: snr_t is SNR(t), a column per strategy named as given)
or JSON, and can plot all strategies for all three targets.

Strategies are stated on the x0 loss and converted with ‖ε−ε̂‖² = SNR·‖x0−x̂0‖²,
‖v−v̂‖² = (SNR+1)·‖x0−x̂0‖² and, for the flow-matching velocity u = ε − x0,
‖u−û‖² = (1+√SNR)²·‖x0−x̂0‖²; where SNR = 0 the weight is 1. On --schedule flow
(x_t = (1 − t)·x0 + t·ε, t = (i + 1)/T, SNR = ((1 − t)/t)²) that is 1/t², so the flow
weight is w_x0·t² (min-snr:5: min(SNR, 5)·t²), alpha_bar is α² = (1 − t)², and the
plot's panels are eps, x0 and flow (v needs a variance-preserving schedule).

` + weighting.StrategyHelp(),
		Example: `  paretodiff weights --target v --strategy min-snr:5
  paretodiff weights --schedule linear --zero-terminal --format json --out w.json
  paretodiff weights --plot weights.png
  paretodiff weights --schedule flow --target flow --strategy min-snr:5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.schedule, "schedule", "cosine", "noise schedule: cosine, linear, scaled-linear or flow[:shift=S]")
	f.IntVar(&o.T, "T", 1000, "number of diffusion timesteps")
	f.BoolVar(&o.zeroTerminal, "zero-terminal", false, "rescale the schedule to zero terminal SNR (Lin et al. 2024)")
	f.StringVar(&o.target, "target", "eps", "prediction target the weights apply to: eps, x0, v or flow")
	f.StringArrayVar(&o.strategies, "strategy", append([]string(nil), weighting.PaperStrategies...), "weighting strategy, repeatable (see above)")
	f.StringVar(&o.format, "format", "csv", "output format: csv or json")
	f.StringVar(&o.out, "out", "", "write the table to this file instead of stdout")
	f.StringVar(&o.plot, "plot", "", "also plot weight against timestep for eps, x0 and v (flow schedule: eps, x0 and flow) to this .png, .svg or .pdf")
	return cmd
}

// weightTable is the result of the weights command.
type weightTable struct {
	Schedule     string    `json:"schedule"`
	T            int       `json:"T"`
	ZeroTerminal bool      `json:"zero_terminal"`
	Target       string    `json:"target"`
	AlphaBar     []float64 `json:"alpha_bar"`
	SNR          []float64 `json:"snr"`
	// LogSNR is ln SNR(t) as the schedule computes it (diffusion.Schedule.LogSNRs,
	// "-Inf" where SNR = 0): what --bins logsnr:K cuts, bit for bit, for
	// readers outside Go (python/paretodiff_torch).
	LogSNR     []jsonnum.Float      `json:"log_snr"`
	Strategies []string             `json:"strategies"`
	Weights    map[string][]float64 `json:"weights"`
}

func (o *weightsOptions) run(stdout io.Writer) error {
	sched, err := diffusion.NewSchedule(o.schedule, o.T, o.zeroTerminal)
	if err != nil {
		return usagef("--schedule/--T: %v", err)
	}
	target, err := weighting.ParseTarget(o.target)
	if err != nil {
		return usagef("--target: %v", err)
	}
	if err := sched.CheckTarget(target); err != nil {
		return usagef("--target: %v", err)
	}
	if len(o.strategies) == 0 {
		return usagef("--strategy: give at least one strategy")
	}
	strategies := make([]weighting.Strategy, len(o.strategies))
	seen := map[string]bool{}
	for i, spec := range o.strategies {
		if seen[spec] {
			return usagef("--strategy %q is given twice", spec)
		}
		seen[spec] = true
		if strategies[i], err = weighting.ParseStrategy(spec); err != nil {
			return usagef("--strategy: %v", err)
		}
	}
	if o.format != "csv" && o.format != "json" {
		return usagef("--format %q: want csv or json", o.format)
	}
	if o.plot != "" {
		if _, err := plots.FormatOf(o.plot); err != nil {
			return usagef("--plot: %v", err)
		}
	}

	snr := sched.SNRs()
	table := weightTable{
		Schedule: sched.Name(), T: sched.T(), ZeroTerminal: o.zeroTerminal, Target: target.String(),
		AlphaBar: sched.AlphaBars(), SNR: snr, LogSNR: jsonnum.Floats(sched.LogSNRs()), Strategies: o.strategies,
		Weights: map[string][]float64{},
	}
	for i, s := range strategies {
		table.Weights[o.strategies[i]] = weighting.Weights(nil, s, target, snr)
	}

	write := table.writeCSV
	if o.format == "json" {
		write = table.writeJSON
	}
	if o.out == "" {
		if err := write(stdout); err != nil {
			return failure(err)
		}
	} else if err := atomicfile.Write(o.out, write); err != nil {
		return usagef("--out: %v", err)
	}
	if o.plot != "" {
		if err := reproduce.WeightsFigure(sched, o.strategies, strategies).Save(o.plot); err != nil {
			return usagef("--plot: %v", err)
		}
	}
	return nil
}

func (w *weightTable) writeCSV(out io.Writer) error {
	cw := csv.NewWriter(out)
	header := append([]string{"t", "alpha_bar", "snr_t"}, w.Strategies...)
	if err := cw.Write(header); err != nil {
		return err
	}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	row := make([]string, len(header))
	for t := 0; t < w.T; t++ {
		row[0], row[1], row[2] = strconv.Itoa(t), g(w.AlphaBar[t]), g(w.SNR[t])
		for i, name := range w.Strategies {
			row[3+i] = g(w.Weights[name][t])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (w *weightTable) writeJSON(out io.Writer) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(w)
}
