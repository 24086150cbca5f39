package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/spf13/cobra"
)

func init() { register(newConflictCmd) }

// conflictOptions are the conflict command's own flags; the training flags
// are train's.
type conflictOptions struct {
	train                 trainOptions
	checkpoint            string
	ema                   bool
	bins                  string
	perBin, every         int
	params                string
	lambda                float64
	methods, normalize    string
	task                  string
	fresh                 bool
	probeSeed             uint64
	gram                  string
	heatmapSteps, figures string

	recs []conflict.Record
	log  *conflict.Log
}

func newConflictCmd() *cobra.Command {
	o := &conflictOptions{}
	cmd := &cobra.Command{
		Use:   "conflict",
		Short: "Measure gradient conflict between timestep bins and their Pareto weights, on a checkpoint or while training",
		Long: `conflict measures how the gradients of K timestep bins agree or conflict (Hang et al.,
ICCV 2023, §3.3). A probe draws a batch stratified into the bins (--per-bin examples each),
makes ONE forward and backward pass, and forms the exact K×K Gram matrix of the bins'
task-loss gradients G_kl = ⟨∇L_k, ∇L_l⟩ over the chosen parameters with the per-example
identity for Linear layers (no K backward passes), in float64. L_k is the bin's mean
unweighted x0-MSE ‖x0 − x̂0‖²/D of the model's x0 prediction, whatever its target (--task
changes it). From G it reports the cosine matrix C_kl = G_kl/√(G_kk·G_ll), the fraction of
bin pairs with negative cosine (conflicting), the mean cosine by bin distance, the per-bin
gradient norms √G_kk, and the Pareto weights w = argmin over the simplex of wᵀ(G + λI)w
(Eq. 10–11) from each --method.

With --checkpoint DIR it probes a trained run (its live weights, or --ema-weights) once. Otherwise
it trains as the train command does (same flags, all below) and probes at step 0 and every
--every steps.

It writes to --out: probe.json (settings and bins), probes.jsonl (one JSON object per probe:
step, losses, norms, negative_fraction, mean_cosine, min_cosine, cosine_by_distance,
solutions with each method's weights w on the bins' losses, seconds), gram/step-N.npy and
cosine/step-N.npy (float64 K×K, numpy.load reads them), and the figures cosine.png (heat
maps at --heatmap-steps), stats.png (statistics over training) and weights.png (Pareto
weights against timestep next to min-snr:5 and constant, both normalised as weights on the
bins' x0 losses summing to 1: w_k ∝ Σ_{t∈bin k} w_x0(SNR(t))). Training mode also writes
train's checkpoint.bin, metrics.jsonl and config.json. Every file is replaced atomically, so
an interrupted run leaves complete files.

Bins (--bins): t:K (equal width in t), logsnr:K (equal width in log-SNR) or
edges:0,100,...,T.

Parameters (--params):
` + conflict.ParamsHelp,
		Example: `  paretodiff conflict --checkpoint runs/toy --out runs/toy/conflict
  paretodiff conflict --data toy:8gaussians --steps 2000 --every 100 --bins logsnr:8 --out runs/conflict
  paretodiff conflict --data mnist --target v --steps 5000 --every 250 --params last-block --lambda 0.01 --out runs/mc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	o.train.addFlags(cmd)
	f.StringVar(&o.checkpoint, "checkpoint", "", "probe the trained run in this folder (its checkpoint.bin) instead of training")
	f.BoolVar(&o.ema, "ema-weights", false, "with --checkpoint: probe the EMA weights instead of the live ones")
	f.StringVar(&o.bins, "bins", "t:8", "timestep bins: t:K, logsnr:K or edges:0,...,T")
	f.IntVar(&o.perBin, "per-bin", conflict.DefaultPerBin, "examples drawn per bin in each probe")
	f.IntVar(&o.every, "every", 100, "probe every N training steps")
	f.StringVar(&o.params, "params", "all", "parameters whose gradients are compared: all, last-block, head or globs")
	f.Float64Var(&o.lambda, "lambda", 0, "λ ≥ 0 of Eq. 11 for the Pareto weights (absolute; with --normalize l2 the G_kk are 1)")
	f.StringVar(&o.methods, "method", "fw,ugd", "Pareto solvers, comma-separated: fw, ugd, afw, pfw, pgd, exact (none: skip)")
	f.StringVar(&o.normalize, "normalize", "none", "gradient normaliser before solving: none, l2, loss or loss+")
	f.StringVar(&o.task, "task", "constant", "per-bin task loss as a weighting of the x0 loss (constant: the unweighted x0-MSE)")
	f.BoolVar(&o.fresh, "fresh", false, "draw a new probe batch at every probe (default: the same batch each time)")
	f.Uint64Var(&o.probeSeed, "probe-seed", 0, "seed of the probe batches (default: --seed)")
	f.StringVar(&o.gram, "gram", "auto", "how the Gram is formed: auto, ghost, materialize (one pass) or reference (one pass per bin)")
	f.StringVar(&o.heatmapSteps, "heatmap-steps", "", "steps whose cosine heat maps are drawn, comma-separated (default: first, middle, last)")
	f.StringVar(&o.figures, "figures", "png", "figure format: png, svg, pdf or none")
	return cmd
}

// probeConfig turns the probe flags into a configuration for a schedule.
func (o *conflictOptions) probeConfig(sched *diffusion.Schedule, seed uint64) (conflict.ProbeConfig, error) {
	var cfg conflict.ProbeConfig
	bins, err := conflict.ParseBins(o.bins, sched)
	if err != nil {
		return cfg, usagef("--bins: %v", err)
	}
	if o.perBin < 1 {
		return cfg, usagef("--per-bin must be ≥ 1, got %d", o.perBin)
	}
	norm, err := pareto.ParseNormalizer(o.normalize)
	if err != nil {
		return cfg, usagef("--normalize: %v", err)
	}
	cfg = conflict.ProbeConfig{Bins: bins, PerBin: o.perBin, Params: o.params, Fresh: o.fresh, Seed: seed,
		Solve: conflict.SolveConfig{Lambda: o.lambda, Normalizer: norm}}
	if o.probeSeed != 0 {
		cfg.Seed = o.probeSeed
	}
	if o.methods == "none" {
		cfg.NoSolve = true
	} else if cfg.Solve.Methods, err = conflict.ParseMethods(o.methods); err != nil {
		return cfg, usagef("--method: %v", err)
	}
	if err := cfg.Solve.Validate(); err != nil {
		return cfg, usagef("--lambda: %v", err)
	}
	if o.task != "constant" {
		if cfg.Task, err = weighting.Parse(o.task); err != nil {
			return cfg, usagef("--task: %v", err)
		}
	}
	switch o.gram {
	case "auto":
	case "ghost":
		cfg.Method = diffusion.GramGhost
	case "materialize":
		cfg.Method = diffusion.GramMaterialize
	case "reference":
		cfg.Reference = true
	default:
		return cfg, usagef("--gram %q: want auto, ghost, materialize or reference", o.gram)
	}
	return cfg, nil
}

func (o *conflictOptions) run(ctx context.Context, cmd *cobra.Command, stdout, stderr io.Writer) error {
	if o.train.out == "" {
		return usagef("--out: give an output folder")
	}
	if o.figures != "none" {
		if _, err := plots.FormatOf("x." + o.figures); err != nil {
			return usagef("--figures %q: want png, svg, pdf or none", o.figures)
		}
	}
	var heat []int
	for _, s := range strings.Split(o.heatmapSteps, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return usagef("--heatmap-steps: %q is not a step", s)
		}
		heat = append(heat, n)
	}
	if o.checkpoint != "" {
		return o.probeCheckpoint(stdout, stderr, heat)
	}
	if o.train.resume {
		return usagef("--resume: conflict starts a new run; train runs can be resumed with paretodiff train")
	}
	if o.ema {
		return usagef("--ema-weights: only with --checkpoint")
	}
	if _, err := os.Stat(diffusion.CheckpointPath(o.train.out)); err == nil {
		return usagef("--out %s already holds a training run; choose another folder (or probe it with --checkpoint)", o.train.out)
	}
	if o.every < 1 {
		return usagef("--every must be ≥ 1, got %d", o.every)
	}
	// Check the probe flags before training starts (the parameter subset
	// is checked once the network exists).
	if sched, err := diffusion.NewSchedule(o.train.schedule, o.train.T, o.train.zeroTerminal); err == nil {
		if _, err := o.probeConfig(sched, o.train.seed); err != nil {
			return err
		}
	}
	return o.trainAndProbe(ctx, cmd, stdout, stderr, heat)
}

// report prints one probe's summary line.
func report(w io.Writer, r conflict.Record) {
	fmt.Fprintf(w, "probe step %d: %.0f%% of bin pairs conflict, mean cosine %.3f, min %.3f",
		r.Step, 100*r.Stats.NegativeFraction, r.Stats.MeanCosine, r.Stats.MinCosine)
	for _, s := range r.Solutions {
		fmt.Fprintf(w, "; %s w=%s", s.Method, fmtWeights(s.W))
	}
	fmt.Fprintf(w, " (%.2fs)\n", r.Seconds)
}

func fmtWeights(w []float64) string {
	parts := make([]string, len(w))
	for i, v := range w {
		parts[i] = strconv.FormatFloat(v, 'f', 3, 64)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// sink returns the record handler: log it, keep it, print it.
func (o *conflictOptions) sink(w io.Writer) func(conflict.Record) error {
	return func(r conflict.Record) error {
		if err := o.log.Append(r); err != nil {
			return err
		}
		o.recs = append(o.recs, r)
		if w != nil {
			report(w, r)
		}
		return nil
	}
}

// finish draws the figures and prints where everything is.
func (o *conflictOptions) finish(stdout io.Writer, info conflict.Info, sched *diffusion.Schedule, heat []int) error {
	if len(o.recs) == 0 {
		return nil
	}
	var files []string
	if o.figures != "none" {
		var err error
		files, err = conflict.WriteFigures(o.train.out, info, sched, o.recs, conflict.FigureOptions{HeatmapSteps: heat, Format: o.figures})
		if err != nil {
			return failure(err)
		}
	}
	fmt.Fprintf(stdout, "%d probe(s) of %d bins over %d parameters; log %s/%s", len(o.recs), len(info.Edges)-1, info.Selected, o.train.out, conflict.RecordsFile)
	if len(files) > 0 {
		fmt.Fprintf(stdout, "; figures %s", strings.Join(files, ", "))
	}
	fmt.Fprintln(stdout)
	return nil
}

func (o *conflictOptions) probeCheckpoint(stdout, stderr io.Writer, heat []int) error {
	ck, err := diffusion.LoadCheckpoint(diffusion.CheckpointPath(o.checkpoint))
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	be, err := openDevice(o.train.device, stderr)
	if err != nil {
		return err
	}
	rc, err := ck.Config.TrainConfig()
	if err != nil {
		return failure(fmt.Errorf("--checkpoint: %w", err))
	}
	net, err := ck.Network(be, o.ema)
	if err != nil {
		return failure(err)
	}
	dataSpec := ck.Meta["data"]
	if dataSpec == "" {
		return usagef("--checkpoint: the checkpoint does not name its data")
	}
	// Probes use the training split: the gradients are the training
	// objective's.
	train, _, err := data.Open(dataSpec, o.train.mnistDir)
	if err != nil {
		return failure(err)
	}
	pc, err := o.probeConfig(rc.Schedule, ck.Config.Seed)
	if err != nil {
		return err
	}
	obj := diffusion.NewObjective(net, rc.Schedule, rc.Target)
	p, err := conflict.NewProbe(obj, train, pc)
	if err != nil {
		return usagef("%v", err)
	}
	if err := os.MkdirAll(o.train.out, 0o755); err != nil {
		return usagef("--out: %v", err)
	}
	removeStaleTemps(o.train.out)
	info := p.Info()
	if o.log, err = conflict.CreateLog(o.train.out, info); err != nil {
		return failure(err)
	}
	rec, err := p.Measure(ck.Step)
	if err != nil {
		return failure(err)
	}
	if err := o.sink(stdout)(rec); err != nil {
		return failure(err)
	}
	return o.finish(stdout, info, rc.Schedule, heat)
}

func (o *conflictOptions) trainAndProbe(ctx context.Context, cmd *cobra.Command, stdout, stderr io.Writer, heat []int) error {
	var (
		probe *conflict.Probe
		info  conflict.Info
		sched *diffusion.Schedule
		perr  error // a bad probe setting found once the trainer exists
	)
	var lines io.Writer
	if o.train.progress == "lines" || o.train.progress == "auto" && !isTerminal(stderr) {
		lines = stderr
	}
	o.train.setup = func(cfg *diffusion.TrainConfig) {
		sched = cfg.Schedule
		cfg.CallbackEvery = o.every
		cfg.Callback = func(tr *diffusion.Trainer) error {
			rec, err := probe.Measure(tr.Step())
			if err != nil {
				return err
			}
			return o.sink(lines)(rec)
		}
	}
	o.train.started = func(tr *diffusion.Trainer) error {
		cfg := tr.Config()
		pc, err := o.probeConfig(cfg.Schedule, cfg.Seed)
		if err != nil {
			perr = err
			return err
		}
		obj := diffusion.NewObjective(tr.Net(), cfg.Schedule, cfg.Target)
		train, _, err := data.Open(o.train.data, o.train.mnistDir)
		if err != nil {
			return failure(err)
		}
		if probe, err = conflict.NewProbe(obj, train, pc); err != nil {
			perr = usagef("%v", err)
			return perr
		}
		info = probe.Info()
		if o.log, err = conflict.CreateLog(o.train.out, info); err != nil {
			return failure(err)
		}
		rec, err := probe.Measure(tr.Step())
		if err != nil {
			return failure(err)
		}
		return failure(o.sink(lines)(rec))
	}
	err := o.train.run(ctx, cmd, stdout, stderr)
	if perr != nil {
		return perr
	}
	if ferr := o.finish(stdout, info, sched, heat); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// isTerminal reports whether w is a terminal (the train command's "auto"
// progress then draws a bar).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
