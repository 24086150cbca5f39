package reproduce

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/plots"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/plot/vg"
)

// DemoSizes are the settings of Demo: the model it trains and how it
// probes the gradient conflict between timestep bins.
type DemoSizes struct {
	// Model are the data (toy data only), network, optimiser and
	// sample-quality settings. EvalEvery is the interval of the training
	// metrics records; Repeats the sample sets drawn from the trained
	// model; Seeds is not used (the demo trains one model, seed Env.Seed).
	Model ModelSizes
	// Target and Strategy set the training loss (a weighting.Parse spec,
	// stated on the x0 loss as everywhere in the toolkit).
	Target, Strategy string
	// Bins is K, the number of equal-width timestep bins (the tasks).
	Bins int
	// PerBin is the number of examples per bin in every probe; each probe
	// uses the same fixed batch, so that changes over training are the
	// model's.
	PerBin int
	// ProbeEvery is the probing interval in steps; it divides
	// Model.Steps, and a probe also runs before the first step.
	ProbeEvery int
	// Lambda is the regulariser λ of Eq. 11 relative to the bins' mean
	// squared gradient norm: the weights "with λ" minimise
	// wᵀ(G + λ_abs·I)w with λ_abs = Lambda·tr(G)/K, which makes the choice
	// independent of the gradients' scale.
	Lambda float64
}

// demoSizes is the table of DemoSizes per scale: Quick is the default of
// `paretodiff demo` (about a minute of training on two CPU cores), Smoke
// is for tests.
var demoSizes = map[Scale]DemoSizes{
	Smoke: {
		Model: ModelSizes{
			Data: "toy:8gaussians", Width: 16, Depth: 1, Schedule: "cosine", T: 1000,
			Steps: 60, Batch: 32, LR: 1e-3, Warmup: 5, ClipNorm: 1, EMA: 0.99,
			EvalEvery: 20, EvalSize: 16, Samples: 128, Sampler: "heun", SamplerSteps: 4, Repeats: 2, Seeds: 1,
		},
		Target: "v", Strategy: "min-snr:5", Bins: 4, PerBin: 8, ProbeEvery: 20, Lambda: 0.1,
	},
	Quick: {
		Model: ModelSizes{
			Data: "toy:8gaussians", Width: 128, Depth: 3, Schedule: "cosine", T: 1000,
			Steps: 5000, Batch: 256, LR: 1e-3, Warmup: 100, ClipNorm: 1, EMA: 0.999,
			EvalEvery: 250, EvalSize: 512, Samples: 2000, Sampler: "heun", SamplerSteps: 30, Repeats: 2, Seeds: 1,
		},
		Target: "v", Strategy: "min-snr:5", Bins: 8, PerBin: 256, ProbeEvery: 250, Lambda: 0.1,
	},
}

// DemoSizesFor returns the demo's sizes at a scale: Smoke (tests) or
// Quick (the default); the paper scale has no demo.
func DemoSizesFor(s Scale) (DemoSizes, error) {
	d, ok := demoSizes[s]
	if !ok {
		return DemoSizes{}, fmt.Errorf("reproduce: the demo has no %q size (want smoke or quick)", s)
	}
	return d, nil
}

func (d DemoSizes) validate() error {
	switch {
	case !strings.HasPrefix(d.Model.Data, "toy:"):
		return fmt.Errorf("reproduce: the demo runs on toy data, not %q", d.Model.Data)
	case d.Bins < 2 || d.PerBin < 1:
		return fmt.Errorf("reproduce: the demo needs ≥ 2 bins and ≥ 1 example per bin, got %d and %d", d.Bins, d.PerBin)
	case d.ProbeEvery < 1 || d.Model.Steps%d.ProbeEvery != 0:
		return fmt.Errorf("reproduce: the probe interval %d must divide the steps %d", d.ProbeEvery, d.Model.Steps)
	case !(d.Lambda > 0) || math.IsInf(d.Lambda, 0):
		return fmt.Errorf("reproduce: the demo's relative λ must be finite and > 0, got %g", d.Lambda)
	}
	return nil
}

// DemoWeighting is one weighting of the bins' task losses, evaluated as a
// point of the Pareto problem of the demo's last probe.
type DemoWeighting struct {
	// Name is the solver ("fw", "ugd") or the strategy ("min-snr:5").
	Name string
	// Pareto is set for solved weights; Lambda is the absolute λ they were
	// solved with (0 for closed forms and for the plain problem).
	Pareto bool
	Lambda float64
	// W are the weights on the bins' task losses, summing to 1 (closed
	// forms normalised by conflict.BinWeights).
	W []float64
	// F0 and FL are the Eq. 11 objective wᵀ(G + λI)w at λ = 0 and at the
	// demo's λ; Ratio0 and RatioL divide them by the best Pareto solve of
	// the same problem (1 is optimal).
	F0, FL, Ratio0, RatioL float64
	// Descent is the Eq. 8 check of δ = −Σ_k W_k g_k: DecreasesAll when a
	// step along it lowers every bin's loss to first order.
	Descent pareto.Descent
	// TV is the total-variation distance ½Σ_k |W_k − R_k| to the reference
	// Pareto weights R (fw with λ): 0 is the same weighting, 1 disjoint.
	TV float64
}

// DemoQuality is the sample quality of the demo's model.
type DemoQuality struct {
	// Metric names the measure ("SWD", lower is better).
	Metric string
	// Trained holds one value per sample set of the trained model (EMA
	// weights); Untrained is the same network at its initial weights and
	// Floor the measure between two sets of real points.
	Trained          []float64
	Untrained, Floor float64
}

// DemoResult holds everything Demo measured; Markdown turns it into the
// report.
type DemoResult struct {
	// Sizes, Seed and Device are the run's.
	Sizes  DemoSizes
	Seed   uint64
	Device string
	// Params is the network's parameter count.
	Params int
	// Elapsed is the demo's wall time and TrainTime that of training (with
	// the probes).
	Elapsed, TrainTime time.Duration
	// Records are the training metrics (run.Record; step 0 holds the
	// untrained network's held-out losses and a NaN training loss), every
	// Model.EvalEvery steps.
	Records []run.Record
	// RangeLabels are the labels of the paper's Fig. 6 timestep ranges
	// (Fig6Labels), in the order of a record's X0MSE.
	RangeLabels []string
	// DataVar is the data's mean per-coordinate variance: the x0-MSE of
	// always predicting the data mean.
	DataVar float64
	// Bins are the probes' timestep bins and Probes every probe record
	// (step 0, every ProbeEvery steps; the last one, at the end of
	// training, is the one whose Pareto problem is solved and compared).
	Bins   weighting.Bins
	Probes []conflict.Record
	// Lambda is the absolute λ of the weights "with λ".
	Lambda float64
	// Weightings are the Pareto weights (λ = 0, then with λ) and the
	// closed forms, each evaluated on the last probe's problem.
	Weightings []DemoWeighting
	// Quality is the sample quality.
	Quality DemoQuality
	// Files are the files written, relative to the output folder.
	Files []string
}

// Final returns the last probe: the trained model's.
func (r *DemoResult) Final() conflict.Record { return r.Probes[len(r.Probes)-1] }

// Weighting returns the weighting of a name ("fw", "fw λ", "min-snr:5"),
// or nil.
func (r *DemoResult) Weighting(name string) *DemoWeighting {
	for i := range r.Weightings {
		if r.Weightings[i].Name == name {
			return &r.Weightings[i]
		}
	}
	return nil
}

// Files of the demo's output folder.
const (
	// DemoReport is the markdown report.
	DemoReport = "report.md"
	// DemoModelDir is the trained model's run folder (package run: the
	// spec, checkpoint, metrics and the probe log probes/conflict/), which
	// `paretodiff sample`, `eval` and `conflict --checkpoint` read.
	DemoModelDir = "model"
	// DemoConflictDir holds the figures of the probes
	// (conflict.WriteFigures).
	DemoConflictDir = "conflict"
	// DemoProbe is the probe's name in the run.
	DemoProbe = "conflict"
)

// lambdaSuffix names the weights solved with the demo's λ.
const lambdaSuffix = " λ"

// Demo is the toolkit's end-to-end tour, `paretodiff demo`: in env.Out it
//  1. draws the closed-form weights of the paper's four strategies
//     (weights.png, WeightsFigure);
//  2. trains one ResMLP on toy data (sizes.Target, sizes.Strategy),
//     logging progress to env.Log, with the Fig. 6 held-out x0-MSE by
//     timestep range every Model.EvalEvery steps (training.png,
//     model/metrics.jsonl, model/checkpoint.bin);
//  3. probes the gradient conflict between sizes.Bins equal-width
//     timestep bins before training and every ProbeEvery steps
//     (conflict.Probe: one pass, exact Gram; conflict/ holds the log and
//     the cosine heat maps, statistics and weights over training);
//  4. solves the Pareto weights (fw and ugd, λ = 0 and λ = Lambda·tr(G)/K)
//     from the last probe's Gram and evaluates them and the closed forms
//     constant, SNR, max-SNR-1 and min-SNR-5 (conflict.BinWeights) on
//     Eq. 11 and Eq. 8 (pareto.Problem.Evaluate): pareto.png, pareto.csv;
//  5. samples the trained model's EMA weights and the untrained network
//     and measures their quality against real data (samples.png,
//     quality.csv);
//  6. writes report.md, which explains every result with its numbers
//     (DemoResult.Markdown).
//
// Everything follows from env.Seed; every file is written atomically.
func Demo(ctx context.Context, env *Env, sizes DemoSizes) (*DemoResult, error) {
	start := time.Now()
	if err := sizes.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(env.Out, 0o755); err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	out := &output{dir: env.Out}
	be := env.BackendOrCPU()
	spec, err := sizes.spec(env.Seed).Normalize()
	if err != nil {
		return nil, err
	}
	sched, err := diffusion.NewSchedule(spec.Train.Schedule, spec.Train.T, spec.Train.ZeroTerminal)
	if err != nil {
		return nil, err
	}
	train, _, err := data.Open(spec.Train.Data, env.MNISTDir)
	if err != nil {
		return nil, err
	}
	bins, err := weighting.EqualT(sched.T(), sizes.Bins)
	if err != nil {
		return nil, err
	}
	res := &DemoResult{Sizes: sizes, Seed: env.Seed, Device: be.Name(), Bins: bins, DataVar: dataVariance(train, env.Seed)}
	res.RangeLabels = Fig6Labels(sched.T())

	// 1. The closed forms.
	env.Logf("demo: [1/5] closed-form weights of %s", strings.Join(PaperStrategies, ", "))
	strategies := make([]weighting.Strategy, len(PaperStrategies))
	for i, s := range PaperStrategies {
		strategies[i] = weighting.MustParse(s)
	}
	if err := WeightsFigure(sched, PaperStrategies, strategies).Save(out.path("weights.png")); err != nil {
		return nil, err
	}

	// 2 and 3. Train, probing every ProbeEvery steps.
	net0, err := nn.BuildSeeded(be, spec.Net, spec.Train.Seed)
	if err != nil {
		return nil, err
	}
	res.Params = net0.Params().Len()
	env.Logf("demo: [2/5] training a %s-prediction ResMLP (%d parameters, width %d, depth %d) on %s with %s for %d steps; probing %d timestep bins every %d steps",
		sizes.Target, res.Params, spec.Net.ResMLP.Width, spec.Net.ResMLP.Depth, spec.Train.Data, sizes.Strategy, spec.Steps, bins.K(), sizes.ProbeEvery)
	logEvery := max(1, spec.Steps/10)
	opt := run.Options{Backend: be, Existing: run.Replace, MNISTDir: env.MNISTDir,
		OnProbe: func(_ string, rec conflict.Record) error {
			msg := fmt.Sprintf("demo: probe at step %d: %.0f%% of bin pairs conflict, mean cosine %.3f", rec.Step, 100*rec.Stats.NegativeFraction, rec.Stats.MeanCosine)
			if s := rec.Solution("fw"); s != nil {
				msg += fmt.Sprintf(", Pareto (fw) weight on the lowest-noise bin %.2f", s.W[0])
			}
			env.Logf("%s", msg)
			return nil
		},
		OnProgress: func(p run.Progress) {
			if p.Step%logEvery == 0 || p.Step == p.Steps {
				eta := time.Duration(float64(p.Steps-p.Step) / p.StepsPerSec * float64(time.Second))
				env.Logf("demo: step %d/%d  loss %.4g  %.0f steps/s  ETA %s", p.Step, p.Steps, p.Loss, p.StepsPerSec, eta.Round(time.Second))
			}
		},
	}
	trainStart := time.Now()
	r, err := run.Train(ctx, filepath.Join(env.Out, DemoModelDir), spec, opt)
	if err != nil {
		return nil, err
	}
	res.TrainTime = time.Since(trainStart)
	if res.Records, err = r.Records(); err != nil {
		return nil, err
	}
	info, probes, err := r.Probe(DemoProbe)
	if err != nil {
		return nil, err
	}
	res.Probes = probes
	for _, f := range []string{run.SpecFile, run.CheckpointFile, run.MetricsFile, filepath.Join(run.ProbesDir, DemoProbe, conflict.RecordsFile)} {
		out.files = append(out.files, filepath.ToSlash(filepath.Join(DemoModelDir, f)))
	}
	if err := trainingFigure(res, out.path("training.png")); err != nil {
		return nil, err
	}
	figs, err := conflict.WriteFigures(filepath.Join(env.Out, DemoConflictDir), info, sched, res.Probes, conflict.FigureOptions{})
	if err != nil {
		return nil, err
	}
	for _, f := range figs {
		out.files = append(out.files, DemoConflictDir+"/"+filepath.Base(f))
	}

	// 4. Pareto weights of the last probe against the closed forms.
	env.Logf("demo: [3/5] Pareto weights of the last probe (fw, ugd; λ = 0 and λ = %g·tr(G)/K) against %s", sizes.Lambda, strings.Join(PaperStrategies, ", "))
	if err := res.compare(sched, strategies); err != nil {
		return nil, err
	}
	pt := paretoTable(res)
	if err := pt.WriteCSV(out.path("pareto.csv")); err != nil {
		return nil, err
	}
	if err := paretoFigure(res, out.path("pareto.png")); err != nil {
		return nil, err
	}

	// 5. Samples.
	q := sizes.quality(env.Seed)
	env.Logf("demo: [4/5] sampling %d points (%s, %d steps) from the trained and the untrained network", q.Samples, q.Sampler, q.SamplerSteps)
	mq, err := env.QualityOf(ctx, q, spec.Train.Data)
	if err != nil {
		return nil, err
	}
	den, err := r.Denoiser(be, true)
	if err != nil {
		return nil, err
	}
	res.Quality = DemoQuality{Metric: mq.Metric(), Floor: mq.Floor()}
	var trained, untrained []float32
	for d := 0; d < q.Repeats; d++ {
		x, err := mq.Sample(ctx, den, sched, d)
		if err != nil {
			return nil, err
		}
		v, err := mq.Distance(x)
		if err != nil {
			return nil, err
		}
		res.Quality.Trained = append(res.Quality.Trained, v)
		if d == 0 {
			trained = x
		}
	}
	target, err := weighting.ParseTarget(spec.Train.Target)
	if err != nil {
		return nil, err
	}
	if untrained, err = mq.Sample(ctx, diffusion.NewNetDenoiser(net0, target, sched), sched, 0); err != nil {
		return nil, err
	}
	if res.Quality.Untrained, err = mq.Distance(untrained); err != nil {
		return nil, err
	}
	qt := Table{Header: []string{"model", "draw", strings.ToLower(mq.Metric())}}
	for d, v := range res.Quality.Trained {
		qt.Add("trained (EMA)", d, v)
	}
	qt.Add("untrained", 0, res.Quality.Untrained)
	qt.Add("real data (floor)", 0, res.Quality.Floor)
	if err := qt.WriteCSV(out.path("quality.csv")); err != nil {
		return nil, err
	}
	if err := demoSamplesFigure(res, mq.Reference()[:len(trained)], untrained, trained, out.path("samples.png")); err != nil {
		return nil, err
	}

	// 6. The report.
	env.Logf("demo: [5/5] writing %s", filepath.Join(env.Out, DemoReport))
	res.Files = append([]string{DemoReport}, out.files...)
	res.Elapsed = time.Since(start)
	if err := atomicfile.WriteBytes(filepath.Join(env.Out, DemoReport), []byte(res.Markdown())); err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	return res, nil
}

// spec is the demo's run: the model of the sizes with the metrics (and the
// untrained network's at step 0) every Model.EvalEvery steps and the probe
// of the bins every ProbeEvery steps, solved with fw and ugd.
func (d DemoSizes) spec(seed uint64) run.Spec {
	s := d.Model.Model(d.Target, d.Strategy, seed, seed)
	s.Eval = run.EvalSpec{Every: d.Model.EvalEvery, AtStart: true}
	s.Probes = []conflict.ProbeSpec{{Name: DemoProbe, Every: d.ProbeEvery, Bins: "t:" + strconv.Itoa(d.Bins), PerBin: d.PerBin,
		Seed: seed, Methods: conflict.DefaultMethods}}
	return s
}

// quality is the sample-quality measure of the demo's samples.
func (d DemoSizes) quality(seed uint64) run.QualitySpec {
	m := d.Model
	return run.QualitySpec{Samples: m.Samples, Sampler: m.Sampler, SamplerSteps: m.SamplerSteps, Repeats: m.Repeats, Seed: seed}
}

// dataVarianceDraws is the number of points whose variance estimates the
// data's, and streamDataVar their random stream under the seed.
const (
	dataVarianceDraws = 20000
	streamDataVar     = 104
)

// dataVariance returns the mean per-coordinate variance of the data,
// (1/D)·Σ_d Var(x_d), estimated from dataVarianceDraws points.
func dataVariance(ds diffusion.Dataset, seed uint64) float64 {
	D := ds.Dim()
	x := make([]float32, dataVarianceDraws*D)
	ds.Sample(rand.New(rand.NewPCG(seed, streamDataVar)), x)
	var v float64
	for d := 0; d < D; d++ {
		col := make([]float64, dataVarianceDraws)
		for i := range col {
			col[i] = float64(x[i*D+d])
		}
		_, sd := meanSD(col)
		v += sd * sd / float64(D)
	}
	return v
}

// compare solves the last probe's problem with λ and evaluates every
// weighting on it.
func (r *DemoResult) compare(sched *diffusion.Schedule, strategies []weighting.Strategy) error {
	final := r.Final()
	g := final.Gram
	K := g.SymmetricDim()
	tr := 0.0
	for k := 0; k < K; k++ {
		tr += g.At(k, k)
	}
	r.Lambda = r.Sizes.Lambda * tr / float64(K)
	withL, err := conflict.SolveConfig{Methods: conflict.DefaultMethods, Lambda: r.Lambda}.Solve(g, final.Losses)
	if err != nil {
		return err
	}
	p0, err := pareto.NewFromGram(g, pareto.Options{})
	if err != nil {
		return fmt.Errorf("reproduce: %w", err)
	}
	pL, err := p0.WithLambda(r.Lambda)
	if err != nil {
		return fmt.Errorf("reproduce: %w", err)
	}
	r.Weightings = nil
	for _, s := range final.Solutions {
		r.Weightings = append(r.Weightings, DemoWeighting{Name: s.Method, Pareto: true, W: s.W})
	}
	for _, s := range withL {
		r.Weightings = append(r.Weightings, DemoWeighting{Name: s.Method + lambdaSuffix, Pareto: true, Lambda: r.Lambda, W: s.W})
	}
	for i, s := range strategies {
		r.Weightings = append(r.Weightings, DemoWeighting{Name: PaperStrategies[i], W: conflict.BinWeights(s, nil, sched, r.Bins)})
	}
	opt0, optL := math.Inf(1), math.Inf(1)
	for i := range r.Weightings {
		w := &r.Weightings[i]
		e0, err := p0.Evaluate(w.W)
		if err != nil {
			return fmt.Errorf("reproduce: %s: %w", w.Name, err)
		}
		eL, err := pL.Evaluate(w.W)
		if err != nil {
			return fmt.Errorf("reproduce: %s: %w", w.Name, err)
		}
		w.W, w.F0, w.FL, w.Descent = e0.W, e0.Objective, eL.Objective, e0.Descent
		if w.Pareto && w.Lambda == 0 {
			opt0 = math.Min(opt0, w.F0)
		}
		if w.Pareto && w.Lambda > 0 {
			optL = math.Min(optL, w.FL)
		}
	}
	ref := r.Weightings[len(final.Solutions)].W // fw with λ
	for i := range r.Weightings {
		w := &r.Weightings[i]
		w.Ratio0, w.RatioL = w.F0/opt0, w.FL/optL
		w.TV = tvDistance(w.W, ref)
	}
	return nil
}

// tvDistance is ½Σ|a_k − b_k|.
func tvDistance(a, b []float64) float64 {
	s := 0.0
	for k := range a {
		s += math.Abs(a[k] - b[k])
	}
	return s / 2
}

// paretoTable is pareto.csv: every weighting with its weights and
// objectives.
func paretoTable(r *DemoResult) Table {
	t := Table{Header: []string{"weighting", "pareto", "lambda"}}
	for _, l := range r.Bins.Labels() {
		t.Header = append(t.Header, "w_"+l)
	}
	t.Header = append(t.Header, "objective_lambda0", "objective_lambda", "ratio_lambda0", "ratio_lambda", "decreases_all", "worst_inner", "tv_to_fw_lambda")
	for _, w := range r.Weightings {
		row := []any{w.Name, w.Pareto, w.Lambda}
		for _, v := range w.W {
			row = append(row, v)
		}
		row = append(row, w.F0, w.FL, w.Ratio0, w.RatioL, w.Descent.DecreasesAll, w.Descent.Worst, w.TV)
		t.Add(row...)
	}
	return t
}

// trainingFigure draws the training loss and the Fig. 6 x0-MSE by
// timestep range against the step.
func trainingFigure(r *DemoResult, path string) error {
	var ls, es []float64
	var lsx, esx []float64
	for _, rec := range r.Records {
		if !math.IsNaN(rec.Loss) {
			lsx, ls = append(lsx, float64(rec.Step)), append(ls, rec.Loss)
		}
		esx, es = append(esx, float64(rec.Step)), append(es, rec.EvalLoss)
	}
	lossPanel := plots.Lines{
		Title:  fmt.Sprintf("weighted loss (%s-prediction, %s)", r.Sizes.Target, r.Sizes.Strategy),
		XLabel: "training step", YLabel: "loss (log scale)", LogY: true,
		Series: []plots.Series{{Name: "training (mean since last record)", X: lsx, Y: ls}, {Name: "held-out", X: esx, Y: es}},
	}
	msePanel := plots.Lines{Title: "unweighted x0-MSE by timestep range (Fig. 6)", XLabel: "training step", YLabel: "x0-MSE (log scale)", LogY: true, Legend: "bottom-left"}
	for i := range r.RangeLabels {
		var x, y []float64
		for _, rec := range r.Records {
			if i < len(rec.X0MSE) {
				x, y = append(x, float64(rec.Step)), append(y, rec.X0MSE[i])
			}
		}
		msePanel.Series = append(msePanel.Series, plots.Series{Name: "t in " + r.RangeLabels[i], X: x, Y: y})
	}
	last := float64(r.Records[len(r.Records)-1].Step)
	msePanel.Series = append(msePanel.Series, plots.Series{Name: "data variance (predicting the mean)", X: []float64{0, last}, Y: []float64{r.DataVar, r.DataVar}})
	grid := plots.Grid{Rows: 1, Cols: 2, Width: 12 * vg.Inch, Height: 4.5 * vg.Inch}
	for _, l := range []plots.Lines{lossPanel, msePanel} {
		p, err := l.Plot()
		if err != nil {
			return err
		}
		plots.UseLogTicks125(p)
		grid.Panels = append(grid.Panels, p)
	}
	return grid.Save(path)
}

// paretoFigure draws every weighting of the last probe against the bins'
// centre timesteps, on a linear and a log scale.
func paretoFigure(r *DemoResult, path string) error {
	centres := r.Bins.Centers()
	var series []plots.Series
	for _, w := range r.Weightings {
		name := w.Name
		if w.Pareto {
			name = "Pareto " + name
			if w.Lambda > 0 {
				name += fmt.Sprintf("=%.3g", w.Lambda)
			}
		}
		series = append(series, plots.Series{Name: name, X: centres, Y: w.W})
	}
	step := r.Final().Step
	grid := plots.Grid{Rows: 1, Cols: 2, Width: 12 * vg.Inch, Height: 4.5 * vg.Inch}
	for _, log := range []bool{false, true} {
		l := plots.Lines{
			Title:  fmt.Sprintf("weights on the %d bins' x0 losses (sum 1), step %d", r.Bins.K(), step),
			XLabel: "timestep t (bin centre)", YLabel: "weight", Series: series, LogY: log,
		}
		if log {
			l.Title, l.YLabel, l.Legend = "the same on a log scale (zero weights left out)", "weight (log scale)", "none"
		}
		p, err := l.Plot()
		if err != nil {
			return err
		}
		if log {
			plots.UseLogTicks125(p)
		}
		grid.Panels = append(grid.Panels, p)
	}
	return grid.Save(path)
}

// demoSamplesFigure draws real points, the untrained and the trained
// model's samples side by side on the same axes.
func demoSamplesFigure(r *DemoResult, real, untrained, trained []float32, path string) error {
	lim := 0.0
	for _, v := range real {
		lim = math.Max(lim, math.Abs(float64(v)))
	}
	lim *= 1.15
	q := r.Quality
	mean, _ := meanSD(q.Trained)
	grid := plots.Grid{Rows: 1, Cols: 3, Width: 13 * vg.Inch, Height: 4.6 * vg.Inch}
	for _, s := range []plots.Scatter{
		{Title: fmt.Sprintf("real data (%s floor %.3f)", q.Metric, q.Floor), Points: real},
		{Title: fmt.Sprintf("untrained network (%s %.3f)", q.Metric, q.Untrained), Points: untrained},
		{Title: fmt.Sprintf("trained, EMA weights (%s %.3f)", q.Metric, mean), Points: trained},
	} {
		s.Min, s.Max = -lim, lim
		p, err := s.Plot()
		if err != nil {
			return err
		}
		grid.Panels = append(grid.Panels, p)
	}
	return grid.Save(path)
}
