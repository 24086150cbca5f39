package reproduce

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"github.com/paretodiff/paretodiff/weighting"
)

// ModelConfig is everything that determines a trained model of the
// reproductions and the measurements taken while it trains. It is the key
// of the model cache: two equal configurations give the same model and
// numbers, so a run reuses a model another target already trained.
type ModelConfig struct {
	// Data is the training data spec (data.Open).
	Data string `json:"data"`
	// Net is the ResMLP's configuration (Dim follows the data).
	Net nn.ResMLPConfig `json:"net"`
	// Schedule and T are the noise schedule.
	Schedule string `json:"schedule"`
	T        int    `json:"T"`
	// Target ("eps", "x0", "v") and Strategy (weighting.Parse spec) set
	// the loss.
	Target   string `json:"target"`
	Strategy string `json:"strategy"`
	// Steps, Batch, Optim and Seed are the training run's.
	Steps int            `json:"steps"`
	Batch int            `json:"batch"`
	Optim nn.OptimConfig `json:"optim"`
	Seed  uint64         `json:"seed"`
	// EvalEvery is the interval of metrics records and quality
	// evaluations; EvalSize the held-out examples per Fig. 6 range.
	EvalEvery int `json:"eval_every"`
	EvalSize  int `json:"eval_size"`
	// Quality says how sample quality is measured.
	Quality QualityConfig `json:"quality"`
}

// Label is a short readable name: "eps_min-snr-5_s1".
func (c ModelConfig) Label() string {
	s := strings.NewReplacer(":", "-", ",", "-", "/", "-").Replace(c.Strategy)
	return fmt.Sprintf("%s_%s_s%d", c.Target, s, c.Seed)
}

// cacheVersion is part of every cache key; it changes when the code that
// trains or measures a model changes its numbers, so that stale models
// are not reused.
const cacheVersion = "1"

// Key names the model's cache folder: the label and the first 12 hex
// digits of the SHA-256 of cacheVersion and the configuration's JSON.
func (c ModelConfig) Key() string {
	b, _ := json.Marshal(c)
	h := sha256.Sum256(append([]byte("reproduce/"+cacheVersion+"\n"), b...))
	return c.Label() + "_" + hex.EncodeToString(h[:6])
}

// validate checks what training cannot check itself.
func (c ModelConfig) validate() error {
	switch {
	case c.Steps < 1 || c.EvalEvery < 1 || c.Steps%c.EvalEvery != 0:
		return fmt.Errorf("reproduce: model %s: eval interval %d must divide the steps %d", c.Label(), c.EvalEvery, c.Steps)
	case c.Quality.Repeats < 1 || c.Quality.Samples < 2:
		return fmt.Errorf("reproduce: model %s: need ≥ 1 repeat and ≥ 2 samples", c.Label())
	}
	return nil
}

// trainConfig turns the configuration into the trainer's.
func (c ModelConfig) trainConfig() (diffusion.TrainConfig, error) {
	sched, err := diffusion.NewSchedule(c.Schedule, c.T, false)
	if err != nil {
		return diffusion.TrainConfig{}, err
	}
	target, err := weighting.ParseTarget(c.Target)
	if err != nil {
		return diffusion.TrainConfig{}, err
	}
	strategy, err := weighting.Parse(c.Strategy)
	if err != nil {
		return diffusion.TrainConfig{}, err
	}
	return diffusion.TrainConfig{
		Schedule: sched, Target: target, Strategy: strategy, Steps: c.Steps, Batch: c.Batch,
		Optim: c.Optim, Seed: c.Seed, EvalSize: c.EvalSize, LogEvery: c.EvalEvery,
		Meta: map[string]string{"data": c.Data, "model": "resmlp"},
	}, nil
}

// dataDim is the example length of a data spec.
func dataDim(spec string) int {
	if spec == "mnist" {
		return data.MNISTDim
	}
	return 2
}

// Record is one line of a training run's metrics log (diffusion.Metrics
// as the trainer writes it): the step and the numeric fields by key
// ("loss", "eval_loss", "x0_mse_0_100", …).
type Record struct {
	Step   int
	Values map[string]float64
}

// parseRecord reads one JSON line of the metrics log; non-finite values
// are written there as strings ("NaN", "+Inf").
func parseRecord(line []byte) (Record, error) {
	var raw map[string]any
	if err := json.Unmarshal(line, &raw); err != nil {
		return Record{}, err
	}
	r := Record{Values: map[string]float64{}}
	for k, v := range raw {
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case string:
			p, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return Record{}, fmt.Errorf("field %q: %q is not a number", k, x)
			}
			f = p
		default:
			return Record{}, fmt.Errorf("field %q is not a number", k)
		}
		if k == "step" {
			r.Step = int(f)
		} else {
			r.Values[k] = f
		}
	}
	return r, nil
}

// QualityPoint is the sample quality measured at a training step.
type QualityPoint struct {
	Step  int     `json:"step"`
	Value float64 `json:"value"`
}

// TrainedModel is a model of the cache with what was measured while it
// trained.
type TrainedModel struct {
	// Config is the model's configuration and Dir its cache folder
	// (checkpoint.bin, metrics.jsonl, quality.csv, model.json).
	Config ModelConfig
	Dir    string
	// Records are the metrics records, every EvalEvery steps.
	Records []Record
	// Quality is the sample quality (Metric; lower is better) every
	// EvalEvery steps, each from the same sampler noise (draw 0).
	Quality []QualityPoint
	// Final are Repeats quality values at the last step from independent
	// sample sets (Final[0] is the last Quality value).
	Final []float64
	// Metric names the quality measure ("SWD", "FD") and Floor is its value
	// between two independent sets of real data of the same sizes: the
	// best a model can reach, given the finite samples.
	Metric string
	Floor  float64
	// Cached is set when the model came from the cache instead of training.
	Cached bool
	// TrainTime is the wall time of training (with evaluations).
	TrainTime time.Duration
}

// modelFile is model.json: the completion marker of a cached model.
type modelFile struct {
	Config      ModelConfig    `json:"config"`
	Quality     []QualityPoint `json:"quality"`
	Final       []float64      `json:"final"`
	Metric      string         `json:"metric"`
	Floor       float64        `json:"floor"`
	TrainTimeS  float64        `json:"train_time_s"`
	MetricsFile string         `json:"metrics_file"`
}

// progressFile is progress.json, written at every evaluation so that an
// interrupted run resumes from its checkpoint with its records.
type progressFile struct {
	Records []json.RawMessage `json:"records"`
	Quality []QualityPoint    `json:"quality"`
}

// CheckpointPath is the model's final checkpoint.
func (m *TrainedModel) CheckpointPath() string { return diffusion.CheckpointPath(m.Dir) }

// Checkpoint loads the model's final checkpoint.
func (m *TrainedModel) Checkpoint() (*diffusion.Checkpoint, error) {
	return diffusion.LoadCheckpoint(m.CheckpointPath())
}

// Series returns a metrics field over training: the steps and the values
// of key in every record that has it.
func (m *TrainedModel) Series(key string) (steps, values []float64) {
	for _, r := range m.Records {
		if v, ok := r.Values[key]; ok {
			steps = append(steps, float64(r.Step))
			values = append(values, v)
		}
	}
	return steps, values
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

func meanSD(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(x)-1))
}

// TrainModel returns the model of a configuration: from the cache in
// env.ModelsDir() when a completed run of the same configuration is there,
// otherwise by training it (resuming an interrupted run of it from its
// checkpoint). While it trains it records the metrics every EvalEvery
// steps and the sample quality of the EMA weights (see QualityConfig), and
// at the last step Repeats independent quality values. The cache folder is
// complete only once model.json exists, which is written last; every file
// is written atomically.
func TrainModel(ctx context.Context, env *Env, cfg ModelConfig) (*TrainedModel, error) {
	cfg.Net.Dim = dataDim(cfg.Data)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dir := filepath.Join(env.ModelsDir(), cfg.Key())
	if m, err := loadModel(dir, cfg); err == nil {
		m.Cached = true
		env.count(true)
		env.Logf("  model %s: reusing %s", cfg.Label(), dir)
		return m, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		env.Logf("  model %s: retraining (%v)", cfg.Label(), err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	removeTemps(dir)
	tc, err := cfg.trainConfig()
	if err != nil {
		return nil, err
	}
	train, heldOut, err := data.Open(cfg.Data, env.MNISTDir)
	if err != nil {
		return nil, err
	}
	q, err := env.quality(ctx, cfg)
	if err != nil {
		return nil, err
	}
	be := env.backend()

	var prog progressFile
	metrics := &lineWriter{}
	tc.Metrics = metrics
	tc.CheckpointDir, tc.CheckpointEvery = dir, cfg.EvalEvery
	var final []float64
	last := time.Now()
	tc.CallbackEvery = cfg.EvalEvery
	tc.Callback = func(tr *diffusion.Trainer) error {
		den, err := tr.Denoiser(true)
		if err != nil {
			return err
		}
		draws := 1
		if tr.Step() == cfg.Steps {
			draws = cfg.Quality.Repeats
		}
		var vals []float64
		for d := 0; d < draws; d++ {
			v, err := q.Measure(ctx, den, tc.Schedule, d)
			if err != nil {
				return err
			}
			vals = append(vals, v)
		}
		prog.Quality = append(prog.Quality, QualityPoint{Step: tr.Step(), Value: vals[0]})
		for _, l := range metrics.take() {
			prog.Records = append(prog.Records, json.RawMessage(l))
		}
		if tr.Step() == cfg.Steps {
			final = vals
		}
		if err := atomicfile.WriteJSON(filepath.Join(dir, "progress.json"), prog); err != nil {
			return err
		}
		rate := float64(cfg.EvalEvery) / time.Since(last).Seconds()
		last = time.Now()
		env.Logf("  model %s: step %d/%d  %s %.4g  (%.0f steps/s with evaluation)", cfg.Label(), tr.Step(), cfg.Steps, q.Metric(), vals[0], rate)
		return nil
	}

	start := time.Now()
	var tr *diffusion.Trainer
	ckPath := diffusion.CheckpointPath(dir)
	if ck, err := diffusion.LoadCheckpoint(ckPath); err == nil && ck.Step < cfg.Steps {
		if p, perr := readProgress(filepath.Join(dir, "progress.json"), ck.Step); perr == nil {
			prog = p
			tr, err = diffusion.ResumeTrainer(ck, be, train, heldOut, tc)
			if err == nil {
				env.Logf("  model %s: resuming at step %d", cfg.Label(), ck.Step)
			} else {
				tr, prog = nil, progressFile{}
			}
		}
	}
	if tr == nil {
		net, err := nn.InitResMLP(be, cfg.Net, cfg.Seed)
		if err != nil {
			return nil, err
		}
		if tr, err = diffusion.NewTrainer(net, train, heldOut, tc); err != nil {
			return nil, err
		}
		env.Logf("  model %s: training %d steps", cfg.Label(), cfg.Steps)
	}
	if err := tr.Run(ctx); err != nil {
		return nil, err
	}
	m := &TrainedModel{Config: cfg, Dir: dir, Quality: prog.Quality, Final: final, Metric: q.Metric(), Floor: q.Floor(), TrainTime: time.Since(start)}
	var lines bytes.Buffer
	for _, l := range prog.Records {
		r, err := parseRecord(l)
		if err != nil {
			return nil, fmt.Errorf("reproduce: metrics record: %w", err)
		}
		m.Records = append(m.Records, r)
		lines.Write(l)
		lines.WriteByte('\n')
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "metrics.jsonl"), lines.Bytes()); err != nil {
		return nil, err
	}
	qt := Table{Header: []string{"step", strings.ToLower(m.Metric)}}
	for _, p := range m.Quality {
		qt.Add(p.Step, p.Value)
	}
	if err := qt.WriteCSV(filepath.Join(dir, "quality.csv")); err != nil {
		return nil, err
	}
	mf := modelFile{Config: cfg, Quality: m.Quality, Final: m.Final, Metric: m.Metric, Floor: m.Floor,
		TrainTimeS: m.TrainTime.Seconds(), MetricsFile: "metrics.jsonl"}
	if err := atomicfile.WriteJSON(filepath.Join(dir, "model.json"), mf); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(dir, "progress.json"))
	env.count(false)
	return m, nil
}

// loadModel reads a completed model of cfg from dir; the error wraps
// os.ErrNotExist when there is none.
func loadModel(dir string, cfg ModelConfig) (*TrainedModel, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		return nil, err
	}
	var mf modelFile
	if err := json.Unmarshal(raw, &mf); err != nil {
		return nil, fmt.Errorf("model.json: %w", err)
	}
	if !reflect.DeepEqual(mf.Config, cfg) {
		return nil, errors.New("model.json holds another configuration")
	}
	if _, err := os.Stat(diffusion.CheckpointPath(dir)); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	m := &TrainedModel{Config: cfg, Dir: dir, Quality: mf.Quality, Final: mf.Final, Metric: mf.Metric, Floor: mf.Floor,
		TrainTime: time.Duration(mf.TrainTimeS * float64(time.Second))}
	f, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(f))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		r, err := parseRecord(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("metrics.jsonl: %w", err)
		}
		m.Records = append(m.Records, r)
	}
	if len(m.Quality) != cfg.Steps/cfg.EvalEvery || len(m.Final) != cfg.Quality.Repeats || len(m.Records) != cfg.Steps/cfg.EvalEvery {
		return nil, errors.New("model.json or metrics.jsonl is incomplete")
	}
	return m, nil
}

// readProgress reads progress.json, keeping what was recorded up to step.
func readProgress(path string, step int) (progressFile, error) {
	var p progressFile
	raw, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, err
	}
	var keep []json.RawMessage
	for _, l := range p.Records {
		r, err := parseRecord(l)
		if err != nil {
			return p, err
		}
		if r.Step <= step {
			keep = append(keep, l)
		}
	}
	p.Records = keep
	var q []QualityPoint
	for _, v := range p.Quality {
		if v.Step <= step {
			q = append(q, v)
		}
	}
	p.Quality = q
	return p, nil
}

// removeTemps deletes temporary files an interrupted atomic write left.
func removeTemps(dir string) {
	stale, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	for _, p := range stale {
		os.Remove(p)
	}
}

// lineWriter collects the complete lines written to it.
type lineWriter struct {
	buf   []byte
	lines [][]byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines = append(w.lines, append([]byte(nil), w.buf[:i]...))
		w.buf = w.buf[i+1:]
	}
}

// take returns the lines collected since the last call.
func (w *lineWriter) take() [][]byte {
	l := w.lines
	w.lines = nil
	return l
}

// TrainModels trains (or loads) each configuration in turn, logging
// "[i/n]" progress with the given prefix.
func TrainModels(ctx context.Context, env *Env, prefix string, cfgs []ModelConfig) ([]*TrainedModel, error) {
	out := make([]*TrainedModel, len(cfgs))
	for i, c := range cfgs {
		env.Logf("%s: [%d/%d] model %s (target %s, weighting %s, seed %d)", prefix, i+1, len(cfgs), c.Label(), c.Target, c.Strategy, c.Seed)
		m, err := TrainModel(ctx, env, c)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
