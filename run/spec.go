package run

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/jsondiff"
	_ "github.com/paretodiff/paretodiff/learned" // registers the "learned" weighting family that specs name
	"github.com/paretodiff/paretodiff/weighting"
)

// Spec fully describes a training run: what it trains (the data, the
// network), how (schedule, target, weighting, density, batch, optimiser,
// seed, steps) and what it measures on the way (metrics records, sample
// quality, gradient-conflict probes). It is written to the run folder once
// (SpecFile); a resumed run must ask for the same, but for Steps. Zero
// fields take the defaults Normalize fills in.
type Spec struct {
	// Net is the network: a kind and its configuration (nn.Spec; a new
	// backbone adds a kind there). Its example length follows the data.
	Net nn.Spec `json:"net"`
	// Train is the training trajectory: the data spec, schedule, target,
	// weighting (a closed form or an online "pareto:…" spec), density,
	// batch, seed, held-out size and optimiser — what checkpoints hold.
	Train diffusion.TrainSpec `json:"train"`
	// Steps is the step the run trains up to; a resumed run may raise it.
	Steps int `json:"steps"`
	// Eval says what is recorded along the way.
	Eval EvalSpec `json:"eval"`
	// Probes are gradient-conflict probes taken before the first step and
	// every Probes[i].Every steps, each logged under probes/NAME.
	Probes []conflict.ProbeSpec `json:"probes,omitempty"`
	// Init, if set, starts the network from another run's weights instead
	// of a seeded initialisation: a fine-tune (the optimiser starts
	// afresh).
	Init *InitSpec `json:"init,omitempty"`
}

// InitSpec names the weights a run starts from.
type InitSpec struct {
	// From is the run folder (or checkpoint file) whose checkpoint holds
	// them, a relative path being relative to the run's own folder (so that
	// runs that start from each other move together); its network must be
	// the spec's Net.
	From string `json:"from"`
	// EMA takes its EMA weights instead of its raw ones.
	EMA bool `json:"ema,omitempty"`
}

// EvalSpec says what a run records.
type EvalSpec struct {
	// Every is the interval in steps of the metrics records (default 100);
	// the last step always has one.
	Every int `json:"every"`
	// AtStart also records the untrained network at step 0 (its training
	// loss is NaN: no step was taken).
	AtStart bool `json:"at_start,omitempty"`
	// Quality, if set, measures the sample quality of the EMA weights at
	// every record, and Repeats times at the last.
	Quality *QualitySpec `json:"quality,omitempty"`
}

// Default sizes of a Spec (Normalize).
const (
	DefaultEvalEvery = 100
	DefaultSchedule  = "cosine"
	DefaultT         = 1000
)

// Normalize returns the spec with every default filled in and every name
// in its canonical form (a weighting as weighting.Parse writes it back, the
// network's example length from the data), so that two specs of the same
// run are equal and hash alike. An error is a *FieldError (wrapping
// ErrInput) naming the field.
func (s Spec) Normalize() (Spec, error) {
	sched, dim, err := normalizeTrain(&s.Train)
	if err != nil {
		return Spec{}, err
	}
	if err := s.normalizeNet(s.Train.Data, dim); err != nil {
		return Spec{}, &FieldError{Field: "net", Err: err}
	}
	if s.Steps < 1 {
		return Spec{}, &FieldError{Field: "steps", Err: fmt.Errorf("need ≥ 1, got %d", s.Steps)}
	}
	if err := s.Eval.normalize(sched); err != nil {
		return Spec{}, err
	}
	if s.Probes, err = normalizeProbes(s.Probes, sched); err != nil {
		return Spec{}, err
	}
	if s.Init != nil && s.Init.From == "" {
		return Spec{}, &FieldError{Field: "init.from", Err: errors.New("name the run to start from")}
	}
	return s, nil
}

// normalizeTrain fills in the trajectory's defaults and canonical names in
// place and returns its schedule and the data's example length.
func normalizeTrain(tr *diffusion.TrainSpec) (*diffusion.Schedule, int, error) {
	bad := func(field string, err error) (*diffusion.Schedule, int, error) {
		return nil, 0, &FieldError{Field: "train." + field, Err: err}
	}
	dim, err := data.DimOf(tr.Data)
	if err != nil {
		return bad("data", err)
	}
	if tr.Schedule == "" {
		tr.Schedule = DefaultSchedule
	}
	if tr.T == 0 {
		tr.T = DefaultT
	}
	sched, err := diffusion.NewSchedule(tr.Schedule, tr.T, tr.ZeroTerminal)
	if err != nil {
		return bad("schedule", err)
	}
	tr.Schedule = sched.Name() // canonical: "flow:shift=1" is "flow"
	if tr.Target == "" {
		tr.Target = weighting.Eps.String()
	}
	target, err := weighting.ParseTarget(tr.Target)
	if err != nil {
		return bad("target", err)
	}
	if err := sched.CheckTarget(target); err != nil {
		return bad("target", err)
	}
	tr.Target = target.String()
	w, err := weighting.Parse(tr.Weighting)
	if err != nil {
		return bad("weighting", err)
	}
	tr.Weighting = w.String()
	if tr.Density, err = normalizeDensity(tr.Density, w, sched); err != nil {
		return bad("density", err)
	}
	if tr.Batch == 0 {
		tr.Batch = 128
	}
	if tr.EvalSize == 0 {
		tr.EvalSize = 256
	}
	if tr.Batch < 1 || tr.EvalSize < 1 {
		return bad("batch", fmt.Errorf("batch and eval size must be ≥ 1, got %d and %d", tr.Batch, tr.EvalSize))
	}
	tr.Optim = tr.Optim.WithDefaults()
	if err := tr.Optim.Validate(); err != nil {
		return bad("optim", err)
	}
	return sched, dim, nil
}

// normalizeDensity is the canonical density spec: "" and "auto" are the
// weighting's preferred density (an online weighting's bins, stratified)
// or uniform.
func normalizeDensity(spec string, w weighting.Weighting, sched *diffusion.Schedule) (string, error) {
	if spec == "" || spec == "auto" {
		spec = "uniform"
		if p, ok := w.(interface{ DefaultDensity() string }); ok && p.DefaultDensity() != "" {
			spec = p.DefaultDensity()
		}
	}
	d, err := weighting.ParseDensity(spec, sched.T(), sched.LogSNRs())
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// normalize fills in the metrics interval and the quality's defaults, and
// checks the quality's sampler on the run's schedule.
func (e *EvalSpec) normalize(sched *diffusion.Schedule) error {
	if e.Every == 0 {
		e.Every = DefaultEvalEvery
	}
	if e.Every < 1 {
		return &FieldError{Field: "eval.every", Err: fmt.Errorf("need ≥ 1, got %d", e.Every)}
	}
	if e.Quality != nil {
		q, err := e.Quality.normalize(sched)
		if err != nil {
			return &FieldError{Field: "eval.quality", Err: err}
		}
		e.Quality = &q
	}
	return nil
}

// normalizeProbes fills in every probe's defaults and checks it on the
// schedule: names unique (each is a folder), intervals ≥ 1.
func normalizeProbes(probes []conflict.ProbeSpec, sched *diffusion.Schedule) ([]conflict.ProbeSpec, error) {
	if len(probes) == 0 {
		return nil, nil
	}
	names := map[string]bool{}
	out := make([]conflict.ProbeSpec, len(probes))
	for i, p := range probes {
		field := func(f string) string { return fmt.Sprintf("probes.%d%s", i, f) }
		p = p.WithDefaults()
		if p.Name == "" || strings.ContainsAny(p.Name, `/\`) || p.Name == "." || p.Name == ".." || names[p.Name] {
			return nil, &FieldError{Field: field(".name"), Err: fmt.Errorf("%q: want a unique folder name", p.Name)}
		}
		names[p.Name] = true
		if p.Every < 1 {
			return nil, &FieldError{Field: field(".every"), Err: fmt.Errorf("need ≥ 1, got %d", p.Every)}
		}
		if _, err := p.Config(sched); err != nil {
			return nil, &FieldError{Field: field(""), Err: err}
		}
		out[i] = p
	}
	return out, nil
}

// Schedule builds the run's noise schedule.
func (s Spec) Schedule() (*diffusion.Schedule, error) {
	sched, err := diffusion.NewSchedule(s.Train.Schedule, s.Train.T, s.Train.ZeroTerminal)
	if err != nil {
		return nil, &FieldError{Field: "train.schedule", Err: err}
	}
	return sched, nil
}

// normalizeNet fills in the network's example length (or image shape)
// and defaults, from the data spec dataSpec of examples of length dim.
func (s *Spec) normalizeNet(dataSpec string, dim int) error {
	switch s.Net.Kind {
	case "", "resmlp":
		c := nn.ResMLPConfig{}
		if s.Net.ResMLP != nil {
			c = *s.Net.ResMLP
		}
		if c.Dim != 0 && c.Dim != dim {
			return fmt.Errorf("a network of dimension %d for data of dimension %d", c.Dim, dim)
		}
		c.Dim = dim
		if c.Width < 0 || c.Depth < 0 || c.Hidden < 0 {
			return fmt.Errorf("resmlp sizes must be ≥ 0, got width %d, depth %d, hidden %d", c.Width, c.Depth, c.Hidden)
		}
		c = c.WithDefaults()
		s.Net = nn.Spec{Kind: "resmlp", ResMLP: &c}
		return nil
	case "dit":
		c, err := normalizeDiT(s.Net.DiT, dataSpec, dim)
		if err != nil {
			return err
		}
		s.Net = nn.Spec{Kind: "dit", DiT: &c}
		// Build's checks (a patch that divides the side, heads that divide
		// the width, …) here, so that a spec that normalises can be built.
		_, err = s.Net.Layout()
		return err
	}
	return fmt.Errorf("unknown network kind %q (want resmlp or dit)", s.Net.Kind)
}

// normalizeDiT is a DiT configuration (nil: the default, nn.DiTConfig's
// "small" preset) with the data's image shape and every default filled in.
// The DiT needs square images: D = C·S² of the data's channels C and side
// S (MNIST: 1 × 28²); a shape given must be the data's.
func normalizeDiT(cfg *nn.DiTConfig, dataSpec string, dim int) (nn.DiTConfig, error) {
	c := nn.DiTConfig{}
	if cfg != nil {
		c = *cfg
	}
	ch, side, image, err := data.ImageShapeOf(dataSpec)
	if err != nil {
		return c, err
	}
	if !image {
		return c, fmt.Errorf("the DiT needs image data (mnist), not %s (%d-dimensional points)", dataSpec, dim)
	}
	if (c.Channels != 0 && c.Channels != ch) || (c.Side != 0 && c.Side != side) {
		gc, gs := cmp.Or(c.Channels, ch), cmp.Or(c.Side, side)
		return c, fmt.Errorf("a DiT of %d×%d×%d images for %s, whose images are %d×%d×%d", gc, gs, gs, dataSpec, ch, side, side)
	}
	c.Channels, c.Side = ch, side
	if c.Patch < 0 || c.Width < 0 || c.Depth < 0 || c.Heads < 0 || c.MLPRatio < 0 || c.FreqDim < 0 {
		return c, fmt.Errorf("dit sizes must be ≥ 0, got patch %d, width %d, depth %d, heads %d, mlp_ratio %g, freq_dim %d",
			c.Patch, c.Width, c.Depth, c.Heads, c.MLPRatio, c.FreqDim)
	}
	return c.WithDefaults(), nil
}

// Diff names the fields in which two specs differ, with both values
// ("train.weighting: "min-snr:5" vs "snr""), after normalising both; with
// resume set, Steps is not compared (a resumed run may train further).
func (s Spec) Diff(o Spec, resume bool) ([]string, error) {
	a, err := s.Normalize()
	if err != nil {
		return nil, err
	}
	b, err := o.Normalize()
	if err != nil {
		return nil, err
	}
	if resume {
		b.Steps = a.Steps
	}
	var out []string
	for _, d := range jsondiff.Fields(a, b) {
		out = append(out, d.String())
	}
	return out, nil
}

// Hash is 12 hexadecimal digits of the SHA-256 of the normalised spec's
// JSON: a name for the run that changes with anything that changes its
// numbers (a model cache keys its folders by it).
func (s Spec) Hash() (string, error) {
	n, err := s.Normalize()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(n)
	if err != nil {
		return "", fmt.Errorf("run: spec: %w", err)
	}
	h := sha256.Sum256(append([]byte("paretodiff/run/"+specFormat+"\n"), b...))
	return hex.EncodeToString(h[:6]), nil
}

// FieldError is the error of a spec field that cannot run: Field is its
// JSON path ("train.weighting", "net", "probes.0").
type FieldError struct {
	Field string
	Err   error
}

// Error names the field and the problem.
func (e *FieldError) Error() string { return "run: spec " + e.Field + ": " + e.Err.Error() }

// Unwrap returns the problem and ErrInput.
func (e *FieldError) Unwrap() []error { return []error{e.Err, ErrInput} }

// ErrInput is wrapped by every error that comes from what the caller gave
// (a spec field that cannot run, a folder that holds another run or no
// run, a missing or damaged file, data that cannot be read), as opposed to
// a failure while working; a command line exits 2 for it.
var ErrInput = errors.New("bad input")

// inputError marks an error as bad input (errors.Is(err, ErrInput)) without
// changing its text.
type inputError struct{ err error }

func (e inputError) Error() string       { return e.err.Error() }
func (e inputError) Unwrap() []error     { return []error{e.err, ErrInput} }
func badInput(err error) error           { return inputError{err} }
func badInputf(f string, a ...any) error { return inputError{fmt.Errorf(f, a...)} }
