package reproduce

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/paretodiff/paretodiff/internal/filelock"
	"github.com/paretodiff/paretodiff/run"
	"github.com/paretodiff/paretodiff/weighting"
)

// RunKind is how a run of the model cache is trained and read.
type RunKind string

const (
	// ModelKind is a model of TrainModel: metrics and sample quality every
	// Eval.Every steps, a checkpoint at every record, and the spec's
	// gradient probes (the probe target's models, TrainProbed).
	ModelKind RunKind = "model"
	// FineTuneKind is a fine-tune of FineTune: it starts from the EMA
	// weights of its base run (CacheRun.Base), which must be complete.
	FineTuneKind RunKind = "finetune"
)

// CacheRun is one run of the model cache, as a target declares it
// (Target.Plan) and as it is trained: how (Kind), under which readable
// name (Label) and what (Spec). Its folder in Env.ModelsDir() is Key():
// the label and the spec's hash, so that equal specs share a folder and
// any change of the spec gets a new one.
type CacheRun struct {
	Kind  RunKind
	Label string
	Spec  run.Spec
	// Base is the key of the run a fine-tune starts from ("" for the other
	// kinds); Spec.Init names its folder.
	Base string
}

// ModelRun is the cache run of TrainModel(spec): label ModelLabel(spec).
func ModelRun(spec run.Spec) CacheRun {
	return CacheRun{Kind: ModelKind, Label: ModelLabel(spec), Spec: spec}
}

// FineTuneRun is the cache run of FineTune of base's model with cfg.
func FineTuneRun(base CacheRun, cfg FineTuneConfig) (CacheRun, error) {
	key, err := base.Key()
	if err != nil {
		return CacheRun{}, err
	}
	return fineTuneRun(base.Spec, key, cfg)
}

// fineTuneRun is the fine-tune of the model of baseSpec, in the cache
// folder baseKey, with cfg (FineTune): the base's spec with the density
// range:Lo,Hi, the fine-tune's batch, seed, constant learning rate and
// steps, one metrics record at the end, no probes, and the base's EMA
// weights as its start. The base's spec is normalised first, so that the
// fine-tune of a declared spec and that of the same model read back from
// its folder (normalised) are the same run.
func fineTuneRun(baseSpec run.Spec, baseKey string, cfg FineTuneConfig) (CacheRun, error) {
	b, err := baseSpec.Normalize()
	if err != nil {
		return CacheRun{}, fmt.Errorf("reproduce: fine-tune of %s: %w", baseKey, err)
	}
	T := b.Train.T
	if cfg.Lo < 0 || cfg.Hi > T || cfg.Lo >= cfg.Hi || cfg.Steps < 1 || cfg.Batch < 1 || !(cfg.LR > 0) {
		return CacheRun{}, fmt.Errorf("reproduce: fine-tuning on [%d, %d) of T=%d for %d steps of %d at lr %g", cfg.Lo, cfg.Hi, T, cfg.Steps, cfg.Batch, cfg.LR)
	}
	s := b
	s.Train.Density = weighting.Range{Steps: T, Lo: cfg.Lo, Hi: cfg.Hi}.String()
	s.Train.Batch, s.Train.Seed, s.Train.EvalSize = cfg.Batch, cfg.Seed, 1
	s.Train.Optim.LR, s.Train.Optim.Warmup = cfg.LR, 0
	s.Steps, s.Eval, s.Probes = cfg.Steps, run.EvalSpec{Every: cfg.Steps}, nil
	s.Init = &run.InitSpec{From: filepath.Join("..", baseKey), EMA: true}
	return CacheRun{Kind: FineTuneKind, Label: fmt.Sprintf("%s_ft%d-%d", ModelLabel(b), cfg.Lo, cfg.Hi), Spec: s, Base: baseKey}, nil
}

// Key is the run's folder name in the model cache: Label, "_" and 12
// hexadecimal digits of the spec's hash (run.Spec.Hash).
func (c CacheRun) Key() (string, error) {
	h, err := c.Spec.Hash()
	if err != nil {
		return "", fmt.Errorf("reproduce: run %s: %w", c.Label, err)
	}
	return c.Label + "_" + h, nil
}

// validate checks what training the run's kind needs beyond a valid spec.
func (c CacheRun) validate() error {
	switch c.Kind {
	case ModelKind:
		return validateModel(c.Spec)
	case FineTuneKind:
		if c.Base == "" || c.Spec.Init == nil {
			return fmt.Errorf("reproduce: fine-tune %s names no base run", c.Label)
		}
		return nil
	}
	return fmt.Errorf("reproduce: run %s of unknown kind %q", c.Label, c.Kind)
}

// ErrNotCached is wrapped by the error of a run that is not complete in
// the model cache when Env.CachedOnly forbids training it (with
// run.ErrInput: the cache given lacks what the targets need).
var ErrNotCached = errors.New("not in the model cache")

// inputErr marks an error as bad input (run.ErrInput) without changing its
// text.
type inputErr struct{ err error }

func (e inputErr) Error() string   { return e.err.Error() }
func (e inputErr) Unwrap() []error { return []error{e.err, run.ErrInput} }

// train trains the run into the model cache, or finds it complete there:
// it holds the run's lock file (Env.lockRun) throughout, so that no two
// processes sharing the cache train one folder at once (the second waits,
// then finds the run complete), and returns the run with the wall time of
// this training session (0 if it was cached).
func (c CacheRun) train(ctx context.Context, env *Env) (*run.Run, time.Duration, error) {
	if err := c.validate(); err != nil {
		return nil, 0, err
	}
	key, err := c.Key()
	if err != nil {
		return nil, 0, err
	}
	unlock, err := env.lockRun(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	dir := filepath.Join(env.ModelsDir(), key)
	complete := isComplete(dir, c.Spec)
	if !complete && env.CachedOnly {
		return nil, 0, inputErr{fmt.Errorf("reproduce: run %s is %w (%s) and training is off (cached only): train it first (paretodiff reproduce train-one)", key, ErrNotCached, dir)}
	}
	if !complete && c.Kind == FineTuneKind {
		if b, err := run.Open(filepath.Join(env.ModelsDir(), c.Base)); err != nil || !b.Complete {
			return nil, 0, fmt.Errorf("reproduce: fine-tune %s: its base run %s is not complete; train it first", key, c.Base)
		}
	}
	opt, err := c.options(ctx, env, complete)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	r, err := run.Train(ctx, dir, c.Spec, opt)
	if err != nil {
		return nil, 0, err
	}
	env.count(key, r.Cached)
	if r.Cached {
		env.Logf("  %s %s: reusing %s", c.Kind.noun(), c.Label, dir)
		return r, 0, nil
	}
	return r, time.Since(start), nil
}

// trainChecked trains the run (train) and reads it back as the targets
// read its kind (modelOf: a record with sample quality at every
// evaluation and, for a probed model, every probe's log complete), and reports
// whether it was complete already.
func (c CacheRun) trainChecked(ctx context.Context, env *Env) (cached bool, err error) {
	r, _, err := c.train(ctx, env)
	if err != nil {
		return false, err
	}
	if c.Kind == ModelKind {
		_, err = modelOf(r)
	}
	return r.Cached, err
}

// noun names the kind in progress lines.
func (k RunKind) noun() string {
	if k == FineTuneKind {
		return "fine-tune"
	}
	return "model"
}

// isComplete reports whether dir holds a complete run of spec (one that
// run.Reuse returns as it is).
func isComplete(dir string, spec run.Spec) bool {
	r, err := run.Open(dir)
	if err != nil || !r.Complete {
		return false
	}
	d, err := r.Spec.Diff(spec, false)
	return err == nil && len(d) == 0
}

// options are the run.Options of the run's kind: env's (runOptions) with
// a checkpoint at every record of a model, a model's quality measure (built only when it trains: complete
// is set when the cache holds the run already) and the progress lines.
func (c CacheRun) options(ctx context.Context, env *Env, complete bool) (run.Options, error) {
	spec, label := c.Spec, c.Label
	switch c.Kind {
	case ModelKind:
		opt := env.runOptions(spec.Eval.Every)
		if !complete {
			q, err := env.quality(ctx, spec)
			if err != nil {
				return run.Options{}, err
			}
			opt.Quality = q
		}
		last := time.Now()
		opt.OnRecord = func(r run.Record) error {
			rate := float64(spec.Eval.Every) / time.Since(last).Seconds()
			last = time.Now()
			env.Logf("  model %s: step %d/%d  %s %.4g  (%.0f steps/s with evaluation)", label, r.Step, spec.Steps, r.Quality.Metric, r.Quality.Value, rate)
			return nil
		}
		return opt, nil
	}
	return env.runOptions(0), nil
}

// lockRun takes the lock of a run of the cache, the file KEY.lock beside
// its folder (not inside it: run.Train may remove a folder it created,
// and a lock file must never be removed, see package filelock), waiting
// while another process holds it; the function releases it.
func (e *Env) lockRun(ctx context.Context, key string) (func(), error) {
	if err := os.MkdirAll(e.ModelsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("reproduce: model cache: %w", err)
	}
	path := filepath.Join(e.ModelsDir(), key+".lock")
	l, err := filelock.Acquire(ctx, path, func(holder string) {
		e.Logf("  %s: another process is training it (%s holds %s); waiting", key, holderOr(holder), path)
	})
	if err != nil {
		return nil, fmt.Errorf("reproduce: run %s: %w", key, err)
	}
	return func() { l.Release() }, nil
}

// holderOr is a lock's holder, or a placeholder where it is unknown.
func holderOr(h string) string {
	if h == "" {
		return "a process"
	}
	return h
}
