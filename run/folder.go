package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
)

// The files of a run folder. Every producer (paretodiff train, conflict
// while training, demo's model, every model of the reproductions) writes
// this one layout, and every reader (sample, eval, conflict --checkpoint,
// the library) reads it through Open:
//
//	DIR/spec.json       the Spec, written when the run starts
//	DIR/checkpoint.bin  the latest checkpoint (diffusion.Checkpoint)
//	DIR/metrics.jsonl   one Record per line, every Spec.Eval.Every steps
//	DIR/probes/NAME/    one conflict.Log per probe of the Spec
//	DIR/progress.json   where the run is (Progress), at every checkpoint
//	DIR/done.json       the completion marker, written last
//
// Every file is replaced atomically, so a reader never sees a half-written
// one; records later than the checkpoint (written before a kill) are
// dropped when the run resumes and written again.
const (
	SpecFile       = "spec.json"
	CheckpointFile = "checkpoint.bin"
	MetricsFile    = "metrics.jsonl"
	ProgressFile   = "progress.json"
	DoneFile       = "done.json"
	ProbesDir      = "probes"
)

// specFormat versions the layout and SpecFile's form.
const specFormat = "1"

// specFile is SpecFile's content.
type specFile struct {
	Format string `json:"paretodiff_run"`
	Spec   Spec   `json:"spec"`
}

// Progress is where a run stands (ProgressFile), and what
// Options.OnProgress sees after every step.
type Progress struct {
	// Step is the step just taken (in ProgressFile: the checkpoint's) and
	// Steps the step the run trains up to.
	Step  int `json:"step"`
	Steps int `json:"steps"`
	// State is "running", "interrupted", "failed" or "complete".
	State string `json:"state"`
	// Loss is the mean weighted training loss of the steps since the last
	// metrics record: at a record's step, that record's loss (one loss
	// number for progress lines and the metrics log).
	Loss float64 `json:"-"`
	// StepsPerSec is the speed since the run (or its resume) started and
	// Elapsed the wall time since then.
	StepsPerSec float64       `json:"steps_per_s"`
	Elapsed     time.Duration `json:"-"`
	// TrainTime is the wall time of training and measuring summed over
	// every session of the run (in files; zero in OnProgress).
	TrainTime time.Duration `json:"-"`
	// Updated is when the file was written.
	Updated time.Time `json:"updated"`
	// Error is the failure that stopped a failed run.
	Error string `json:"error,omitempty"`
}

type progressJSON struct {
	Progress
	TrainTimeS float64 `json:"train_time_s"`
}

// done is DoneFile's content.
type done struct {
	Step       int       `json:"step"`
	TrainTimeS float64   `json:"train_time_s"`
	Finished   time.Time `json:"finished"`
}

// Run is a run folder, as Open reads it or Train leaves it.
type Run struct {
	// Dir is the folder.
	Dir string
	// Spec is the run's specification (normalised).
	Spec Spec
	// Step is the step of the checkpoint on disk (0 without one).
	Step int
	// Complete is set once the run reached Spec.Steps (DoneFile).
	Complete bool
	// TrainTime is the wall time of training and measuring, summed over
	// every session of the run.
	TrainTime time.Duration
	// Cached is set when Train found the run complete and trained nothing.
	Cached bool
	// Legacy names the earlier layout the folder was written in ("" for
	// this one; see legacy.go): "train", "conflict", "reproduce-model",
	// "reproduce-probed", "checkpoint" (a bare checkpoint file).
	Legacy string

	checkpoint string            // path of the checkpoint file
	probeDirs  map[string]string // probe name → its log folder
	legacy     *legacyExtras
}

// ErrNoRun is wrapped by Open's error for a folder that holds no run.
var ErrNoRun = errors.New("no run")

// Open reads the run in dir: a run folder of this layout or of an earlier
// release's (a train, conflict or demo model folder, a cached model of the
// reproductions), or a checkpoint file on its own. A folder without a run
// is an error wrapping ErrNoRun; a damaged or foreign file one wrapping
// ErrInput, naming the file.
func Open(dir string) (*Run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, badInput(fmt.Errorf("run: %s: %w", dir, ErrNoRun))
		}
		return nil, badInputf("run: %v", err)
	}
	if !st.IsDir() {
		return openCheckpointFile(dir)
	}
	raw, err := os.ReadFile(filepath.Join(dir, SpecFile))
	if errors.Is(err, fs.ErrNotExist) {
		return openLegacy(dir)
	}
	if err != nil {
		return nil, badInputf("run: %v", err)
	}
	var sf specFile
	if err := json.Unmarshal(raw, &sf); err != nil || sf.Format == "" {
		return nil, badInputf("run: %s is not a paretodiff run specification", filepath.Join(dir, SpecFile))
	}
	if sf.Format != specFormat {
		return nil, badInputf("run: %s: layout version %q is newer than this program reads (update paretodiff)", filepath.Join(dir, SpecFile), sf.Format)
	}
	spec, err := sf.Spec.Normalize()
	if err != nil {
		return nil, fmt.Errorf("run: %s: %w", filepath.Join(dir, SpecFile), err)
	}
	r := &Run{Dir: dir, Spec: spec, checkpoint: filepath.Join(dir, CheckpointFile), probeDirs: map[string]string{}}
	for _, p := range spec.Probes {
		r.probeDirs[p.Name] = filepath.Join(dir, ProbesDir, p.Name)
	}
	if p, err := readProgress(dir); err == nil {
		r.Step, r.TrainTime = p.Step, p.TrainTime
	}
	if raw, err := os.ReadFile(filepath.Join(dir, DoneFile)); err == nil {
		var d done
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, badInputf("run: %s: %v", filepath.Join(dir, DoneFile), err)
		}
		r.Complete = d.Step == spec.Steps
		r.Step, r.TrainTime = d.Step, secondsDuration(d.TrainTimeS)
	}
	return r, nil
}

// readProgress reads ProgressFile.
func readProgress(dir string) (Progress, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ProgressFile))
	if err != nil {
		return Progress{}, err
	}
	var p progressJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return Progress{}, badInputf("run: %s: %v", filepath.Join(dir, ProgressFile), err)
	}
	p.Progress.TrainTime = secondsDuration(p.TrainTimeS)
	return p.Progress, nil
}

// writeProgress replaces ProgressFile.
func writeProgress(dir string, p Progress) error {
	p.Updated = time.Now().UTC().Round(time.Millisecond)
	return atomicfile.WriteJSON(filepath.Join(dir, ProgressFile), progressJSON{Progress: p, TrainTimeS: p.TrainTime.Seconds()})
}

// CheckpointPath returns the run's checkpoint file.
func (r *Run) CheckpointPath() string { return r.checkpoint }

// Checkpoint loads the run's checkpoint (of step Step).
func (r *Run) Checkpoint() (*diffusion.Checkpoint, error) {
	ck, err := diffusion.LoadCheckpoint(r.checkpoint)
	if err != nil {
		return nil, badInput(err)
	}
	return ck, nil
}

// Denoiser loads the checkpoint's network on be (its EMA weights if ema
// is set) as a denoiser of the run's target and schedule.
func (r *Run) Denoiser(be nn.Backend, ema bool) (*diffusion.NetDenoiser, error) {
	ck, err := r.Checkpoint()
	if err != nil {
		return nil, err
	}
	d, err := ck.Denoiser(be, ema)
	if err != nil {
		return nil, badInput(err)
	}
	return d, nil
}

// Records reads the metrics records, in step order, up to the checkpoint's
// step (later ones, from a session killed before its next checkpoint, are
// not part of the run).
func (r *Run) Records() ([]Record, error) {
	recs, err := r.recordsUnfiltered()
	if err != nil {
		return nil, err
	}
	if r.legacy != nil {
		r.legacy.addQuality(recs)
	}
	var out []Record
	for _, rec := range recs {
		if rec.Step <= r.Step {
			out = append(out, rec)
		}
	}
	return out, nil
}

// recordsUnfiltered reads MetricsFile whole (none if it does not exist).
func (r *Run) recordsUnfiltered() ([]Record, error) {
	path := filepath.Join(r.Dir, MetricsFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, badInputf("run: %v", err)
	}
	return parseRecords(path, raw)
}

// ProbeNames returns the names of the run's probes, sorted.
func (r *Run) ProbeNames() []string {
	var out []string
	for n := range r.probeDirs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ProbeDir returns the log folder of a probe ("" if the run has none of
// that name).
func (r *Run) ProbeDir(name string) string { return r.probeDirs[name] }

// Probe reads a probe's log: its Info and its records up to the
// checkpoint's step.
func (r *Run) Probe(name string) (conflict.Info, []conflict.Record, error) {
	dir, ok := r.probeDirs[name]
	if !ok {
		return conflict.Info{}, nil, badInputf("run: %s has no probe %q (it has %v)", r.Dir, name, r.ProbeNames())
	}
	info, recs, err := conflict.ReadLog(dir)
	if err != nil {
		return conflict.Info{}, nil, badInput(err)
	}
	var out []conflict.Record
	for _, rec := range recs {
		if rec.Step <= r.Step {
			out = append(out, rec)
		}
	}
	return info, out, nil
}
