package diffusion_test

import (
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/data"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// benchTrainStep measures one training step (draw, forward, backward,
// AdamW, EMA) of a ResMLP on the CPU backend.
func benchTrainStep(b *testing.B, ds diffusion.Dataset, width, depth, batch int) {
	benchTrainStepConfig(b, ds, nn.ResMLPConfig{Dim: ds.Dim(), Width: width, Depth: depth}, batch)
}

func benchTrainStepConfig(b *testing.B, ds diffusion.Dataset, cfg nn.ResMLPConfig, batch int) {
	net, err := nn.InitResMLP(nn.NewCPU(), cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	benchTrainStepNet(b, ds, net, batch)
}

// benchTrainStepNet measures one training step of net.
func benchTrainStepNet(b *testing.B, ds diffusion.Dataset, net nn.Network, batch int) {
	tr, err := diffusion.NewTrainer(net, ds, ds, diffusion.TrainConfig{
		Schedule: diffusion.Cosine(1000), Target: weighting.Eps, Weighting: weighting.MustParse("min-snr:5"),
		Steps: 1 << 30, Batch: batch, Seed: 1, EvalSize: 1,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tr.StepOnce(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

func BenchmarkTrainStepToy_W64_D2_B128(b *testing.B) {
	toy, _ := data.NewToy("8gaussians")
	benchTrainStep(b, toy, 64, 2, 128)
}

func BenchmarkTrainStepToy_W256_D3_B256(b *testing.B) {
	toy, _ := data.NewToy("8gaussians")
	benchTrainStep(b, toy, 256, 3, 256)
}

func BenchmarkTrainStepMNIST_W256_D3_B128(b *testing.B) {
	train, _, err := data.Open("mnist", "")
	if err != nil {
		b.Skip(err)
	}
	benchTrainStep(b, train, 256, 3, 128)
}

// The MNIST default of train for ε and v targets: both input skips (the
// learned one a 784×784 layer).
func BenchmarkTrainStepMNISTSkips_W256_D3_B128(b *testing.B) {
	train, _, err := data.Open("mnist", "")
	if err != nil {
		b.Skip(err)
	}
	benchTrainStepConfig(b, train, nn.ResMLPConfig{Dim: train.Dim(), Width: 256, Depth: 3, SigmaData: 0.5, Skip: true}, 128)
}

func BenchmarkTrainStepToy_W128_D3_B128(b *testing.B) {
	toy, _ := data.NewToy("8gaussians")
	benchTrainStep(b, toy, 128, 3, 128)
}

// The DiT "small" preset (nn.DiTPreset) on MNIST: 49 tokens of 4×4 pixels,
// width 64, depth 4, 4 heads.
func BenchmarkTrainStepMNIST_DiTSmall_B128(b *testing.B) {
	train, _, err := data.Open("mnist", "")
	if err != nil {
		b.Skip(err)
	}
	cfg, err := nn.DiTPreset("small")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Side = 28
	net, err := nn.InitDiT(nn.NewCPU(), cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	benchTrainStepNet(b, train, net, 128)
}
