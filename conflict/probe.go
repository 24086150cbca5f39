package conflict

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/weighting"
	"gonum.org/v1/gonum/mat"
)

// StreamProbe is the random stream of a probe's fixed batch:
// rand.NewPCG(Seed, StreamProbe). A fresh batch at step s comes from
// rand.NewPCG(Seed, StreamProbe+1+s), so probe batches depend only on the
// seed and the step, never on how many probes ran before (a resumed run
// draws the same ones). diffusion's training streams are 0–2.
const StreamProbe = 16

// DefaultPerBin is the default number of examples per bin of a probe.
const DefaultPerBin = 32

// ProbeConfig configures a Probe. Bins is required; zero fields take the
// documented defaults.
type ProbeConfig struct {
	// Bins are the K timestep bins (the tasks).
	Bins weighting.Bins
	// PerBin is the number of examples drawn in each bin (default
	// DefaultPerBin); a probe batch has K·PerBin rows.
	PerBin int
	// Params names the parameters whose gradients are compared (see
	// ParamsHelp; default "all").
	Params string
	// Fresh draws a new probe batch at every probe; by default every probe
	// uses the same batch, so that changes over training are the model's,
	// not the sample's.
	Fresh bool
	// Seed seeds the probe batches (see StreamProbe).
	Seed uint64
	// Task weighs each example in its bin's task loss (nil: the unweighted
	// x0-MSE, the paper's per-task loss); see gram.Config.
	Task weighting.Strategy
	// Method is how the Gram's Linear-layer part is formed (default
	// gram.Auto).
	Method gram.Method
	// Reference computes the Gram the slow way instead, one backward pass
	// per bin (gram.BinGradients), for checks.
	Reference bool
	// Estimator is how the Gram is estimated (default gram.Plain): with
	// gram.Split a probe forms the split-half estimate from the bins'
	// halves (gram.Pass.RunSplit, or one backward pass per half with
	// Reference), and its Gram, statistics and Pareto weights are those of
	// the estimate's PSD projection. It needs PerBin ≥ 2.
	Estimator gram.Estimator
	// Solve says which Pareto weightings are solved at every probe; set
	// NoSolve to skip them.
	Solve   SolveConfig
	NoSolve bool
}

// Record is the result of one probe.
type Record struct {
	// Step is the training step of the model the probe ran on (for a
	// checkpoint probed on its own, the checkpoint's step).
	Step int
	// Losses are the bins' task losses L_k on the probe batch.
	Losses []float64
	// Stats summarise the Gram matrix.
	Stats Stats
	// Solutions are the Pareto weightings, one per solver.
	Solutions []Solution
	// Seconds is the probe's wall time (passes, Gram, solves).
	Seconds float64
	// Gram is the K×K Gram matrix of the per-bin gradients and Cosine its
	// cosine matrix; logs keep them as NPY files beside the JSONL. With the
	// split estimator Gram is the PSD projection of the split-half estimate.
	Gram, Cosine *mat.SymDense
	// Signal and Projection are the split estimator's (nil with the plain
	// one): each bin's signal fraction (gram.SplitResult.Signal, of a half
	// bin's PerBin/2 examples) and how far the PSD projection moved the
	// split-half estimate.
	Signal     []float64
	Projection *gram.Projection
}

// Solution returns the record's solution of the named method, or nil.
func (r *Record) Solution(method string) *Solution {
	for i := range r.Solutions {
		if r.Solutions[i].Method == method {
			return &r.Solutions[i]
		}
	}
	return nil
}

// Probe measures the per-bin gradients of a network being trained: each
// Measure draws (or reuses) a batch stratified into K bins, PerBin examples
// each, runs one forward and backward pass (gram.Pass), and returns the
// K×K Gram matrix of the bins' task-loss gradients over the selected
// parameters, its cosine matrix, Stats and the Pareto weights. It
// overwrites the network's gradients and activations (which the next
// training step recomputes), never its parameters or any random stream of
// the training run.
type Probe struct {
	cfg    ProbeConfig
	obj    *diffusion.Objective
	data   diffusion.Dataset
	bg     *gram.Pass
	sel    func(string) bool
	fixed  diffusion.Batch
	counts []int
}

// NewProbe prepares probes of obj's network on examples from data.
func NewProbe(obj *diffusion.Objective, data diffusion.Dataset, cfg ProbeConfig) (*Probe, error) {
	if len(cfg.Bins.Edges) < 3 {
		return nil, errors.New("conflict: a probe needs at least 2 bins")
	}
	if cfg.Bins.T() != obj.Schedule.T() {
		return nil, fmt.Errorf("conflict: bins cover T=%d timesteps but the schedule has T=%d", cfg.Bins.T(), obj.Schedule.T())
	}
	if cfg.PerBin == 0 {
		cfg.PerBin = DefaultPerBin
	}
	if cfg.PerBin < 1 {
		return nil, fmt.Errorf("conflict: need ≥ 1 example per bin, got %d", cfg.PerBin)
	}
	switch {
	case cfg.Estimator != gram.Plain && cfg.Estimator != gram.Split:
		return nil, fmt.Errorf("conflict: unknown Gram estimator %v", cfg.Estimator)
	case cfg.Estimator == gram.Split && cfg.PerBin < 2:
		return nil, fmt.Errorf("conflict: the split estimator needs ≥ 2 examples per bin (one per half), got %d", cfg.PerBin)
	}
	if data.Dim() != obj.Net.Dim() {
		return nil, fmt.Errorf("conflict: data of dimension %d for a network of dimension %d", data.Dim(), obj.Net.Dim())
	}
	if !cfg.NoSolve {
		if err := cfg.Solve.Validate(); err != nil {
			return nil, err
		}
	}
	var names []string
	for _, p := range obj.Net.Params().Params() {
		names = append(names, p.Name)
	}
	sel, err := ParseParams(cfg.Params, names)
	if err != nil {
		return nil, err
	}
	p := &Probe{cfg: cfg, obj: obj, data: data, sel: sel, counts: make([]int, cfg.Bins.K())}
	for k := range p.counts {
		p.counts[k] = cfg.PerBin
	}
	if !cfg.Reference {
		if p.bg, err = gram.NewPass(obj, gram.Config{Params: sel, Task: cfg.Task, Method: cfg.Method}); err != nil {
			return nil, fmt.Errorf("conflict: %w", err)
		}
	}
	if !cfg.Fresh {
		p.fixed = diffusion.DrawBins(rand.New(rand.NewPCG(cfg.Seed, StreamProbe)), data, cfg.Bins, cfg.PerBin)
	}
	return p, nil
}

// Config returns the configuration with defaults filled in.
func (p *Probe) Config() ProbeConfig { return p.cfg }

// Batch returns the probe batch of the given step (the fixed one unless
// Fresh), rows grouped by bin.
func (p *Probe) Batch(step int) diffusion.Batch {
	if !p.cfg.Fresh {
		return p.fixed
	}
	rng := rand.New(rand.NewPCG(p.cfg.Seed, StreamProbe+1+uint64(step)))
	return diffusion.DrawBins(rng, p.data, p.cfg.Bins, p.cfg.PerBin)
}

// Measure runs one probe of the network as it is now and labels it with
// step.
func (p *Probe) Measure(step int) (Record, error) {
	start := time.Now()
	b := p.Batch(step)
	var rec Record
	var err error
	if p.cfg.Estimator == gram.Split {
		rec, err = p.measureSplit(b)
	} else {
		rec, err = p.measurePlain(b)
	}
	if err != nil {
		return Record{}, err
	}
	rec.Step, rec.Cosine, rec.Stats = step, gram.Cosine(rec.Gram), Summarize(rec.Gram)
	if !p.cfg.NoSolve {
		sols, err := p.cfg.Solve.Solve(rec.Gram, rec.Losses)
		if err != nil {
			return Record{}, fmt.Errorf("conflict: probe at step %d: %w", step, err)
		}
		rec.Solutions = sols
	}
	rec.Seconds = time.Since(start).Seconds()
	return rec, nil
}

// measurePlain forms the plain Gram of the full bins and their losses.
func (p *Probe) measurePlain(b diffusion.Batch) (Record, error) {
	K := p.cfg.Bins.K()
	if p.cfg.Reference {
		g, losses := p.referenceGram(b, p.counts)
		return Record{Gram: g, Losses: losses}, nil
	}
	res, err := p.bg.Run(b, p.counts, nil)
	if err != nil {
		return Record{}, fmt.Errorf("conflict: %w", err)
	}
	return Record{Gram: mat.NewSymDense(K, res.Gram), Losses: res.BinLoss}, nil
}

// measureSplit forms the split-half estimate (gram.SplitFromHalves) from
// the Gram of the bins' halves, one pass (gram.Pass.RunSplit) or one
// backward pass per half with Reference.
func (p *Probe) measureSplit(b diffusion.Batch) (Record, error) {
	K := p.cfg.Bins.K()
	var res gram.SplitResult
	var err error
	if p.cfg.Reference {
		halves, herr := gram.Halves(p.counts)
		if herr != nil {
			return Record{}, fmt.Errorf("conflict: %w", herr)
		}
		h, losses := p.referenceGram(b, halves)
		res, err = gram.SplitFromHalves(h, losses, p.counts)
	} else {
		res, err = p.bg.RunSplit(b, p.counts, nil)
	}
	if err != nil {
		return Record{}, fmt.Errorf("conflict: %w", err)
	}
	proj := res.Projection
	return Record{Gram: mat.NewSymDense(K, res.Gram), Losses: res.BinLoss, Signal: res.Signal, Projection: &proj}, nil
}

// referenceGram is the brute-force Gram of the selected parameters'
// gradients of groups of rows (group i is the next groups[i] rows of b),
// one backward pass per group (gram.BinGradientRows), and the groups'
// task losses.
func (p *Probe) referenceGram(b diffusion.Batch, groups []int) (*mat.SymDense, []float64) {
	rows := make([][]float64, len(groups))
	losses := make([]float64, len(groups))
	off := 0
	for i, n := range groups {
		grads, l := gram.BinGradientRows(p.obj, b.Slice(off, off+n), 1, p.cfg.Task)
		off += n
		for _, prm := range p.obj.Net.Params().Params() {
			if p.sel == nil || p.sel(prm.Name) {
				rows[i] = append(rows[i], grads[0][prm.Offset:prm.Offset+prm.Size]...)
			}
		}
		losses[i] = l[0]
	}
	return gram.FromRows(rows), losses
}
