package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/analyze"
	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/spf13/cobra"
)

func init() { register(newAnalyzeCmd) }

type analyzeOptions struct {
	out, methods, closed, normalize string
	lambda, relLambda               float64
	heatmapSteps, figures           string
}

func newAnalyzeCmd() *cobra.Command {
	o := &analyzeOptions{}
	cmd := &cobra.Command{
		Use:   "analyze DIR",
		Short: "Analyse a probe log folder: conflict statistics, Pareto and aggregator weights with and without λ against the closed forms, figures and a report",
		Long: `analyze reads a probe log folder (probe.json, probes.jsonl, gram/step-N.npy,
cosine/step-N.npy: what paretodiff conflict writes, a training run's probes/NAME/, or
the PyTorch package's ProbeLog) and computes from its Gram matrices and losses alone:

  - the statistics of every probe (the fraction of conflicting bin pairs, the mean and
    minimum off-diagonal cosine, the per-bin gradient norms √G_kk, the mean cosine by bin
    distance), recomputed from the Gram;
  - every --method's weights on the bins' task losses at every probe, at λ = 0 and with
    λ (Eq. 10–11: w = argmin over the simplex of wᵀ(G + λI)w of the normalised Gram for
    the solvers; the aggregators' own weights), converted back from the normalised tasks;
  - on the last probe, every method next to the --closed weightings (normalised as weights
    on the bins' task losses summing to 1), each with its Eq. 11 objective and the Eq. 8
    check min_k ⟨d, g_k⟩ and its ratio to ‖d‖², d = Σ_k w_k g_k, at λ = 0 and with λ.

λ: --lambda, else the log's λ (when its normaliser is used), else --relative-lambda ×
tr(G)/K of each probe's normalised Gram.

It writes into --out (default DIR/analysis): cosine.png, stats.png and weights.png (the
figures of paretodiff conflict, with the recomputed weights, "NAME λ" for those with λ),
stats.csv (one line per probe), weights.csv (one line per probe, method and λ),
methods.md/methods.csv (λ = 0), methods-lambda.md/methods-lambda.csv, and report.md.
A log that cannot be read (a missing folder, a truncated probes.jsonl, an NPY of the
wrong shape, a non-finite Gram) is an error before anything is written; every file is
replaced atomically.`,
		Example: `  paretodiff analyze runs/conflict/probes/conflict
  paretodiff analyze runs/toy/conflict --method exact,upgrad,pcgrad --closed min-snr:5,constant --out runs/toy/analysis`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.OutOrStdout(), args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "output folder (default DIR/analysis)")
	f.StringVar(&o.methods, "method", strings.Join(conflict.DefaultCompareMethods, ","), "methods, comma-separated: "+conflict.MethodsHelp)
	f.StringVar(&o.closed, "closed", strings.Join(weighting.PaperStrategies, ","), "closed-form weightings compared, comma-separated weighting specs")
	f.StringVar(&o.normalize, "normalize", "", "gradient normaliser: none, l2, loss or loss+ (default: the log's)")
	f.Float64Var(&o.lambda, "lambda", 0, "absolute λ > 0 of the weights with λ (default: the log's, else --relative-lambda)")
	f.Float64Var(&o.relLambda, "relative-lambda", analyze.DefaultRelativeLambda, "λ of the weights with λ relative to each probe's tr(G)/K, when no absolute λ is given or logged")
	f.StringVar(&o.heatmapSteps, "heatmap-steps", "", "steps whose cosine heat maps are drawn, comma-separated (default: first, middle, last)")
	f.StringVar(&o.figures, "figures", "png", "figure format: png, svg, pdf or none")
	return cmd
}

// config checks the flags and returns analyze's configuration.
func (o *analyzeOptions) config() (analyze.Config, []int, error) {
	c := analyze.Config{Normalizer: o.normalize, Lambda: o.lambda, RelativeLambda: o.relLambda}
	var err error
	if c.Methods, err = conflict.ParseMethods(o.methods); err != nil {
		return c, nil, usagef("--method: %v", err)
	}
	for _, s := range strings.Split(o.closed, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if _, err := weighting.ParseStrategy(s); err != nil {
			return c, nil, usagef("--closed: %v", err)
		}
		c.Closed = append(c.Closed, s)
	}
	if len(c.Closed) == 0 {
		return c, nil, usagef("--closed: no closed form named in %q", o.closed)
	}
	if !(o.relLambda > 0) || !(o.lambda >= 0) || math.IsInf(o.relLambda, 0) || math.IsInf(o.lambda, 0) {
		return c, nil, usagef("--lambda %g, --relative-lambda %g: want λ ≥ 0 and a relative λ > 0, both finite", o.lambda, o.relLambda)
	}
	if o.figures != "none" {
		if _, err := plots.FormatOf("x." + o.figures); err != nil {
			return c, nil, usagef("--figures %q: want png, svg, pdf or none", o.figures)
		}
	}
	var heat []int
	for _, s := range strings.Split(o.heatmapSteps, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return c, nil, usagef("--heatmap-steps: %q is not a step", s)
		}
		heat = append(heat, n)
	}
	return c, heat, nil
}

func (o *analyzeOptions) run(stdout io.Writer, dir string) error {
	cfg, heat, err := o.config()
	if err != nil {
		return err
	}
	res, err := analyze.Analyze(dir, cfg)
	if err != nil {
		return usagef("%v", err)
	}
	out := o.out
	if out == "" {
		out = filepath.Join(dir, "analysis")
	}
	files, err := res.Render(out, analyze.RenderOptions{Format: o.figures, HeatmapSteps: heat})
	if err != nil {
		return failure(err)
	}
	fmt.Fprint(stdout, res.WithLambda.Markdown())
	fmt.Fprintf(stdout, "%d probe(s) of %d bins analysed; report %s; files %s\n", len(res.Records), len(res.Info.Labels), files[len(files)-1], strings.Join(files[:len(files)-1], ", "))
	return nil
}
