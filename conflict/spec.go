package conflict

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/gram"
	"github.com/paretodiff/paretodiff/mtl"
	"github.com/paretodiff/paretodiff/pareto"
	"github.com/paretodiff/paretodiff/weighting"
)

// ProbeSpec is a probe as files and command lines say it: every setting a
// string or a number, so that a run's specification can hold its probes
// (package run) and the command line builds one from flags. Config turns
// it into the ProbeConfig of a schedule. The zero value of a field means
// its default (WithDefaults).
type ProbeSpec struct {
	// Name names the probe among a run's probes (its log is the run
	// folder's probes/NAME).
	Name string `json:"name"`
	// Every is the probe interval in training steps: a run probes before
	// its first step and after every Every-th (≥ 1 in a run; unused for a
	// model probed on its own).
	Every int `json:"every"`
	// Bins is the bin spec (weighting.BinsHelp; default t:8).
	Bins string `json:"bins"`
	// PerBin is the number of examples per bin of a probe batch (default
	// DefaultPerBin).
	PerBin int `json:"per_bin"`
	// Params is the parameter subset (ParamsHelp; default all).
	Params string `json:"params"`
	// Task is the closed-form weighting of each bin's task loss on the x0
	// loss (default constant: the unweighted x0-MSE).
	Task string `json:"task"`
	// Gram is how the Gram is formed: auto, ghost, materialize (one pass)
	// or reference (one pass per bin); default auto.
	Gram string `json:"gram"`
	// GramEstimator is how the Gram is estimated from the batch (ProbeSpec
	// values: EstimatorHelp): plain (default) or split, the split-half
	// estimator whose diagonal carries no sampling noise (gram.Split; the
	// probe's Gram is its PSD projection; PerBin ≥ 2). Plain is kept as ""
	// in the canonical form (WithDefaults), so that a run spec without a
	// split probe, and its Hash, are those of a spec written before the
	// option existed.
	GramEstimator string `json:"gram_estimator,omitempty"`
	// Methods are the Pareto solvers run at every probe (empty: none);
	// Lambda and Normalizer are as in SolveConfig (default none).
	Methods    []string `json:"methods,omitempty"`
	Lambda     float64  `json:"lambda"`
	Normalizer string   `json:"normalizer"`
	// MTLOptions are the aggregators' hyper-parameters, "key=value,…" as
	// mtl.ParseOptions reads them (mtl.OptionsHelp; default none: every
	// method's defaults). The canonical form (WithDefaults) is
	// mtl.Config.String's, "" for the defaults, and the key is left out
	// when empty, so that a spec without options, and its Hash, are those
	// of a spec written before the field existed.
	MTLOptions string `json:"mtl_options,omitempty"`
	// Fresh draws a new batch at every probe (default: one fixed batch).
	Fresh bool `json:"fresh"`
	// Seed seeds the probe batches (StreamProbe).
	Seed uint64 `json:"seed"`
}

// GramHelp lists the values of ProbeSpec.Gram.
const GramHelp = "auto, ghost, materialize (one pass) or reference (one pass per bin)"

// EstimatorHelp lists the values of ProbeSpec.GramEstimator.
const EstimatorHelp = gram.EstimatorHelp

// WithDefaults fills the zero fields with their defaults, giving the
// canonical form two equal probes share.
func (s ProbeSpec) WithDefaults() ProbeSpec {
	if s.Bins == "" {
		s.Bins = "t:8"
	}
	if s.PerBin == 0 {
		s.PerBin = DefaultPerBin
	}
	if s.Params == "" {
		s.Params = "all"
	}
	if s.Task == "" {
		s.Task = "constant"
	}
	if s.Gram == "" {
		s.Gram = "auto"
	}
	if s.Normalizer == "" {
		s.Normalizer = "none"
	}
	if s.GramEstimator == gram.Plain.String() {
		s.GramEstimator = ""
	}
	if c, err := mtl.ParseOptions(s.MTLOptions); err == nil {
		s.MTLOptions = c.String() // invalid options are Config's error
	}
	return s
}

// SpecError is the error of a ProbeSpec field: Field is its JSON key
// ("bins", "per_bin", "methods", …).
type SpecError struct {
	Field string
	Err   error
}

// Error names the field and the problem ("conflict: probe bins: …").
func (e *SpecError) Error() string { return "conflict: probe " + e.Field + ": " + e.Err.Error() }

// Unwrap returns the problem.
func (e *SpecError) Unwrap() error { return e.Err }

// Config checks the spec and turns it into the probe configuration of a
// schedule. An error is a *SpecError naming the field.
func (s ProbeSpec) Config(sched *diffusion.Schedule) (ProbeConfig, error) {
	s = s.WithDefaults()
	bad := func(field string, err error) (ProbeConfig, error) {
		return ProbeConfig{}, &SpecError{Field: field, Err: err}
	}
	bins, err := weighting.ParseBins(s.Bins, sched.LogSNRs())
	if err != nil {
		return bad("bins", err)
	}
	if bins.K() < 2 {
		return bad("bins", fmt.Errorf("%q is one bin; a probe compares at least 2", s.Bins))
	}
	if s.PerBin < 1 {
		return bad("per_bin", fmt.Errorf("need ≥ 1 example per bin, got %d", s.PerBin))
	}
	if s.Every < 0 {
		return bad("every", fmt.Errorf("need ≥ 1, got %d", s.Every))
	}
	norm, err := pareto.ParseNormalizer(s.Normalizer)
	if err != nil {
		return bad("normalizer", err)
	}
	if math.IsNaN(s.Lambda) || math.IsInf(s.Lambda, 0) || s.Lambda < 0 {
		return bad("lambda", fmt.Errorf("λ must be finite and ≥ 0, got %g", s.Lambda))
	}
	opts, err := mtl.ParseOptions(s.MTLOptions)
	if err != nil {
		return bad("mtl_options", err)
	}
	cfg := ProbeConfig{Bins: bins, PerBin: s.PerBin, Params: s.Params, Fresh: s.Fresh, Seed: s.Seed,
		Solve: SolveConfig{Methods: s.Methods, Lambda: s.Lambda, Normalizer: norm, Options: opts}, NoSolve: len(s.Methods) == 0}
	if !cfg.NoSolve {
		if err := cfg.Solve.Validate(); err != nil {
			return bad("methods", err)
		}
		if err := checkMethodsFor(s.Methods, bins.K()); err != nil {
			return bad("methods", err)
		}
	}
	if s.Task != "constant" {
		if cfg.Task, err = weighting.ParseStrategy(s.Task); err != nil {
			return bad("task", err)
		}
	}
	switch s.Gram {
	case "auto":
	case "ghost":
		cfg.Method = gram.Ghost
	case "materialize":
		cfg.Method = gram.Materialize
	case "reference":
		cfg.Reference = true
	default:
		return bad("gram", fmt.Errorf("%q: want %s", s.Gram, GramHelp))
	}
	est, err := gram.ParseEstimator(s.GramEstimator)
	if err != nil {
		return bad("gram_estimator", fmt.Errorf("%q: want %s", s.GramEstimator, EstimatorHelp))
	}
	if est == gram.Split && s.PerBin < 2 {
		return bad("per_bin", fmt.Errorf("the split estimator needs ≥ 2 examples per bin (one per half), got %d", s.PerBin))
	}
	cfg.Estimator = est
	return cfg, nil
}
