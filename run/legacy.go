package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
)

// The layouts of earlier releases, which Open still reads. Each held a
// checkpoint.bin whose header names the network and the run configuration
// (diffusion.LoadCheckpoint migrates the old headers), and beside it:
//   - "train" (paretodiff train): metrics.jsonl and config.json (flags for
//     people; not read);
//   - "conflict" (paretodiff conflict while training): the same, and its
//     probe log (probe.json, probes.jsonl, gram/, cosine/) in the folder
//     itself: the probe "conflict";
//   - a demo's model/ folder: checkpoint.bin and metrics.jsonl (its probe
//     log was the sibling folder conflict/, not part of the run);
//   - "reproduce-model" (a cached model of the reproductions):
//     metrics.jsonl, quality.csv and model.json, the completion marker,
//     whose "quality" and "final" become the records' Quality;
//   - "reproduce-probed" (a probed run of the reproductions): draw-N/ probe
//     logs (the probes "draw-N") and run.json, the completion marker.
//
// The Spec of such a folder is derived: network, run configuration and
// steps from the checkpoint, the metrics interval from the first record,
// probes from their logs (bins as edges), sample quality from model.json.
// These folders are read, never written: a resumed "train" folder is
// written in the current layout from then on.
const (
	legacyModelFile  = "model.json"
	legacyRunFile    = "run.json"
	legacyDrawPrefix = "draw-"
)

// legacyExtras is what a legacy folder holds outside the records.
type legacyExtras struct {
	quality []legacyQualityPoint
	final   []float64
	metric  string
	floor   float64
}

type legacyQualityPoint struct {
	Step  int     `json:"step"`
	Value float64 `json:"value"`
}

// addQuality merges model.json's quality into the records.
func (l *legacyExtras) addQuality(recs []Record) {
	for i := range recs {
		for _, q := range l.quality {
			if q.Step == recs[i].Step {
				recs[i].Quality = &Quality{Metric: l.metric, Value: q.Value, Floor: l.floor}
			}
		}
	}
	if n := len(recs); n > 0 && recs[n-1].Quality != nil && len(l.final) > 0 {
		recs[n-1].Quality.Repeats = append([]float64(nil), l.final...)
	}
}

// openCheckpointFile reads a checkpoint file given on its own.
func openCheckpointFile(path string) (*Run, error) {
	ck, err := diffusion.LoadCheckpoint(path)
	if err != nil {
		return nil, badInput(err)
	}
	r, err := runOfCheckpoint(filepath.Dir(path), path, ck)
	if err != nil {
		return nil, err
	}
	r.Legacy, r.probeDirs = "checkpoint", map[string]string{}
	return r, nil
}

// runOfCheckpoint derives the Spec of a run from its checkpoint.
func runOfCheckpoint(dir, path string, ck *diffusion.Checkpoint) (*Run, error) {
	if ck.Config.Data == "" {
		return nil, badInputf("run: %s does not say which data it was trained on", path)
	}
	spec := Spec{Net: ck.Spec, Train: ck.Config, Steps: ck.Steps}
	spec.Eval.Every = ck.Steps
	return &Run{Dir: dir, Spec: spec, Step: ck.Step, Complete: ck.Step >= ck.Steps, checkpoint: path}, nil
}

// openLegacy reads a folder of an earlier layout.
func openLegacy(dir string) (*Run, error) {
	path := filepath.Join(dir, CheckpointFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, badInput(fmt.Errorf("run: %s holds no %s or %s: %w", dir, SpecFile, CheckpointFile, ErrNoRun))
	}
	ck, err := diffusion.LoadCheckpoint(path)
	if err != nil {
		return nil, badInput(err)
	}
	r, err := runOfCheckpoint(dir, path, ck)
	if err != nil {
		return nil, err
	}
	r.Legacy, r.probeDirs = "train", map[string]string{}
	recs, err := r.recordsUnfiltered()
	if err != nil {
		return nil, err
	}
	if len(recs) > 0 && recs[0].Step > 0 {
		r.Spec.Eval.Every = recs[0].Step
	}
	switch {
	case exists(filepath.Join(dir, legacyModelFile)):
		err = r.readLegacyModel()
	case exists(filepath.Join(dir, legacyRunFile)):
		err = r.readLegacyProbed()
	case exists(filepath.Join(dir, conflict.InfoFile)):
		r.Legacy = "conflict"
		err = r.addLegacyProbe("conflict", dir, 0)
	}
	if err != nil {
		return nil, err
	}
	if r.Spec, err = r.Spec.Normalize(); err != nil {
		return nil, fmt.Errorf("run: %s (%s layout): %w", dir, r.Legacy, err)
	}
	return r, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readLegacyModel reads model.json of a cached model of the reproductions.
func (r *Run) readLegacyModel() error {
	path := filepath.Join(r.Dir, legacyModelFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return badInputf("run: %v", err)
	}
	var mf struct {
		Config struct {
			EvalEvery int          `json:"eval_every"`
			Quality   *QualitySpec `json:"quality"`
		} `json:"config"`
		Quality    []legacyQualityPoint `json:"quality"`
		Final      []float64            `json:"final"`
		Metric     string               `json:"metric"`
		Floor      float64              `json:"floor"`
		TrainTimeS float64              `json:"train_time_s"`
	}
	if err := json.Unmarshal(raw, &mf); err != nil {
		return badInputf("run: %s: %v", path, err)
	}
	r.Legacy, r.Complete = "reproduce-model", true
	r.Spec.Eval.Every, r.Spec.Eval.Quality = mf.Config.EvalEvery, mf.Config.Quality
	r.TrainTime = secondsDuration(mf.TrainTimeS)
	r.legacy = &legacyExtras{quality: mf.Quality, final: mf.Final, metric: mf.Metric, floor: mf.Floor}
	return nil
}

// readLegacyProbed reads run.json and the draw-N logs of a probed run of
// the reproductions.
func (r *Run) readLegacyProbed() error {
	path := filepath.Join(r.Dir, legacyRunFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return badInputf("run: %v", err)
	}
	var rf struct {
		Config struct {
			Draws int `json:"draws"`
			Every int `json:"every"`
		} `json:"config"`
		TrainTimeS float64 `json:"train_time_s"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return badInputf("run: %s: %v", path, err)
	}
	r.Legacy, r.Complete = "reproduce-probed", true
	r.TrainTime = secondsDuration(rf.TrainTimeS)
	for d := 0; d < rf.Config.Draws; d++ {
		name := legacyDrawPrefix + strconv.Itoa(d)
		if err := r.addLegacyProbe(name, filepath.Join(r.Dir, name), rf.Config.Every); err != nil {
			return err
		}
	}
	return nil
}

// addLegacyProbe adds the probe whose log is in dir to the spec; every 0
// takes the interval from the log's first two records.
func (r *Run) addLegacyProbe(name, dir string, every int) error {
	info, recs, err := conflict.ReadLog(dir)
	if err != nil {
		return badInput(err)
	}
	if every == 0 {
		every = r.Spec.Steps
		if len(recs) > 1 {
			every = recs[1].Step - recs[0].Step
		}
	}
	gram := "auto"
	if info.Gram == "reference" {
		gram = "reference"
	}
	r.Spec.Probes = append(r.Spec.Probes, conflict.ProbeSpec{
		Name: name, Every: every, Bins: info.Bins().String(), PerBin: info.PerBin, Params: info.Params, Task: info.Task,
		Gram: gram, Methods: info.Methods, Lambda: info.Lambda, Normalizer: info.Normalizer, MTLOptions: info.MTLOptions, Fresh: info.Fresh, Seed: info.Seed,
	})
	r.probeDirs[name] = dir
	return nil
}
