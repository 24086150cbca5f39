package reproduce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
)

// ProbeRunConfig is a training run probed for gradient conflict: the model
// of Model trained as TrainModel trains it (the same weights, step for
// step: a probe never changes parameters or the training random stream),
// with conflict.Probe measuring, at step 0 and every Every steps, Draws
// independent probe batches of PerBin examples in each of Bins equal-width
// timestep bins. It is the key of the probed-run cache.
type ProbeRunConfig struct {
	// Model is the trained model's configuration (its quality settings are
	// part of the key but unused: a probed run measures no sample quality).
	Model ModelConfig `json:"model"`
	// Bins is K, the number of equal-width timestep bins (conflict.EqualT).
	Bins int `json:"bins"`
	// PerBin is the number of examples per bin of each probe batch.
	PerBin int `json:"per_bin"`
	// Draws is the number of independent probe batches measured at every
	// probe; each is fixed over training (conflict.ProbeConfig.Fresh is
	// off), so that changes between probes are the model's, and their
	// spread at one probe is the sampling noise of the statistics.
	Draws int `json:"draws"`
	// Every is the probe interval in steps; it divides Model.Steps.
	Every int `json:"every"`
	// Seed seeds the probe batches: draw r uses conflict.ProbeConfig.Seed
	// = Seed + r.
	Seed uint64 `json:"seed"`
}

// Key names the run's cache folder: the model's label, "probe", and 12 hex
// digits of the SHA-256 of cacheVersion and the configuration's JSON.
func (c ProbeRunConfig) Key() string {
	b, _ := json.Marshal(c)
	h := sha256.Sum256(append([]byte("reproduce/probe/"+cacheVersion+"\n"), b...))
	return c.Model.Label() + "_probe_" + hex.EncodeToString(h[:6])
}

func (c ProbeRunConfig) validate() error {
	switch {
	case c.Bins < 2 || c.Bins > c.Model.T:
		return fmt.Errorf("reproduce: probed run: need 2 ≤ bins ≤ T, got %d", c.Bins)
	case c.PerBin < 1 || c.Draws < 1:
		return fmt.Errorf("reproduce: probed run: need ≥ 1 example per bin and ≥ 1 draw, got %d and %d", c.PerBin, c.Draws)
	case c.Every < 1 || c.Model.Steps < 1 || c.Model.Steps%c.Every != 0:
		return fmt.Errorf("reproduce: probed run: the probe interval %d must divide the steps %d", c.Every, c.Model.Steps)
	}
	return nil
}

// ProbeRun is a probed training run of the cache.
type ProbeRun struct {
	// Config is the run's configuration and Dir its cache folder: one
	// conflict log per draw (DrawDir), checkpoint.bin of the last step and
	// run.json, written last.
	Config ProbeRunConfig
	Dir    string
	// Info describes the probes (bins, parameters, task loss), the same for
	// every draw but the seed.
	Info conflict.Info
	// Draws[r] are draw r's records, one per probe, in step order, with
	// their Gram and cosine matrices (no Pareto solutions: the analyses
	// solve with their own λ).
	Draws [][]conflict.Record
	// Cached is set when the run came from the cache.
	Cached bool
	// TrainTime is the wall time of training and probing.
	TrainTime time.Duration
}

// DrawDir is the conflict log folder of draw r inside a run's folder.
func DrawDir(dir string, r int) string { return filepath.Join(dir, "draw-"+strconv.Itoa(r)) }

// Steps returns the probed steps.
func (p *ProbeRun) Steps() []int {
	var s []int
	for _, r := range p.Draws[0] {
		s = append(s, r.Step)
	}
	return s
}

// Bins returns the probes' bins.
func (p *ProbeRun) Bins() conflict.Bins { return p.Info.Bins() }

// CheckpointPath is the run's final checkpoint.
func (p *ProbeRun) CheckpointPath() string { return diffusion.CheckpointPath(p.Dir) }

// runFile is run.json, the completion marker of a probed run.
type runFile struct {
	Config     ProbeRunConfig `json:"config"`
	Probes     int            `json:"probes"`
	TrainTimeS float64        `json:"train_time_s"`
}

// TrainProbed returns the probed run of a configuration: from the cache in
// env.ModelsDir() when a completed run of the same configuration is there,
// otherwise by training the model with the probes as a training callback
// (diffusion.TrainConfig.Callback; conflict.Probe measures the raw weights
// the optimiser updates, over all parameters, with the unweighted x0-MSE as
// each bin's task loss). An interrupted run resumes from its last
// checkpoint (written at every probe) with the records up to it.
func TrainProbed(ctx context.Context, env *Env, cfg ProbeRunConfig) (*ProbeRun, error) {
	cfg.Model.Net.Dim = dataDim(cfg.Model.Data)
	if err := cfg.Model.validate(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dir := filepath.Join(env.ModelsDir(), cfg.Key())
	if p, err := loadProbeRun(dir, cfg); err == nil {
		p.Cached = true
		env.count(true)
		env.Logf("  probed run %s: reusing %s", cfg.Model.Label(), dir)
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		env.Logf("  probed run %s: retraining (%v)", cfg.Model.Label(), err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	removeTemps(dir)
	tc, err := cfg.Model.trainConfig()
	if err != nil {
		return nil, err
	}
	train, heldOut, err := data.Open(cfg.Model.Data, env.MNISTDir)
	if err != nil {
		return nil, err
	}
	bins, err := conflict.EqualT(cfg.Model.T, cfg.Bins)
	if err != nil {
		return nil, err
	}
	be := env.backend()
	tc.Metrics, tc.LogEvery = nil, cfg.Model.Steps
	tc.CheckpointDir, tc.CheckpointEvery = dir, cfg.Every
	// The probes need the trainer's objective, so the callback calls
	// measure, set once the trainer exists.
	var measure func(step int) error
	tc.Callback, tc.CallbackEvery = func(t *diffusion.Trainer) error { return measure(t.Step()) }, cfg.Every

	// Resume from a checkpoint and the records up to it, if any.
	var tr *diffusion.Trainer
	kept := make([][]conflict.Record, cfg.Draws)
	if ck, err := diffusion.LoadCheckpoint(diffusion.CheckpointPath(dir)); err == nil && ck.Step < cfg.Model.Steps {
		ok := true
		for r := range kept {
			_, recs, err := conflict.ReadLog(DrawDir(dir, r))
			if err != nil {
				ok = false
				break
			}
			for _, rec := range recs {
				if rec.Step <= ck.Step {
					kept[r] = append(kept[r], rec)
				}
			}
			if len(kept[r]) != ck.Step/cfg.Every+1 {
				ok = false
			}
		}
		if ok {
			if tr, err = diffusion.ResumeTrainer(ck, be, train, heldOut, tc); err == nil {
				env.Logf("  probed run %s: resuming at step %d", cfg.Model.Label(), ck.Step)
			} else {
				tr = nil
			}
		}
		if tr == nil {
			kept = make([][]conflict.Record, cfg.Draws)
		}
	}
	if tr == nil {
		net, err := nn.InitResMLP(be, cfg.Model.Net, cfg.Model.Seed)
		if err != nil {
			return nil, err
		}
		if tr, err = diffusion.NewTrainer(net, train, heldOut, tc); err != nil {
			return nil, err
		}
		env.Logf("  probed run %s: training %d steps, probing every %d (%d bins × %d examples, %d draws)",
			cfg.Model.Label(), cfg.Model.Steps, cfg.Every, cfg.Bins, cfg.PerBin, cfg.Draws)
	}

	probes := make([]*conflict.Probe, cfg.Draws)
	logs := make([]*conflict.Log, cfg.Draws)
	p := &ProbeRun{Config: cfg, Dir: dir, Draws: make([][]conflict.Record, cfg.Draws)}
	for r := range probes {
		pr, err := conflict.NewProbe(tr.Objective(), train, conflict.ProbeConfig{Bins: bins, PerBin: cfg.PerBin, Seed: cfg.Seed + uint64(r), NoSolve: true})
		if err != nil {
			return nil, err
		}
		probes[r] = pr
		if logs[r], err = conflict.CreateLog(DrawDir(dir, r), pr.Info()); err != nil {
			return nil, err
		}
		for _, rec := range kept[r] {
			if err := logs[r].Append(rec); err != nil {
				return nil, err
			}
			p.Draws[r] = append(p.Draws[r], rec)
		}
	}
	p.Info = probes[0].Info()
	start, last, lastStep := time.Now(), time.Now(), tr.Step()
	measure = func(step int) error {
		for r, pr := range probes {
			rec, err := pr.Measure(step)
			if err != nil {
				return err
			}
			if err := logs[r].Append(rec); err != nil {
				return err
			}
			p.Draws[r] = append(p.Draws[r], rec)
		}
		if step > 0 {
			rate := float64(step-lastStep) / time.Since(last).Seconds()
			env.Logf("  probed run %s: step %d/%d probed (%.0f steps/s with probes)", cfg.Model.Label(), step, cfg.Model.Steps, rate)
		}
		last, lastStep = time.Now(), step
		return nil
	}
	if tr.Step() == 0 {
		if err := measure(0); err != nil {
			return nil, err
		}
	}
	if err := tr.Run(ctx); err != nil {
		return nil, err
	}
	p.TrainTime = time.Since(start)
	rf := runFile{Config: cfg, Probes: len(p.Draws[0]), TrainTimeS: p.TrainTime.Seconds()}
	if err := atomicfile.WriteJSON(filepath.Join(dir, "run.json"), rf); err != nil {
		return nil, err
	}
	env.count(false)
	return p, nil
}

// loadProbeRun reads a completed probed run of cfg from dir; the error
// wraps os.ErrNotExist when there is none.
func loadProbeRun(dir string, cfg ProbeRunConfig) (*ProbeRun, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		return nil, err
	}
	var rf runFile
	if err := json.Unmarshal(raw, &rf); err != nil {
		return nil, fmt.Errorf("run.json: %w", err)
	}
	if !reflect.DeepEqual(rf.Config, cfg) {
		return nil, errors.New("run.json holds another configuration")
	}
	p := &ProbeRun{Config: cfg, Dir: dir, TrainTime: time.Duration(rf.TrainTimeS * float64(time.Second))}
	for r := 0; r < cfg.Draws; r++ {
		info, recs, err := conflict.ReadLog(DrawDir(dir, r))
		if err != nil {
			return nil, fmt.Errorf("draw %d: %w", r, err)
		}
		if len(recs) != rf.Probes || len(recs) != cfg.Model.Steps/cfg.Every+1 {
			return nil, fmt.Errorf("draw %d holds %d probes, want %d", r, len(recs), cfg.Model.Steps/cfg.Every+1)
		}
		if r == 0 {
			p.Info = info
		}
		p.Draws = append(p.Draws, recs)
	}
	return p, nil
}

// ProbeSizes are the settings of the probed training run that fig4 and
// conflict share (one run serves both: TrainProbed caches it).
type ProbeSizes struct {
	// Target and Strategy name the model (the strategy grid's
	// configuration: the probed run trains the same weights as TrainModel).
	Target, Strategy string
	// Bins, PerBin, Draws and Every are as in ProbeRunConfig.
	Bins, PerBin, Draws, Every int
}

var probeSizes = map[Scale]ProbeSizes{
	Smoke: {Target: "v", Strategy: "min-snr:5", Bins: 4, PerBin: 8, Draws: 3, Every: 20},
	Quick: {Target: "v", Strategy: "min-snr:5", Bins: 20, PerBin: 1024, Draws: 4, Every: 100},
	Paper: {Target: "v", Strategy: "min-snr:5", Bins: 20, PerBin: 256, Draws: 4, Every: 2500},
}

// ProbeSizesFor returns the probed run's sizes at a scale.
func ProbeSizesFor(s Scale) ProbeSizes { return probeSizes[s] }

// probeSeed offsets the probe batches from every training stream.
const probeSeed = 4000

// Config returns the probed run of these sizes for a scale's model sizes
// and a run's seed (model seed and quality seed env.Seed, as the strategy
// grid's first seed; probe batches from seed + probeSeed).
func (p ProbeSizes) Config(ms ModelSizes, seed uint64) ProbeRunConfig {
	m := ms.Model(p.Target, p.Strategy, seed, seed)
	m.Net.Dim = dataDim(m.Data)
	return ProbeRunConfig{Model: m, Bins: p.Bins, PerBin: p.PerBin, Draws: p.Draws, Every: p.Every, Seed: seed + probeSeed}
}
