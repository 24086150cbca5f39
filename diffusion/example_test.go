package diffusion_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/weighting"
)

func ExampleNewSchedule() {
	s, err := diffusion.NewSchedule("cosine", 1000, false)
	if err != nil {
		panic(err)
	}
	for _, t := range []int{0, 499, 999} {
		fmt.Printf("t=%d ᾱ=%.6f SNR=%.4g\n", t, s.AlphaBar(t), s.SNR(t))
	}
	z := s.ZeroTerminal()
	fmt.Println(z, "SNR at the end:", z.SNR(999))
	// Output:
	// t=0 ᾱ=0.999959 SNR=2.422e+04
	// t=499 ᾱ=0.493844 SNR=0.9757
	// t=999 ᾱ=0.000000 SNR=2.429e-09
	// cosine+zero-terminal SNR at the end: 0
}

// The paper's four strategies as ε-prediction loss weights over a schedule.
func ExampleSchedule_SNRs() {
	s := diffusion.Cosine(1000)
	snr := s.SNRs()
	for _, spec := range weighting.PaperStrategies {
		w := weighting.Weights(nil, weighting.MustParse(spec), weighting.Eps, snr)
		fmt.Printf("%-9s t=100: %.4f  t=900: %.4f\n", spec, w[100], w[900])
	}
	// Output:
	// constant  t=100: 0.0293  t=900: 41.3440
	// snr       t=100: 1.0000  t=900: 1.0000
	// max-snr:1 t=100: 1.0000  t=900: 41.3440
	// min-snr:5 t=100: 0.1463  t=900: 1.0000
}

// The rectified-flow schedule of T = 4 steps, unshifted and with SD3's
// shift 3: t = (i + 1)/T, α = 1 − t, σ = t, SNR = ((1 − t)/t)², and the
// velocity target's x̂0 = x_t − t·û.
func ExampleFlowSchedule() {
	for _, name := range []string{"flow", "flow:shift=3"} {
		s, err := diffusion.NewSchedule(name, 4, false)
		if err != nil {
			panic(err)
		}
		for i := range s.T() {
			fmt.Printf("%s i=%d t=%.4f α=%.4f SNR=%.4f\n", s, i, s.FlowTime(i), s.Alpha(i), s.SNR(i))
		}
	}
	s, _ := diffusion.FlowSchedule(4, 1)
	x0, eps := []float32{0.5}, []float32{-1}
	xt, u, x0hat := make([]float32, 1), make([]float32, 1), make([]float32, 1)
	diffusion.Noise(xt, x0, eps, s.Alpha(1), s.Sigma(1))
	diffusion.TargetOf(u, weighting.Flow, x0, eps, s.Alpha(1), s.Sigma(1))
	diffusion.ToX0(x0hat, weighting.Flow, u, xt, s.Alpha(1), s.Sigma(1))
	fmt.Printf("x_t=%.2f u=ε−x0=%.2f x̂0=%.2f; v on flow: %v\n", xt[0], u[0], x0hat[0], s.CheckTarget(weighting.V) != nil)
	// Output:
	// flow i=0 t=0.2500 α=0.7500 SNR=9.0000
	// flow i=1 t=0.5000 α=0.5000 SNR=1.0000
	// flow i=2 t=0.7500 α=0.2500 SNR=0.1111
	// flow i=3 t=1.0000 α=0.0000 SNR=0.0000
	// flow:shift=3 i=0 t=0.5000 α=0.5000 SNR=1.0000
	// flow:shift=3 i=1 t=0.7500 α=0.2500 SNR=0.1111
	// flow:shift=3 i=2 t=0.9000 α=0.1000 SNR=0.0123
	// flow:shift=3 i=3 t=1.0000 α=0.0000 SNR=0.0000
	// x_t=-0.25 u=ε−x0=-1.50 x̂0=0.50; v on flow: true
}
