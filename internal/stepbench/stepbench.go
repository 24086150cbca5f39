// Package stepbench times a training step with one weighting against a plain
// min-SNR-5 step of the same model, for the benchmarks of the weightings that
// add work to a step (package conflict's online pareto: and mtl:, package
// learned). It is imported by benchmarks only.
package stepbench

import (
	"testing"
	"time"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// VsPlain measures, alternating in one run so that both see the same load, a
// training step with weighting w and a plain min-SNR-5 step of the same
// network and batch (toy 8gaussians, ε target, the train command's default
// width 256 and depth 3, batch 128, timesteps drawn from density, nil for
// uniform), after one warm-up step each, and reports ms/plain, ms/LABEL and
// the ratio LABEL/plain.
func VsPlain(b *testing.B, label string, w weighting.Weighting, density weighting.Density) {
	b.Helper()
	w0, plain := trainer(b, w, density), trainer(b, weighting.MinSNR{Gamma: 5}, density)
	step := func(tr *diffusion.Trainer) time.Duration {
		t0 := time.Now()
		if err := tr.StepOnce(); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	step(w0)
	step(plain)
	var tW, tPlain time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tPlain += step(plain)
		tW += step(w0)
	}
	b.ReportMetric(tPlain.Seconds()*1e3/float64(b.N), "ms/plain")
	b.ReportMetric(tW.Seconds()*1e3/float64(b.N), "ms/"+label)
	b.ReportMetric(tW.Seconds()/tPlain.Seconds(), label+"/plain")
}

// trainer returns a trainer of the benchmark's network with weighting w.
func trainer(b *testing.B, w weighting.Weighting, density weighting.Density) *diffusion.Trainer {
	b.Helper()
	toy, err := data.NewToy("8gaussians")
	if err != nil {
		b.Fatal(err)
	}
	net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 256, Depth: 3}, 1)
	if err != nil {
		b.Fatal(err)
	}
	cfg := diffusion.TrainConfig{Schedule: diffusion.Cosine(1000), Target: weighting.Eps, Weighting: w,
		Density: density, Steps: 1 << 30, Batch: 128, Seed: 1, EvalSize: 1}
	tr, err := diffusion.NewTrainer(net, toy, toy, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return tr
}
