package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/internal/jsondiff"
)

// Existing says what Train does with a run already in its folder.
type Existing int

const (
	// Refuse: a folder that holds a run is an error wrapping ErrExists.
	Refuse Existing = iota
	// Resume: the folder must hold an unfinished run of the same Spec (but
	// for Steps, which may be raised); Train continues it from its
	// checkpoint. On the same backend the result is bit-identical to an
	// uninterrupted run.
	Resume
	// Reuse is a cache: a complete run of the same Spec is returned as it
	// is (Run.Cached), an unfinished one resumes, and a folder holding
	// anything else (another spec, a damaged file) is cleared and trained
	// anew.
	Reuse
	// Replace clears whatever run the folder holds and trains anew.
	Replace
)

// Errors of Train that say what the folder holds (each wraps ErrInput).
var (
	ErrExists   = errors.New("the folder already holds a run")
	ErrMismatch = errors.New("the folder holds a run of another spec")
	ErrFinished = errors.New("the run has reached its steps")
)

// Options are how a run is carried out; nothing here changes its numbers.
type Options struct {
	// Backend runs the network (nil: the CPU backend).
	Backend nn.Backend
	// Existing says what to do with a run already in the folder.
	Existing Existing
	// CheckpointEvery is the checkpoint interval in steps; 0 writes one
	// only at the end and when interrupted.
	CheckpointEvery int
	// MNISTDir is the folder of the MNIST files ("": found in the module
	// cache); ClassifierDir the cache of the FD's classifier ("": the
	// classifier package's default).
	MNISTDir, ClassifierDir string
	// Quality is the measure of Spec.Eval.Quality, if the caller has one
	// already (nil: NewQualityMeasure builds it).
	Quality QualityMeasure
	// OnProgress is called after every step.
	OnProgress func(Progress)
	// OnRecord is called with every metrics record once it is on disk.
	OnRecord func(Record) error
	// OnProbe is called with every probe record once it is on disk.
	OnProbe func(name string, rec conflict.Record) error
	// Log hears one-line notes (resuming, replacing, a classifier being
	// trained); nil for none.
	Log io.Writer
}

// Train starts, resumes or reuses the run of spec in dir, as
// opt.Existing says, trains it to spec.Steps, and returns the folder. It
// is the one training orchestrator of the toolkit: every step draws a
// batch, takes an AdamW step with the spec's weighting (closed form or
// online), records metrics (and sample quality) every Eval.Every steps,
// takes the probes at step 0 and every probe's Every steps, and writes
// checkpoints every opt.CheckpointEvery steps and at the end. When ctx is
// cancelled between steps it writes the checkpoint and returns an
// *Interrupted; when a step or a measurement fails it returns the error
// and the last checkpoint on disk stays. Files are written atomically, and
// the temporary files of an earlier killed session are removed first.
func Train(ctx context.Context, dir string, spec Spec, opt Options) (*Run, error) {
	spec, err := spec.Normalize()
	if err != nil {
		return nil, err
	}
	created := !exists(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, badInputf("run: %v", err)
	}
	removeStale(dir)
	prev, ck, err := reconcile(dir, spec, opt)
	if err == nil && prev != nil && prev.Cached {
		return prev, nil
	}
	var s *session
	if err == nil {
		if opt.Backend == nil {
			opt.Backend = nn.NewCPU()
		}
		s, err = newSession(ctx, dir, spec, opt, prev, ck)
	}
	if err != nil {
		if created {
			os.RemoveAll(dir) // nothing of a run that could not start
		}
		return nil, err
	}
	return s.run(ctx)
}

// reconcile decides, from what dir holds, whether the run starts (nil
// run), resumes (the run and its checkpoint) or is reused (a Cached run).
func reconcile(dir string, spec Spec, opt Options) (*Run, *diffusion.Checkpoint, error) {
	prev, err := Open(dir)
	if errors.Is(err, ErrNoRun) {
		if opt.Existing == Resume {
			return nil, nil, err
		}
		return nil, nil, nil
	}
	if err != nil && opt.Existing != Reuse && opt.Existing != Replace {
		return nil, nil, err
	}
	logf := func(format string, a ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format+"\n", a...)
		}
	}
	replace := func(why string) (*Run, *diffusion.Checkpoint, error) {
		logf("run: %s: %s; training anew", dir, why)
		return nil, nil, clearRun(dir)
	}
	switch opt.Existing {
	case Refuse:
		return nil, nil, badInput(fmt.Errorf("run: %s: %w (step %d of %d)", dir, ErrExists, prev.Step, prev.Spec.Steps))
	case Replace:
		return nil, nil, clearRun(dir)
	case Reuse:
		if err != nil {
			return replace(err.Error())
		}
		if d, _ := prev.Spec.Diff(spec, false); len(d) == 0 && prev.Complete {
			prev.Cached = true
			return prev, nil, nil
		}
		if d, _ := prev.Spec.Diff(spec, true); len(d) > 0 || prev.Complete || prev.Step >= spec.Steps || len(prev.Spec.Probes) > 0 && prev.Legacy != "" {
			return replace("it holds another run")
		}
	case Resume:
		d, err := prev.Spec.Diff(spec, true)
		if err != nil {
			return nil, nil, err
		}
		if len(d) > 0 {
			return nil, nil, badInput(fmt.Errorf("run: %s: %w; a resumed run keeps its settings: %s", dir, ErrMismatch, strings.Join(d, "; ")))
		}
		if prev.Step >= spec.Steps {
			return nil, nil, badInput(fmt.Errorf("run: %s: %w: it is at step %d; ask for more steps than that", dir, ErrFinished, prev.Step))
		}
		if prev.Legacy != "" && len(prev.Spec.Probes) > 0 {
			return nil, nil, badInputf("run: %s: a probed run of an earlier release cannot resume; start a new run", dir)
		}
	}
	ck, err := prev.Checkpoint()
	if err != nil {
		if opt.Existing == Reuse {
			return replace(err.Error())
		}
		return nil, nil, err
	}
	if ck.Step >= spec.Steps {
		return replace("its checkpoint is past the steps asked for")
	}
	logf("run: %s: resuming at step %d of %d", dir, ck.Step, spec.Steps)
	return prev, ck, nil
}

// runFiles are what a run folder holds, of this layout and the earlier
// ones; clearRun removes them and nothing else of the folder.
var runFiles = []string{SpecFile, CheckpointFile, MetricsFile, ProgressFile, DoneFile, ProbesDir,
	"config.json", legacyModelFile, "quality.csv", legacyRunFile,
	conflict.InfoFile, conflict.RecordsFile, conflict.GramDir, conflict.CosineDir}

func clearRun(dir string) error {
	for _, f := range runFiles {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("run: %w", err)
		}
	}
	draws, _ := filepath.Glob(filepath.Join(dir, legacyDrawPrefix+"*"))
	for _, d := range draws {
		os.RemoveAll(d)
	}
	return nil
}

// removeStale deletes the temporary files of interrupted writes in a run
// folder and its probe logs.
func removeStale(dir string) {
	atomicfile.RemoveStale(dir)
	logs, _ := filepath.Glob(filepath.Join(dir, ProbesDir, "*"))
	for _, l := range logs {
		for _, d := range []string{l, filepath.Join(l, conflict.GramDir), filepath.Join(l, conflict.CosineDir)} {
			atomicfile.RemoveStale(d)
		}
	}
}

// session is one training session of a run: from a start or a resume to
// the end, an interruption or a failure.
type session struct {
	dir     string
	spec    Spec
	opt     Options
	tr      *diffusion.Trainer
	quality QualityMeasure
	probes  []*probeLog
	metrics []byte // the JSONL of the records so far
	start   time.Time
	from    int           // the step the session started at
	before  time.Duration // train time of earlier sessions
}

// probeLog is one probe of the run with its log.
type probeLog struct {
	spec  conflict.ProbeSpec
	probe *conflict.Probe
	log   *conflict.Log
}

// newSession builds the trainer (new, or from the checkpoint ck of prev)
// and the logs, keeping the records up to the checkpoint's step.
func newSession(ctx context.Context, dir string, spec Spec, opt Options, prev *Run, ck *diffusion.Checkpoint) (*session, error) {
	train, heldOut, err := data.Open(spec.Train.Data, opt.MNISTDir)
	if err != nil {
		return nil, badInputf("run: data: %v", err)
	}
	s := &session{dir: dir, spec: spec, opt: opt, start: time.Now()}
	if ck == nil {
		net, err := initialNetwork(spec, opt.Backend, dir)
		if err != nil {
			return nil, err
		}
		tc, err := spec.Train.TrainConfig()
		if err != nil {
			return nil, badInputf("run: spec: %v", err)
		}
		tc.Steps = spec.Steps
		if s.tr, err = diffusion.NewTrainer(net, train, heldOut, tc); err != nil {
			return nil, badInputf("run: %v", err)
		}
	} else {
		if s.tr, err = diffusion.ResumeTrainer(ck, opt.Backend, train, heldOut, spec.Steps); err != nil {
			return nil, badInputf("run: %s: %v", dir, err)
		}
		s.from, s.before = ck.Step, prev.TrainTime
		prev.Step = ck.Step // its records are those up to the checkpoint actually loaded
	}
	if err := s.newProbes(train); err != nil {
		return nil, err
	}
	if q := spec.Eval.Quality; q != nil {
		if s.quality = opt.Quality; s.quality == nil {
			if s.quality, err = NewQualityMeasure(ctx, *q, spec.Train.Data, opt.Backend, opt.MNISTDir, opt.ClassifierDir, opt.Log); err != nil {
				return nil, badInputf("run: sample quality: %v", err)
			}
		}
	}
	// Everything that can refuse the spec has run: now the files.
	if err := atomicfile.WriteJSON(filepath.Join(dir, SpecFile), specFile{Format: specFormat, Spec: spec}); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	os.Remove(filepath.Join(dir, DoneFile))
	if err := s.openMetrics(prev); err != nil {
		return nil, err
	}
	if err := s.openProbeLogs(prev); err != nil {
		return nil, err
	}
	return s, nil
}

// initialNetwork is the network a new run in dir starts with: seeded, or
// the weights of spec.Init.
func initialNetwork(spec Spec, be nn.Backend, dir string) (nn.Network, error) {
	if spec.Init == nil {
		net, err := nn.BuildSeeded(be, spec.Net, spec.Train.Seed)
		if err != nil {
			return nil, badInputf("run: spec net: %v", err)
		}
		return net, nil
	}
	path := spec.Init.From
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	from, err := Open(path)
	if err != nil {
		return nil, fmt.Errorf("run: spec init: %w", err)
	}
	ck, err := from.Checkpoint()
	if err != nil {
		return nil, fmt.Errorf("run: spec init: %w", err)
	}
	if d := jsondiff.Fields(ck.Spec, spec.Net); len(d) > 0 {
		return nil, badInputf("run: spec init: %s holds another network (%v)", spec.Init.From, d[0])
	}
	net, err := ck.Network(be, spec.Init.EMA)
	if err != nil {
		return nil, badInputf("run: spec init: %v", err)
	}
	return net, nil
}

// openMetrics starts MetricsFile with the records up to the trainer's step.
func (s *session) openMetrics(prev *Run) error {
	// Records at the checkpoint's step were written before it, except at
	// step 0, whose checkpoint comes first.
	if prev != nil && s.tr.Step() > 0 {
		recs, err := prev.Records()
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := s.appendRecord(r, false); err != nil {
				return err
			}
		}
	}
	return atomicfile.WriteBytes(filepath.Join(s.dir, MetricsFile), s.metrics)
}

// newProbes creates every probe of the spec.
func (s *session) newProbes(train diffusion.Dataset) error {
	sched := s.tr.Config().Schedule
	for _, ps := range s.spec.Probes {
		cfg, err := ps.Config(sched)
		if err != nil {
			return badInputf("run: %v", err)
		}
		p, err := conflict.NewProbe(s.tr.Objective(), train, cfg)
		if err != nil {
			return badInputf("run: probe %s: %v", ps.Name, err)
		}
		s.probes = append(s.probes, &probeLog{spec: ps, probe: p})
	}
	return nil
}

// openProbeLogs starts every probe's log with its records up to the
// trainer's step (none at step 0, whose checkpoint comes before them).
func (s *session) openProbeLogs(prev *Run) error {
	for _, p := range s.probes {
		var kept []conflict.Record
		if prev != nil && s.tr.Step() > 0 {
			var err error
			if _, kept, err = prev.Probe(p.spec.Name); err != nil {
				return err
			}
		}
		l, err := conflict.CreateLog(filepath.Join(s.dir, ProbesDir, p.spec.Name), p.probe.Info())
		if err != nil {
			return err
		}
		for _, rec := range kept {
			if rec.Step <= s.tr.Step() {
				if err := l.Append(rec); err != nil {
					return err
				}
			}
		}
		p.log = l
	}
	return nil
}

// run trains to the spec's steps.
func (s *session) run(ctx context.Context) (*Run, error) {
	if s.tr.Step() == 0 {
		// The checkpoint of step 0 first, so that every run folder has one.
		if err := s.checkpoint("running"); err != nil {
			return nil, err
		}
		if s.spec.Eval.AtStart {
			if err := s.record(ctx); err != nil {
				return nil, s.stopped(ctx, err)
			}
		}
		if err := s.probe(0); err != nil {
			return nil, s.stopped(ctx, err)
		}
	} else if err := s.progress("running", ""); err != nil {
		return nil, err
	}
	for s.tr.Step() < s.spec.Steps {
		if ctx.Err() != nil {
			if err := s.checkpoint("interrupted"); err != nil {
				return nil, errors.Join(s.interrupted(ctx), err)
			}
			return nil, s.interrupted(ctx)
		}
		if err := s.step(ctx); err != nil {
			return nil, s.stopped(ctx, err)
		}
	}
	return s.finish()
}

// stopped is the error of a session whose step or measurement failed: an
// *Interrupted if the context was cancelled inside a measurement (the last
// checkpoint stays, and the step's records are written again on resume),
// else the failure, recorded in ProgressFile.
func (s *session) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return s.interrupted(ctx)
	}
	return s.fail(err)
}

// step takes one training step and what follows it.
func (s *session) step(ctx context.Context) error {
	if err := s.tr.StepOnce(); err != nil {
		return err
	}
	st := s.tr.Step()
	if f := s.opt.OnProgress; f != nil {
		el := time.Since(s.start)
		f(Progress{Step: st, Steps: s.spec.Steps, State: "running", Loss: s.tr.WindowLoss(), Elapsed: el, StepsPerSec: float64(st-s.from) / el.Seconds()})
	}
	if st%s.spec.Eval.Every == 0 || st == s.spec.Steps {
		if err := s.record(ctx); err != nil {
			return err
		}
	}
	if err := s.probe(st); err != nil {
		return err
	}
	if ce := s.opt.CheckpointEvery; st < s.spec.Steps && ce > 0 && st%ce == 0 {
		return s.checkpoint("running")
	}
	return nil
}

// record writes the metrics record of the current step, with the sample
// quality when the spec asks for it.
func (s *session) record(ctx context.Context) error {
	r := Record{Metrics: s.tr.Record()}
	el := time.Since(s.start)
	r.Elapsed, r.StepsPerSec = el, float64(s.tr.Step()-s.from)/el.Seconds()
	if s.quality != nil {
		q, err := s.measureQuality(ctx)
		if err != nil {
			return err
		}
		r.Quality = q
	}
	return s.appendRecord(r, true)
}

// measureQuality measures the EMA weights: draw 0, and at the last step
// Repeats independent draws.
func (s *session) measureQuality(ctx context.Context) (*Quality, error) {
	den, err := s.tr.Denoiser(true)
	if err != nil {
		return nil, err
	}
	draws := 1
	if s.tr.Step() == s.spec.Steps {
		draws = s.spec.Eval.Quality.Repeats
	}
	q := &Quality{Metric: s.quality.Metric(), Floor: s.quality.Floor()}
	for d := 0; d < draws; d++ {
		v, err := s.quality.Measure(ctx, den, s.tr.Config().Schedule, d)
		if err != nil {
			return nil, err
		}
		q.Repeats = append(q.Repeats, v)
	}
	q.Value = q.Repeats[0]
	if draws == 1 {
		q.Repeats = nil
	}
	return q, nil
}

// appendRecord adds a record to MetricsFile (written when write is set)
// and hands it to OnRecord.
func (s *session) appendRecord(r Record, write bool) error {
	line, err := r.MarshalJSON()
	if err != nil {
		return err
	}
	s.metrics = append(append(s.metrics, line...), '\n')
	if !write {
		return nil
	}
	if err := atomicfile.WriteBytes(filepath.Join(s.dir, MetricsFile), s.metrics); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if s.opt.OnRecord != nil {
		return s.opt.OnRecord(r)
	}
	return nil
}

// probe takes the probes due at a step.
func (s *session) probe(step int) error {
	for _, p := range s.probes {
		if step%p.spec.Every != 0 {
			continue
		}
		rec, err := p.probe.Measure(step)
		if err != nil {
			return err
		}
		if err := p.log.Append(rec); err != nil {
			return err
		}
		if s.opt.OnProbe != nil {
			if err := s.opt.OnProbe(p.spec.Name, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// trainTime is the run's train time so far.
func (s *session) trainTime() time.Duration { return s.before + time.Since(s.start) }

// checkpoint writes the checkpoint of the current step, then ProgressFile.
func (s *session) checkpoint(state string) error {
	if err := s.tr.Checkpoint().Save(filepath.Join(s.dir, CheckpointFile)); err != nil {
		return err
	}
	return s.progress(state, "")
}

// progress writes ProgressFile.
func (s *session) progress(state, msg string) error {
	el := time.Since(s.start)
	return writeProgress(s.dir, Progress{Step: s.tr.Step(), Steps: s.spec.Steps, State: state, Error: msg,
		StepsPerSec: float64(s.tr.Step()-s.from) / el.Seconds(), TrainTime: s.trainTime()})
}

// interrupted is the error of a run stopped by its context.
func (s *session) interrupted(ctx context.Context) error {
	step := s.from
	if p, err := readProgress(s.dir); err == nil {
		step = p.Step
	}
	return &Interrupted{Dir: s.dir, Step: step, Cause: context.Cause(ctx)}
}

// fail records a failure in ProgressFile (its step stays the last
// checkpoint's) and returns the error.
func (s *session) fail(err error) error {
	p, perr := readProgress(s.dir)
	if errors.Is(perr, fs.ErrNotExist) {
		p = Progress{Step: s.from, Steps: s.spec.Steps}
	}
	p.State, p.Error, p.TrainTime = "failed", err.Error(), s.trainTime()
	writeProgress(s.dir, p) // best effort: the error is what matters
	return err
}

// finish writes the last checkpoint, ProgressFile and DoneFile.
func (s *session) finish() (*Run, error) {
	if err := s.checkpoint("complete"); err != nil {
		return nil, err
	}
	d := done{Step: s.tr.Step(), TrainTimeS: s.trainTime().Seconds(), Finished: time.Now().UTC().Round(time.Millisecond)}
	if err := atomicfile.WriteJSON(filepath.Join(s.dir, DoneFile), d); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	return Open(s.dir)
}

// secondsDuration converts seconds to a Duration.
func secondsDuration(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}
