package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/run"
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
	gram, gramEstimator   string
	heatmapSteps, figures string
	compare               string
	mtlFlags
}

// probeName is the name of the conflict command's probe in its run folder
// (probes/conflict/).
const probeName = "conflict"

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

The Gram of n = --per-bin examples per bin estimates the true gradients' Gram, but each
diagonal entry G_kk carries its bin's sampling noise tr Σ_k/n, an extra, bin-dependent λ in
Eq. 11. --gram-estimator split removes it: the same one pass over each bin's two halves
(⌊n/2⌋ and ⌈n/2⌉ examples) gives the unbiased G_kl = ½(⟨g_kA, g_lB⟩ + ⟨g_kB, g_lA⟩), which
is projected to the nearest positive semidefinite matrix before the cosines, statistics and
Pareto weights; each probe then also logs every bin's signal fraction
s_k = ⟨g_kA, g_kB⟩ / ½(‖g_kA‖² + ‖g_kB‖²) (near 1: signal, near 0: noise) and how far the
projection moved G (needs --per-bin ≥ 2).

With --checkpoint DIR it probes a trained run (its live weights, or --ema-weights) once, at the
step of its checkpoint, on the run's own data, schedule and target: the training flags
(--data, --width, --target, --steps, …) are not used then. Otherwise it trains as the train
command does (same flags, all below) and probes at step 0 and every --every steps.

The probe log is a folder of probe.json (settings and bins), probes.jsonl (one JSON object
per probe: step, losses, norms, negative_fraction, mean_cosine, min_cosine,
cosine_by_distance, solutions with each method's weights w on the bins' losses, seconds;
with --gram-estimator split also signal and projection),
gram/step-00001000.npy and cosine/step-00001000.npy for step 1000 (float64 K×K, numpy.load
reads them). With
--checkpoint it is --out itself; in training mode --out is a run folder (as train writes
it, resumable with --resume) and the log is --out/probes/conflict/. Either way --out gets
the figures cosine.png (heat maps at --heatmap-steps), stats.png (statistics over
training) and weights.png (Pareto weights against timestep next to min-snr:5 and
constant, both normalised as weights on the bins' x0 losses summing to 1:
w_k ∝ Σ_{t∈bin k} w_x0(SNR(t))). It also writes methods.md and methods.csv, and prints the
table: on the last probe's Gram, every method of --compare (default: the exact Pareto solver
and every multi-task aggregator: mean, pcgrad, cagrad, imtl-g, nash-mtl, aligned-mtl, upgrad,
dualproj, gradvac) next to min-snr:5 and constant, each with its weights on the bins' losses,
the Eq. 11 objective of those weights (λ and normaliser of the probe) and the Eq. 8 check
min_k ⟨d, g_k⟩ and its ratio to ‖d‖², d = Σ_k w_k g_k. --mtl-options (as solve's, e.g.
c=0.4,beta=0.1) set the aggregators' hyper-parameters of both --method and --compare; the
probe log's probe.json keeps them. Training with --weighting learned[:…] also writes
learned.csv, learned.png and learned.md into --out: the learned weights over training
next to the closed forms and the Pareto weights of these probes at the same steps. Every
file is replaced atomically, so an interrupted run leaves complete files.

Bins (--bins): ` + weighting.BinsHelp + `.

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
	f.Lookup("out").Usage = "output folder (required): with --checkpoint the probe log and figures; while training a run folder (spec.json, checkpoint.bin, metrics.jsonl, probes/conflict/, ...) and the figures"
	f.StringVar(&o.checkpoint, "checkpoint", "", "probe the trained run in this folder (or this checkpoint.bin) once instead of training")
	f.BoolVar(&o.ema, "ema-weights", false, "with --checkpoint: probe the EMA weights instead of the live ones")
	f.StringVar(&o.bins, "bins", "t:8", "timestep bins: t:K, logsnr:K or edges:0,...,T")
	f.IntVar(&o.perBin, "per-bin", conflict.DefaultPerBin, "examples drawn per bin in each probe")
	f.IntVar(&o.every, "every", 100, "probe every N training steps")
	f.StringVar(&o.params, "params", "all", "parameters whose gradients are compared: all, last-block, head or globs")
	f.Float64Var(&o.lambda, "lambda", 0, "λ ≥ 0 of Eq. 11 for the Pareto weights (absolute; with --normalize l2 the G_kk are 1)")
	f.StringVar(&o.methods, "method", "fw,ugd", "methods solved at every probe (logged), comma-separated: "+conflict.MethodsHelp+"; none: skip")
	f.StringVar(&o.normalize, "normalize", "none", "gradient normaliser before solving: none, l2, loss or loss+")
	f.StringVar(&o.task, "task", "constant", "per-bin task loss as a weighting of the x0 loss (constant: the unweighted x0-MSE)")
	f.BoolVar(&o.fresh, "fresh", false, "draw a new probe batch at every probe (default: the same batch each time)")
	f.Uint64Var(&o.probeSeed, "probe-seed", 0, "seed of the probe batches (default: --seed)")
	f.StringVar(&o.gram, "gram", "auto", "how the Gram is formed: "+conflict.GramHelp)
	f.StringVar(&o.gramEstimator, "gram-estimator", "plain", "how the Gram is estimated: "+conflict.EstimatorHelp)
	f.StringVar(&o.heatmapSteps, "heatmap-steps", "", "steps whose cosine heat maps are drawn, comma-separated (default: first, middle, last)")
	f.StringVar(&o.figures, "figures", "png", "figure format: png, svg, pdf or none")
	f.StringVar(&o.compare, "compare", strings.Join(conflict.DefaultCompareMethods, ","), "methods of the methods table on the last probe, comma-separated ("+conflict.MethodsHelp+"); none: no table")
	o.mtlFlags.add(cmd)
	f.Lookup("mtl-options").Usage = "the aggregators' hyper-parameters, for --method's solves and --compare's table, comma-separated: " + mtl.OptionsHelp
	return cmd
}

// probeSpec is the probe the flags describe; seed is the run's, taken when
// --probe-seed is not given.
func (o *conflictOptions) probeSpec(seed uint64) (conflict.ProbeSpec, error) {
	ps := conflict.ProbeSpec{Name: probeName, Every: o.every, Bins: o.bins, PerBin: o.perBin, Params: o.params, Task: o.task,
		Gram: o.gram, GramEstimator: o.gramEstimator, Lambda: o.lambda, Normalizer: o.normalize, MTLOptions: o.mtlOptions, Fresh: o.fresh, Seed: seed}
	if o.probeSeed != 0 {
		ps.Seed = o.probeSeed
	}
	if o.methods != "none" {
		m, err := conflict.ParseMethods(o.methods)
		if err != nil {
			return ps, usagef("--method: %v", err)
		}
		ps.Methods = m
	}
	return ps, nil
}

// probeFlags maps the fields of a probe spec to their flags, for messages.
var probeFlags = map[string]string{"bins": "--bins", "per_bin": "--per-bin", "normalizer": "--normalize", "lambda": "--lambda",
	"methods": "--method", "task": "--task", "gram": "--gram", "gram_estimator": "--gram-estimator", "every": "--every",
	"mtl_options": "--mtl-options"}

// probeError turns a probe spec's error into a usage error naming its flag.
func probeError(err error) error {
	var se *conflict.SpecError
	if errors.As(err, &se) {
		return usagef("%s: %v", probeFlags[se.Field], se.Err)
	}
	return specError(err)
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
	if o.compare != "none" {
		if _, err := conflict.ParseMethods(o.compare); err != nil {
			return usagef("--compare: %v", err)
		}
	}
	if _, err := o.mtlFlags.parsed(); err != nil {
		return err
	}
	if o.checkpoint != "" {
		return o.probeCheckpoint(stdout, stderr, heat)
	}
	if o.ema {
		return usagef("--ema-weights: only with --checkpoint")
	}
	if o.every < 1 {
		return usagef("--every must be ≥ 1, got %d", o.every)
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
	if r.Projection != nil {
		fmt.Fprintf(w, "; signal s=%s, PSD projection moved G by %.1f%%", fmtWeights(r.Signal), 100*r.Projection.Shift)
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

// finish draws the figures of a probe log into --out and prints where
// everything is.
func (o *conflictOptions) finish(stdout io.Writer, logDir string, info conflict.Info, recs []conflict.Record, heat []int) error {
	sched, err := info.NoiseSchedule()
	if err != nil {
		return failure(err)
	}
	var files []string
	if o.figures != "none" {
		if files, err = conflict.WriteFigures(o.train.out, info, sched, recs, conflict.FigureOptions{HeatmapSteps: heat, Format: o.figures}); err != nil {
			return failure(err)
		}
	}
	if o.compare != "none" {
		tab, err := o.methodTable(info, recs[len(recs)-1])
		if err != nil {
			return err
		}
		written, err := tab.WriteFiles(o.train.out, "methods")
		if err != nil {
			return failure(err)
		}
		files = append(files, written...)
		fmt.Fprint(stdout, tab.Markdown())
	}
	fmt.Fprintf(stdout, "%d probe(s) of %d bins over %d parameters; log %s", len(recs), len(info.Edges)-1, info.Selected, filepath.Join(logDir, conflict.RecordsFile))
	if len(files) > 0 {
		fmt.Fprintf(stdout, "; figures and tables %s", strings.Join(files, ", "))
	}
	fmt.Fprintln(stdout)
	return nil
}

// methodTable compares the --compare methods and the closed forms on the
// probe rec, with the probe's λ, normaliser and task loss.
func (o *conflictOptions) methodTable(info conflict.Info, rec conflict.Record) (conflict.MethodTable, error) {
	methods, err := conflict.ParseMethods(o.compare)
	if err != nil {
		return conflict.MethodTable{}, usagef("--compare: %v", err)
	}
	opts, err := o.mtlFlags.parsed()
	if err != nil {
		return conflict.MethodTable{}, err
	}
	norm, err := info.Norm()
	if err != nil {
		return conflict.MethodTable{}, failure(err)
	}
	tab, err := conflict.CompareProbe(info, rec, conflict.SolveConfig{Methods: methods, Lambda: info.Lambda, Normalizer: norm, Options: opts}, conflict.DefaultCompareClosed)
	if err != nil {
		return conflict.MethodTable{}, failure(err)
	}
	return tab, nil
}

// probeCheckpoint probes a trained run once, writing the log into --out.
func (o *conflictOptions) probeCheckpoint(stdout, stderr io.Writer, heat []int) error {
	r, err := run.Open(o.checkpoint)
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	ck, err := r.Checkpoint()
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	ps, err := o.probeSpec(ck.Config.Seed)
	if err != nil {
		return err
	}
	sched, target, err := ck.Config.ScheduleAndTarget()
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	pc, err := ps.Config(sched)
	if err != nil {
		return probeError(err)
	}
	be, err := openDevice(o.train.device, stderr)
	if err != nil {
		return err
	}
	net, err := ck.Network(be, o.ema)
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	// Probes use the training split: the gradients are the training
	// objective's.
	train, _, err := data.Open(r.Spec.Train.Data, o.train.mnistDir)
	if err != nil {
		return usagef("--checkpoint: %v", err)
	}
	p, err := conflict.NewProbe(diffusion.NewObjective(net, sched, target), train, pc)
	if err != nil {
		return usagef("%v", err)
	}
	if err := os.MkdirAll(o.train.out, 0o755); err != nil {
		return usagef("--out: %v", err)
	}
	info := p.Info()
	log, err := conflict.CreateLog(o.train.out, info)
	if err != nil {
		return failure(err)
	}
	rec, err := p.Measure(ck.Step)
	if err != nil {
		return failure(err)
	}
	if err := log.Append(rec); err != nil {
		return failure(err)
	}
	report(stdout, rec)
	return o.finish(stdout, o.train.out, info, []conflict.Record{rec}, heat)
}

// trainAndProbe trains as train does, with the probe in the run's spec.
func (o *conflictOptions) trainAndProbe(ctx context.Context, cmd *cobra.Command, stdout, stderr io.Writer, heat []int) error {
	spec, err := o.train.spec(cmd)
	if err != nil {
		return err
	}
	ps, err := o.probeSpec(spec.Train.Seed)
	if err != nil {
		return err
	}
	if sched, err := diffusion.NewSchedule(spec.Train.Schedule, spec.Train.T, spec.Train.ZeroTerminal); err == nil {
		if _, err := ps.Config(sched); err != nil {
			return probeError(err)
		}
	}
	if o.train.resume {
		if !reflect.DeepEqual(spec.Probes, []conflict.ProbeSpec{ps.WithDefaults()}) {
			return usagef("--resume: the probe flags differ from the run's probes %+v; a resumed run keeps its settings", spec.Probes)
		}
	} else {
		spec.Probes = []conflict.ProbeSpec{ps}
	}
	var lines io.Writer
	if o.train.progress == "lines" || o.train.progress == "auto" && !isTerminal(stderr) {
		lines = stderr
	}
	err = o.train.train(ctx, spec, stdout, stderr, run.Options{OnProbe: func(_ string, rec conflict.Record) error {
		if lines != nil {
			report(lines, rec)
		}
		return nil
	}})
	if err != nil {
		return err
	}
	r, err := run.Open(o.train.out)
	if err != nil {
		return failure(err)
	}
	info, recs, err := r.Probe(probeName)
	if err != nil {
		return failure(err)
	}
	return o.finish(stdout, r.ProbeDir(probeName), info, recs, heat)
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
