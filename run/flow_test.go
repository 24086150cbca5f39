package run_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paretodiff/paretodiff/run"
)

// flowSpec is toySpec as flow matching: the rectified-flow schedule, the
// velocity target, SD3's logit-normal density.
func flowSpec(steps int) run.Spec {
	s := toySpec(steps)
	s.Train.Schedule, s.Train.Target, s.Train.Density = "flow:shift=1", "flow", "logit-normal:0,1"
	return s
}

// A flow-matching run trains, probes and measures like any other; its
// schedule name is canonical; the quality improves with training under
// the flow samplers and EDM's Heun.
func TestFlowMatchingRun(t *testing.T) {
	for _, smp := range []string{"flow-heun", "flow-euler", "heun"} {
		spec := flowSpec(40)
		spec.Eval.Quality = &run.QualitySpec{Samples: 256, Sampler: smp, SamplerSteps: 8, Seed: 1}
		spec.Eval.AtStart, spec.Eval.Every = true, 40
		spec.Train.Optim.LR = 1e-2
		n, err := spec.Normalize()
		require.NoError(t, err)
		require.Equal(t, "flow", n.Train.Schedule)
		r, err := run.Train(context.Background(), t.TempDir(), spec, run.Options{})
		require.NoError(t, err, smp)
		recs, err := r.Records()
		require.NoError(t, err)
		first, last := recs[0].Quality, recs[len(recs)-1].Quality
		t.Logf("%s: SWD %.3f untrained, %.3f after 40 steps (floor %.3f)", smp, first.Value, last.Value, last.Floor)
		require.Less(t, last.Value, first.Value, "%s: training improves the samples", smp)
		_, probes, err := r.Probe("p")
		require.NoError(t, err)
		require.Len(t, probes, 5) // steps 0, 10, …, 40
		sched, err := n.Schedule()
		require.NoError(t, err)
		require.False(t, sched.VariancePreserving())
	}
}

// x0 prediction trains on the flow schedule too (its identities hold on
// any schedule), sampled with the flow samplers.
func TestFlowScheduleX0Run(t *testing.T) {
	spec := flowSpec(40)
	spec.Train.Target = "x0"
	spec.Probes = nil
	spec.Eval.Quality = &run.QualitySpec{Samples: 256, Sampler: "flow-euler", SamplerSteps: 8, Seed: 1}
	spec.Eval.AtStart, spec.Eval.Every = true, 40
	spec.Train.Optim.LR = 1e-2
	r, err := run.Train(context.Background(), t.TempDir(), spec, run.Options{})
	require.NoError(t, err)
	recs, err := r.Records()
	require.NoError(t, err)
	require.Less(t, recs[len(recs)-1].Quality.Value, recs[0].Quality.Value)
}

// What the flow schedule refuses is a field error before any training.
func TestFlowSpecErrors(t *testing.T) {
	for field, mutate := range map[string]func(*run.Spec){
		"spec train.target":   func(s *run.Spec) { s.Train.Target = "v" },
		"spec train.schedule": func(s *run.Spec) { s.Train.ZeroTerminal = true },
		"spec eval.quality":   func(s *run.Spec) { s.Eval.Quality = &run.QualitySpec{Sampler: "ddim"} },
	} {
		s := flowSpec(10)
		mutate(&s)
		_, err := s.Normalize()
		require.ErrorIs(t, err, run.ErrInput, field)
		require.ErrorContains(t, err, field)
	}
	s := toySpec(10)
	s.Eval.Quality = &run.QualitySpec{Sampler: "flow-euler"}
	_, err := s.Normalize()
	require.ErrorContains(t, err, "integrates the flow ODE")
}
