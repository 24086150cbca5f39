package reproduce

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/run"
	"gonum.org/v1/gonum/stat"
)

// ModelLabel is a short readable name of a model's run: "eps_min-snr-5_s1"
// for its target, weighting and seed, "dit_eps_min-snr-5_s1" for a DiT's
// (the ResMLP's labels are those of the releases before the DiT, so that
// their cached folders keep their names).
func ModelLabel(s run.Spec) string {
	w := strings.NewReplacer(":", "-", ",", "-", "/", "-", "=", "-").Replace(s.Train.Weighting)
	label := fmt.Sprintf("%s_%s_s%d", s.Train.Target, w, s.Train.Seed)
	if s.Net.Kind == "dit" {
		label = "dit_" + label
	}
	return label
}

// QualityPoint is the sample quality measured at a training step.
type QualityPoint struct {
	Step  int     `json:"step"`
	Value float64 `json:"value"`
}

// TrainedModel is a model of the cache with what was measured while it
// trained: a run folder (package run) and its records.
type TrainedModel struct {
	// Spec is the model's run and Dir its folder.
	Spec run.Spec
	Dir  string
	// Records are the metrics records, every Spec.Eval.Every steps.
	Records []run.Record
	// Quality is the sample quality (Metric; lower is better) at every
	// record, each from the same sampler noise (draw 0).
	Quality []QualityPoint
	// Final are Repeats quality values at the last step from independent
	// sample sets (Final[0] is the last Quality value).
	Final []float64
	// Metric names the quality measure ("SWD", "FD") and Floor is its value
	// between two independent sets of real data of the same sizes: the
	// best a model can reach, given the finite samples.
	Metric string
	Floor  float64
	// Probes are what the model's gradient probes recorded (nil for a model
	// without probes; see ModelSizes.Model).
	Probes *ProbeRun
	// Cached is set when the model came from the cache instead of training.
	Cached bool
	// TrainTime is the wall time of training (with evaluations).
	TrainTime time.Duration
}

// Label is ModelLabel of the model's spec.
func (m *TrainedModel) Label() string { return ModelLabel(m.Spec) }

// Checkpoint loads the model's final checkpoint.
func (m *TrainedModel) Checkpoint() (*diffusion.Checkpoint, error) {
	r, err := run.Open(m.Dir)
	if err != nil {
		return nil, err
	}
	return r.Checkpoint()
}

// Series returns a metric over training: the steps and values of every
// record where value is not NaN (a record of an untrained network has no
// training loss).
func (m *TrainedModel) Series(value func(run.Record) float64) (steps, values []float64) {
	for _, r := range m.Records {
		if v := value(r); !math.IsNaN(v) {
			steps = append(steps, float64(r.Step))
			values = append(values, v)
		}
	}
	return steps, values
}

// X0MSE selects the unweighted x0-MSE of the k-th Fig. 6 range of a
// record (NaN where the record has fewer ranges).
func X0MSE(k int) func(run.Record) float64 {
	return func(r run.Record) float64 {
		if k < len(r.X0MSE) {
			return r.X0MSE[k]
		}
		return math.NaN()
	}
}

// QualitySeries returns the quality curve as steps and values.
func (m *TrainedModel) QualitySeries() (steps, values []float64) {
	for _, q := range m.Quality {
		steps = append(steps, float64(q.Step))
		values = append(values, q.Value)
	}
	return steps, values
}

// FinalQuality returns the mean and sample standard deviation of Final
// (the deviation is 0 for a single value).
func (m *TrainedModel) FinalQuality() (mean, sd float64) {
	return meanSD(m.Final)
}

// meanSD is the mean and the sample standard deviation (0 for one value,
// NaN for none).
func meanSD(x []float64) (mean, sd float64) {
	switch len(x) {
	case 0:
		return math.NaN(), math.NaN()
	case 1:
		return x[0], 0
	}
	return stat.MeanStdDev(x, nil)
}

// validateModel checks what training cannot check itself: the quality is
// measured at every record, so the records must divide the steps, and so
// must the probes' intervals.
func validateModel(s run.Spec) error {
	switch q := s.Eval.Quality; {
	case s.Steps < 1 || s.Eval.Every < 1 || s.Steps%s.Eval.Every != 0:
		return fmt.Errorf("reproduce: model %s: eval interval %d must divide the steps %d", ModelLabel(s), s.Eval.Every, s.Steps)
	case q == nil || q.Repeats < 1 || q.Samples < 2:
		return fmt.Errorf("reproduce: model %s: need a quality measure of ≥ 1 repeat and ≥ 2 samples", ModelLabel(s))
	}
	return validateProbes(s)
}

// TrainModel returns the model of a spec: from the cache in
// env.ModelsDir() when a complete run of the same spec is there, otherwise
// by training it (resuming an interrupted run of it), a run (package run)
// that records the metrics and the sample quality of the EMA weights every
// Eval.Every steps and Repeats quality values at the last step, takes the
// spec's probes (ProbeRun), and writes a checkpoint at every record. Its
// folder is ModelRun(spec).Key().
func TrainModel(ctx context.Context, env *Env, spec run.Spec) (*TrainedModel, error) {
	r, wall, err := ModelRun(spec).train(ctx, env)
	if err != nil {
		return nil, err
	}
	m, err := modelOf(r)
	if err != nil {
		return nil, err
	}
	if !r.Cached {
		m.TrainTime = wall
		if m.Probes != nil {
			m.Probes.TrainTime = wall
		}
	}
	return m, nil
}

// modelOf reads a trained model from its run.
func modelOf(r *run.Run) (*TrainedModel, error) {
	recs, err := r.Records()
	if err != nil {
		return nil, err
	}
	m := &TrainedModel{Spec: r.Spec, Dir: r.Dir, Records: recs, Cached: r.Cached, TrainTime: r.TrainTime}
	if len(r.Spec.Probes) > 0 {
		if m.Probes, err = probeRunOf(r); err != nil {
			return nil, err
		}
	}
	for _, rec := range recs {
		if rec.Quality == nil {
			return nil, fmt.Errorf("reproduce: model %s: the record of step %d has no sample quality", m.Label(), rec.Step)
		}
		m.Quality = append(m.Quality, QualityPoint{Step: rec.Step, Value: rec.Quality.Value})
		m.Metric, m.Floor = rec.Quality.Metric, rec.Quality.Floor
	}
	if n := len(recs); n > 0 {
		m.Final = recs[n-1].Quality.Repeats
		if len(m.Final) == 0 {
			m.Final = []float64{recs[n-1].Quality.Value}
		}
	}
	if len(m.Quality) != r.Spec.Steps/r.Spec.Eval.Every {
		return nil, fmt.Errorf("reproduce: model %s: %d records for %d steps every %d", m.Label(), len(m.Quality), r.Spec.Steps, r.Spec.Eval.Every)
	}
	return m, nil
}

// runOptions are the run.Options of the reproductions' models: Env's
// backend, data and classifier folders, a checkpoint every checkpointEvery
// steps, and the run layer's notes in the log.
func (e *Env) runOptions(checkpointEvery int) run.Options {
	return run.Options{Backend: e.BackendOrCPU(), Existing: run.Reuse, CheckpointEvery: checkpointEvery,
		MNISTDir: e.MNISTDir, ClassifierDir: e.ClassifierDir, Log: logWriter{e}}
}

// logWriter sends each line written to it to Env.Logf, indented.
type logWriter struct{ e *Env }

func (w logWriter) Write(p []byte) (int, error) {
	w.e.Logf("  %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// quality returns the (memoised) quality measure of a model's spec.
func (e *Env) quality(ctx context.Context, s run.Spec) (run.QualityMeasure, error) {
	if s.Eval.Quality == nil {
		return nil, fmt.Errorf("reproduce: model %s measures no sample quality", ModelLabel(s))
	}
	return e.QualityOf(ctx, *s.Eval.Quality, s.Train.Data)
}

// QualityOf returns the quality measure of a spec on data (memoised: a
// second call with the same spec and data returns the same measure, with
// the same reference data).
func (e *Env) QualityOf(ctx context.Context, qs run.QualitySpec, data string) (run.QualityMeasure, error) {
	b, _ := json.Marshal(struct {
		Q    run.QualitySpec
		Data string
	}{qs, data})
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if q, ok := e.qualities[string(b)]; ok {
		return q, nil
	}
	q, err := run.NewQualityMeasure(ctx, qs, data, e.BackendOrCPU(), e.MNISTDir, e.ClassifierDir, logWriter{e})
	if err != nil {
		return nil, err
	}
	if e.qualities == nil {
		e.qualities = map[string]run.QualityMeasure{}
	}
	e.qualities[string(b)] = q
	return q, nil
}

// TrainModels trains (or loads) each spec in turn, logging "[i/n]"
// progress with the given prefix.
func TrainModels(ctx context.Context, env *Env, prefix string, specs []run.Spec) ([]*TrainedModel, error) {
	out := make([]*TrainedModel, len(specs))
	for i, s := range specs {
		env.Logf("%s: [%d/%d] model %s (target %s, weighting %s, seed %d)", prefix, i+1, len(specs), ModelLabel(s), s.Train.Target, s.Train.Weighting, s.Train.Seed)
		m, err := TrainModel(ctx, env, s)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}
