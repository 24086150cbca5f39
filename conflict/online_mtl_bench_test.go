package conflict_test

import (
	"testing"
	"time"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// BenchmarkOnlineMTLStepVsPlain measures, for each aggregator as an online
// weighting that solves every step (mtl:NAME, 8 bins), a training step
// against a plain min-SNR-5 step of the same model size and batch
// (alternating in one run, as BenchmarkOnlineStepVsPlain: toy data, width
// 256, depth 3, batch 128), and reports the ratio online/plain.
func BenchmarkOnlineMTLStepVsPlain(b *testing.B) {
	for _, name := range []string{"upgrad", "cagrad", "nash-mtl", "pcgrad", "imtl-g"} {
		b.Run(name, func(b *testing.B) {
			sched := diffusion.Cosine(1000)
			toy, _ := data.NewToy("8gaussians")
			trainer := func(w weighting.Weighting) *diffusion.Trainer {
				net, err := nn.InitResMLP(nn.NewCPU(), nn.ResMLPConfig{Dim: 2, Width: 256, Depth: 3}, 1)
				if err != nil {
					b.Fatal(err)
				}
				cfg := diffusion.TrainConfig{Schedule: sched, Target: weighting.Eps, Weighting: w,
					Density: weighting.Stratified{Steps: 1000, K: 8}, Steps: 1 << 30, Batch: 128, Seed: 1, EvalSize: 1}
				tr, err := diffusion.NewTrainer(net, toy, toy, cfg)
				if err != nil {
					b.Fatal(err)
				}
				return tr
			}
			oc, err := conflict.ParseOnline("mtl:" + name + ",bins=8")
			if err != nil {
				b.Fatal(err)
			}
			online, plain := trainer(oc), trainer(weighting.MinSNR{Gamma: 5})
			step := func(tr *diffusion.Trainer) time.Duration {
				t0 := time.Now()
				if err := tr.StepOnce(); err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			}
			step(online)
			step(plain)
			var tOnline, tPlain time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tPlain += step(plain)
				tOnline += step(online)
			}
			b.ReportMetric(tPlain.Seconds()*1e3/float64(b.N), "ms/plain")
			b.ReportMetric(tOnline.Seconds()*1e3/float64(b.N), "ms/online")
			b.ReportMetric(tOnline.Seconds()/tPlain.Seconds(), "online/plain")
		})
	}
}
