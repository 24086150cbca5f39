package learned_test

import (
	"testing"
	"time"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/learned"
	"github.com/paretodiff/paretodiff/weighting"
)

// BenchmarkLearnedStepVsPlain measures, alternating in one run, a training
// step with a learned weighting (learned:mlp=128, EDM2's size, the costlier
// model of u) and a plain min-SNR-5 step of the same model size and batch
// (toy data, the train command's default width 256, depth 3, batch 128),
// and reports the ratio learned/plain.
func BenchmarkLearnedStepVsPlain(b *testing.B) {
	sched := diffusion.Cosine(1000)
	toy, _ := data.NewToy("8gaussians")
	trainer := func(w weighting.Weighting) *diffusion.Trainer {
		net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 256, Depth: 3}, 1)
		if err != nil {
			b.Fatal(err)
		}
		cfg := diffusion.TrainConfig{Schedule: sched, Target: weighting.Eps, Weighting: w, Steps: 1 << 30, Batch: 128, Seed: 1, EvalSize: 1}
		tr, err := diffusion.NewTrainer(net, toy, toy, cfg)
		if err != nil {
			b.Fatal(err)
		}
		return tr
	}
	lc, err := learned.Parse("learned:mlp=128")
	if err != nil {
		b.Fatal(err)
	}
	lt, plain := trainer(lc), trainer(weighting.MinSNR{Gamma: 5})
	step := func(tr *diffusion.Trainer) time.Duration {
		t0 := time.Now()
		if err := tr.StepOnce(); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	step(lt)
	step(plain)
	var tLearned, tPlain time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tPlain += step(plain)
		tLearned += step(lt)
	}
	b.ReportMetric(tPlain.Seconds()*1e3/float64(b.N), "ms/plain")
	b.ReportMetric(tLearned.Seconds()*1e3/float64(b.N), "ms/learned")
	b.ReportMetric(tLearned.Seconds()/tPlain.Seconds(), "learned/plain")
}
