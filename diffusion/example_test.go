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
