package reproduce

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/paretodiff/paretodiff/run"
)

// PlannedRun is one run of a plan (Plan): what `paretodiff reproduce plan`
// prints as one JSON line, and what `paretodiff reproduce train-one` trains.
type PlannedRun struct {
	// Index is the run's place in the plan, from 0.
	Index int `json:"index"`
	// Key is its folder in the model cache (CacheRun.Key).
	Key string `json:"key"`
	// Kind is how it is trained.
	Kind RunKind `json:"kind"`
	// Needs are the indices of the runs it starts from (a fine-tune's
	// base), each earlier in the plan.
	Needs []int `json:"needs"`
	// Targets are the targets that use it, in plan order.
	Targets []string `json:"targets"`
	// Spec is the run's spec, normalised (run.Spec.Normalize: every
	// default written out).
	Spec run.Spec `json:"spec"`

	run CacheRun // as the target declared it
}

// Plan lists every run of the model cache the targets need (each target's
// Plan), each once, in an order in which each can be trained: a target's
// runs in its own order, targets in the given order, a run that several
// need at its first place; a fine-tune's base always comes before it. The
// list follows from env's Scale, Model and Seed alone; a model changes
// the runs' specs and keys, never their number or order.
func Plan(env *Env, targets []Target) ([]PlannedRun, error) {
	if err := env.CheckModel(); err != nil {
		return nil, err
	}
	var plan []PlannedRun
	at := map[string]int{} // key → index
	for _, t := range targets {
		if t.Plan == nil {
			continue
		}
		runs, err := t.Plan(env)
		if err != nil {
			return nil, fmt.Errorf("%s: plan: %w", t.Name, err)
		}
		for _, c := range runs {
			p, err := plannedRun(c, len(plan), at)
			if err != nil {
				return nil, fmt.Errorf("%s: plan: %w", t.Name, err)
			}
			if i, ok := at[p.Key]; ok {
				if !slices.Contains(plan[i].Targets, t.Name) {
					plan[i].Targets = append(plan[i].Targets, t.Name)
				}
				continue
			}
			p.Targets = []string{t.Name}
			at[p.Key] = p.Index
			plan = append(plan, p)
		}
	}
	return plan, nil
}

// plannedRun is the planned run of a cache run at index i, given the
// indices of the runs before it.
func plannedRun(c CacheRun, i int, at map[string]int) (PlannedRun, error) {
	if err := c.validate(); err != nil {
		return PlannedRun{}, err
	}
	key, err := c.Key()
	if err != nil {
		return PlannedRun{}, err
	}
	spec, err := c.Spec.Normalize()
	if err != nil {
		return PlannedRun{}, fmt.Errorf("reproduce: run %s: %w", key, err)
	}
	p := PlannedRun{Index: i, Key: key, Kind: c.Kind, Needs: []int{}, Spec: spec, run: c}
	if c.Base != "" {
		b, ok := at[c.Base]
		if !ok {
			return PlannedRun{}, fmt.Errorf("reproduce: run %s starts from %s, which the plan does not list before it", key, c.Base)
		}
		p.Needs = append(p.Needs, b)
	}
	return p, nil
}

// WritePlan writes the plan as JSON lines, one run a line.
func WritePlan(w io.Writer, plan []PlannedRun) error {
	bw := bufio.NewWriter(w)
	for _, p := range plan {
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("reproduce: plan: %w", err)
		}
		bw.Write(append(b, '\n'))
	}
	return bw.Flush()
}

// ReadPlannedRun reads one line of WritePlan's output (a file holding that
// line alone, blank lines aside). An error wraps run.ErrInput.
func ReadPlannedRun(r io.Reader) (PlannedRun, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return PlannedRun{}, planInput("cannot read the run: %v", err)
	}
	var lines [][]byte
	for _, l := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		return PlannedRun{}, planInput("want one line of `paretodiff reproduce plan`, got %d", len(lines))
	}
	dec := json.NewDecoder(bytes.NewReader(lines[0]))
	dec.DisallowUnknownFields()
	var p PlannedRun
	if err := dec.Decode(&p); err != nil {
		return PlannedRun{}, planInput("not a line of `paretodiff reproduce plan`: %v", err)
	}
	if p.Key == "" {
		return PlannedRun{}, planInput("the line names no run (no key)")
	}
	return p, nil
}

// Find returns the index in plan of a run read back (ReadPlannedRun): the
// run of the same key and spec. A run the plan does not hold (another
// scale, seed or version) is an error wrapping run.ErrInput.
func Find(plan []PlannedRun, p PlannedRun) (int, error) {
	for i, q := range plan {
		if q.Key != p.Key {
			continue
		}
		if d, err := q.Spec.Diff(p.Spec, false); err != nil || len(d) > 0 {
			why := "its spec cannot run"
			if err == nil {
				why = "its spec differs: " + strings.Join(d, "; ")
			}
			return 0, planInput("run %s is in the plan, but %s", p.Key, why)
		}
		return i, nil
	}
	return 0, planInput("run %s is not in the plan (%d runs; check --scale, --seed and the target names)", p.Key, len(plan))
}

// TrainPlanned trains plan[i] into the model cache, as the targets'
// Compute would (the same folder, the same files), after the runs it
// needs (its base, trained or found complete first, each under its own
// lock), and returns the keys of the runs it trained, none if all were
// complete already. Another process training one of them at the same time
// makes it wait for that run (see Env.lockRun), then find it complete. An
// index out of range is an error wrapping run.ErrInput.
func TrainPlanned(ctx context.Context, env *Env, plan []PlannedRun, i int) ([]string, error) {
	if i < 0 || i >= len(plan) {
		return nil, planInput("index %d is out of range: the plan has %d runs (0 to %d)", i, len(plan), len(plan)-1)
	}
	var order []int
	var visit func(j int)
	visit = func(j int) {
		for _, n := range plan[j].Needs {
			visit(n)
		}
		if !slices.Contains(order, j) {
			order = append(order, j)
		}
	}
	visit(i)
	var trained []string
	for _, j := range order {
		p := plan[j]
		env.Logf("train-one: run %d of the plan's %d: %s %s", j, len(plan), p.Kind.noun(), p.Key)
		cached, err := p.run.trainChecked(ctx, env)
		if err != nil {
			return trained, err
		}
		if !cached {
			trained = append(trained, p.Key)
		}
	}
	return trained, nil
}

// planInput is a bad-input error about a planned run.
func planInput(format string, a ...any) error {
	return inputErr{fmt.Errorf("reproduce: "+format, a...)}
}
