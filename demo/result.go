package demo

import (
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
)

// Files and folders of the demo's output folder.
const (
	// ReportFile is the markdown report.
	ReportFile = "report.md"
	// ModelDir is the trained model's run folder (package run: the spec,
	// checkpoint, metrics and the probe log probes/conflict/), which
	// `paretodiff sample`, `eval` and `conflict --checkpoint` read.
	ModelDir = "model"
	// ConflictDir holds the figures of the probes (conflict.WriteFigures).
	ConflictDir = "conflict"
	// ProbeName is the probe's name in the run.
	ProbeName = "conflict"
)

// lambdaSuffix names the weights solved with the demo's λ ("fw λ").
const lambdaSuffix = " λ"

// Result holds everything Run measured: Render draws it and writes the
// report (Markdown) from it alone.
type Result struct {
	// Sizes, Seed and Device are the run's.
	Sizes  Sizes
	Seed   uint64
	Device string
	// Params is the network's parameter count.
	Params int
	// Elapsed is Run's wall time and TrainTime that of training (with the
	// probes).
	Elapsed, TrainTime time.Duration
	// Schedule is the noise schedule the model was trained on.
	Schedule *diffusion.Schedule
	// Records are the training metrics (run.Record; step 0 holds the
	// untrained network's held-out losses and a NaN training loss), every
	// Model.EvalEvery steps.
	Records []run.Record
	// RangeLabels are the labels of the paper's Fig. 6 timestep ranges
	// (reproduce.Fig6Labels), in the order of a record's X0MSE.
	RangeLabels []string
	// DataVar is the data's mean per-coordinate variance: the x0-MSE of
	// always predicting the data mean.
	DataVar float64
	// Bins are the probes' timestep bins, ProbeInfo the probe log's header
	// and Probes every probe record (step 0, every ProbeEvery steps; the
	// last one, at the end of training, is the one whose Pareto problem is
	// solved and compared).
	Bins      weighting.Bins
	ProbeInfo conflict.Info
	Probes    []conflict.Record
	// Lambda is the absolute λ of the weights "with λ".
	Lambda float64
	// Weightings are the Pareto weights (λ = 0, then with λ) and the
	// closed forms (reproduce.PaperStrategies, in order), each evaluated on
	// the last probe's problem.
	Weightings []Weighting
	// Quality is the sample quality and Samples the point sets drawn.
	Quality Quality
	Samples Samples
	// ModelFiles are the run folder's files, relative to the output
	// folder (Run writes them).
	ModelFiles []string
	// Files are the files of the output folder the report links, relative
	// to it, in the report's order: report.md, what Render wrote and
	// ModelFiles. Render sets them.
	Files []string
}

// Weighting is one weighting of the bins' task losses, evaluated as a
// point of the Pareto problem of the demo's last probe.
type Weighting struct {
	// Name is the solver ("fw", "ugd"; "fw λ" when solved with λ) or the
	// strategy ("min-snr:5").
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

// Quality is the sample quality of the demo's model.
type Quality struct {
	// Metric names the measure ("SWD", lower is better).
	Metric string
	// Trained holds one value per sample set of the trained model (EMA
	// weights); Untrained is the same network at its initial weights and
	// Floor the measure between two sets of real points.
	Trained          []float64
	Untrained, Floor float64
}

// Samples are the point sets samples.png draws, each N points of the
// data's dimension, flattened point by point.
type Samples struct {
	// Real are reference points of the data, as many as Trained.
	Real []float32
	// Untrained are the untrained network's samples and Trained the
	// trained model's first sample set (EMA weights).
	Untrained, Trained []float32
}

// Final returns the last probe: the trained model's.
func (r *Result) Final() conflict.Record { return r.Probes[len(r.Probes)-1] }

// Weighting returns the weighting of a name ("fw", "fw λ", "min-snr:5"),
// or nil.
func (r *Result) Weighting(name string) *Weighting {
	for i := range r.Weightings {
		if r.Weightings[i].Name == name {
			return &r.Weightings[i]
		}
	}
	return nil
}
