package reproduce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
)

// Scale chooses the size of every reproduction: how much data, how large a
// network, how many steps, samples and seeds. The sizes of each scale are
// tables in this package (ModelSizesFor and the targets' own tables), and
// every report prints the ones it used.
type Scale string

const (
	// Smoke is for tests: seconds per target, checks the pipeline end to
	// end, shows nothing about the paper.
	Smoke Scale = "smoke"
	// Quick runs on two CPU cores in a few minutes per target, on toy 2-D
	// data; it can show the direction of an effect, not its size on
	// images.
	Quick Scale = "quick"
	// Medium runs on two CPU cores in under 90 minutes for every target:
	// MNIST with a small residual MLP, the Fréchet distance of the MNIST
	// classifier's features on 5000 samples, and 5 training seeds for the
	// primary comparisons.
	Medium Scale = "medium"
	// Paper is the full-size run, meant for a GPU: MNIST, larger networks,
	// more steps, samples and seeds.
	Paper Scale = "paper"
)

// Scales lists the scales ParseScale accepts, smallest first.
var Scales = []Scale{Smoke, Quick, Medium, Paper}

// ParseScale reads a scale name.
func ParseScale(s string) (Scale, error) {
	for _, sc := range Scales {
		if string(sc) == s {
			return sc, nil
		}
	}
	return "", fmt.Errorf("reproduce: unknown scale %q (want smoke, quick, medium or paper)", s)
}

// Env is what a target runs with.
type Env struct {
	// Scale chooses the sizes, and Model the network (one of Models; ""
	// is the ResMLP): see ModelSizesOf.
	Scale Scale
	Model string
	// Backend runs every network (nil: the CPU backend).
	Backend nn.Backend
	// Out is the root output folder: target NAME writes into Out/NAME,
	// trained models are cached in Out/models unless Models is set.
	Out string
	// Models is the folder of the model cache ("": Out/models); runs that
	// write to different folders share their models through it.
	Models string
	// Seed seeds every random draw; model seeds are Seed, Seed+1, … for
	// repeated training runs.
	Seed uint64
	// Log receives progress lines (nil: none).
	Log io.Writer
	// MNISTDir is the folder of the MNIST IDX files for the paper scale
	// ("" finds them in the Go module cache).
	MNISTDir string
	// ClassifierDir is the cache folder of the MNIST classifier of the FD
	// ("": the classifier package's default, shared between runs).
	ClassifierDir string

	// CachedOnly forbids training: a run that the model cache does not
	// hold complete is an error wrapping ErrNotCached (the analysis after
	// a sweep of `reproduce train-one` must train nothing).
	CachedOnly bool

	trained, reused int             // runs of the cache trained and found complete
	used            map[string]bool // their keys
	logMu           sync.Mutex
	qmu             sync.Mutex
	qualities       map[string]run.QualityMeasure // by spec, see quality
}

// ModelSizes returns the sizes of the Env's scale and model
// (ModelSizesOf). An Env whose model its scale cannot train (a DiT on toy
// data) is refused by Plan and RunTarget before anything asks.
func (e *Env) ModelSizes() ModelSizes {
	m, err := ModelSizesOf(e.Scale, e.Model)
	if err != nil {
		panic(err) // CheckModel came first
	}
	return m
}

// CheckModel reports whether the Env's scale can train its model (an
// error wrapping run.ErrInput if not).
func (e *Env) CheckModel() error {
	if _, err := ModelSizesOf(e.Scale, e.Model); err != nil {
		return inputErr{err}
	}
	return nil
}

// BackendOrCPU returns the backend every network runs on: Backend, or,
// when none is set, the CPU one (which it then stores in Backend).
func (e *Env) BackendOrCPU() nn.Backend {
	if e.Backend == nil {
		e.Backend = nn.NewCPU()
	}
	return e.Backend
}

// Dir returns Out/name, creating it.
func (e *Env) Dir(name string) (string, error) {
	d := filepath.Join(e.Out, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("reproduce: %w", err)
	}
	return d, nil
}

// ModelsDir is the folder of the model cache: Models, or Out/models.
func (e *Env) ModelsDir() string {
	if e.Models != "" {
		return e.Models
	}
	return filepath.Join(e.Out, "models")
}

// counts returns how many runs of the model cache (models, probed runs,
// fine-tunes) this Env has trained and found complete.
func (e *Env) counts() (trained, reused int) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.trained, e.reused
}

// count records a run of the cache trained (or found complete).
func (e *Env) count(key string, cached bool) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	if cached {
		e.reused++
	} else {
		e.trained++
	}
	if e.used == nil {
		e.used = map[string]bool{}
	}
	e.used[key] = true
}

// usedKeys returns the keys of the runs of the cache this Env has trained
// or found complete.
func (e *Env) usedKeys() map[string]bool {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return maps.Clone(e.used)
}

// Logf writes one progress line to Log.
func (e *Env) Logf(format string, a ...any) {
	if e.Log == nil {
		return
	}
	e.logMu.Lock()
	defer e.logMu.Unlock()
	fmt.Fprintf(e.Log, format+"\n", a...)
}

// Target is one reproduction: a paper figure or table.
type Target struct {
	// Name is what `paretodiff reproduce NAME` takes ("fig5").
	Name string
	// Title says what it reproduces, in a few words.
	Title string
	// Compute measures what the target needs (training or reusing the
	// models it needs in the model cache) and returns it as a typed Result;
	// it writes nothing into the target's folder.
	Compute func(ctx context.Context, env *Env) (Result, error)
	// Plan lists the runs of the model cache Compute trains or reuses, in
	// an order in which each can be trained (a fine-tune after its base);
	// nil for a target that trains nothing. Compute takes its specs from
	// it, so that after the plan is trained (Plan, TrainPlanned) Compute
	// trains nothing.
	Plan func(env *Env) ([]CacheRun, error)
}

// Result is what a target measured. Render draws it: it writes the
// target's CSVs and figures into dir (the target's folder, which exists)
// and returns the report that compares the numbers with the paper's claim,
// computed from them alone.
type Result interface {
	Render(dir string) (*Report, error)
}

// resultOf adapts a split target's compute function, which returns its
// own result type, to Compute (nil on error, not a typed nil).
func resultOf[R Result](compute func(ctx context.Context, env *Env) (R, error)) func(ctx context.Context, env *Env) (Result, error) {
	return func(ctx context.Context, env *Env) (Result, error) {
		r, err := compute(ctx, env)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// targets is every reproduction, in the order "all" runs them: the
// closed forms first, then the paper's figures and table in order, then
// the conflict study.
var targets = []Target{
	{Name: "weights", Title: "loss weights of the four strategies for ε, x0 and v", Compute: resultOf(Weights)},
	{Name: "fig2", Title: "fine-tuning on one timestep bin: loss change at every timestep", Compute: resultOf(Fig2), Plan: planFig2},
	{Name: "fig3", Title: "UGD weights against the number of samples per timestep bin", Compute: resultOf(Fig3), Plan: planProbed},
	{Name: "fig4", Title: "Eq. 11 objective of constant, SNR, max-SNR, min-SNR and UGD weights", Compute: resultOf(Fig4), Plan: planProbed},
	{Name: "fig5", Title: "sample quality against training steps, 4 strategies × 3 targets", Compute: resultOf(Fig5), Plan: planFig5},
	{Name: "fig6", Title: "unweighted x0-MSE by timestep range over training", Compute: resultOf(Fig6), Plan: planFig6},
	{Name: "table2", Title: "min-SNR-γ for γ ∈ {1, 5, 10, 20}: final sample quality", Compute: resultOf(Table2), Plan: planTable2},
	{Name: "conflict", Title: "gradient conflict between timestep bins over training (cosines by distance)", Compute: resultOf(Conflict), Plan: planProbed},
	{Name: "online", Title: "online Pareto weighting against min-SNR-5 and constant, at equal steps and equal time", Compute: resultOf(Online), Plan: planOnline},
}

// Targets returns every target in the order All runs them.
func Targets() []Target { return slices.Clone(targets) }

// Lookup returns the target of a name.
func Lookup(name string) (Target, bool) {
	i := slices.IndexFunc(targets, func(t Target) bool { return t.Name == name })
	if i < 0 {
		return Target{}, false
	}
	return targets[i], true
}

// Names returns the target names in run order.
func Names() []string {
	var ns []string
	for _, t := range targets {
		ns = append(ns, t.Name)
	}
	return ns
}

// Resolve turns command-line names into targets: "all" expands to every
// target; duplicates are dropped; an unknown name is an error listing the
// known ones.
func Resolve(names []string) ([]Target, error) {
	if len(names) == 0 {
		return nil, errors.New("reproduce: give a target name or all")
	}
	var ts []Target
	seen := map[string]bool{}
	add := func(t Target) {
		if !seen[t.Name] {
			seen[t.Name] = true
			ts = append(ts, t)
		}
	}
	for _, n := range names {
		if n == "all" {
			for _, t := range Targets() {
				add(t)
			}
			continue
		}
		t, ok := Lookup(n)
		if !ok {
			return nil, fmt.Errorf("reproduce: unknown target %q (want %s or all)", n, strings.Join(Names(), ", "))
		}
		add(t)
	}
	return ts, nil
}

// RunTarget runs one target: it creates Out/NAME, computes the target's
// result and renders it there, stamps
// the report with the scale, seed, device and wall time, and writes
// Out/NAME/report.md. On error (including a cancelled context) no report
// is written; files already written stay complete (every file is written
// atomically).
func RunTarget(ctx context.Context, env *Env, t Target) (*Report, error) {
	if err := env.CheckModel(); err != nil {
		return nil, err
	}
	if _, err := env.Dir(t.Name); err != nil {
		return nil, err
	}
	env.BackendOrCPU()
	env.Logf("%s: start (%s scale, %s, device %s, seed %d)", t.Name, env.Scale, env.ModelSizes().NetPhrase(false), env.Backend.Name(), env.Seed)
	start := time.Now()
	trained, reused := env.counts()
	res, err := t.Compute(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	r, err := res.Render(filepath.Join(env.Out, t.Name))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	r.Name, r.Scale, r.Model, r.Seed, r.Device = t.Name, env.Scale, env.Model, env.Seed, env.Backend.Name()
	t2, r2 := env.counts()
	r.ModelsTrained, r.ModelsReused = t2-trained, r2-reused
	if r.Title == "" {
		r.Title = t.Title
	}
	r.Elapsed = time.Since(start)
	if err := r.Write(filepath.Join(env.Out, t.Name, "report.md")); err != nil {
		return nil, err
	}
	env.Logf("%s: done in %s: %s", t.Name, r.Elapsed.Round(time.Second), r.Overall())
	return r, nil
}

// Run runs the targets in order and, when more than one ran, writes the
// index Out/index.md linking their reports. It stops at the first error.
func Run(ctx context.Context, env *Env, targets []Target) ([]*Report, error) {
	var reports []*Report
	for _, t := range targets {
		r, err := RunTarget(ctx, env, t)
		if err != nil {
			return reports, err
		}
		reports = append(reports, r)
	}
	if len(reports) > 1 {
		if err := WriteIndex(filepath.Join(env.Out, "index.md"), reports); err != nil {
			return reports, err
		}
	}
	return reports, nil
}
