package weighting_test

import (
	"fmt"

	"github.com/paretodiff/paretodiff/weighting"
)

// Min-SNR-5 on a v-prediction model: min(SNR, 5)/(SNR + 1).
func ExampleWeight() {
	s, err := weighting.ParseStrategy("min-snr:5")
	if err != nil {
		panic(err)
	}
	for _, snr := range []float64{0.25, 4, 100} {
		fmt.Printf("SNR %-5g eps %.4f  x0 %.4f  v %.4f\n", snr,
			weighting.Weight(s, weighting.Eps, snr),
			weighting.Weight(s, weighting.X0, snr),
			weighting.Weight(s, weighting.V, snr))
	}
	// Output:
	// SNR 0.25  eps 1.0000  x0 0.2500  v 0.2000
	// SNR 4     eps 1.0000  x0 4.0000  v 0.8000
	// SNR 100   eps 0.0500  x0 5.0000  v 0.0495
}

func ExampleParse() {
	for _, spec := range []string{"min-snr", "truncated-snr", "p2:1,0.5", "min-snr:-2"} {
		s, err := weighting.Parse(spec)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(s)
	}
	// Output:
	// min-snr:5
	// max-snr:1
	// p2:1,0.5
	// error: weighting: strategy "min-snr:-2": γ must be positive, got -2
}

func ExampleParseDensity() {
	d, err := weighting.ParseDensity("stratified:4", 1000, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(d, weighting.MustEqualT(1000, 4).Edges)
	// Output: stratified:4 [0 250 500 750 1000]
}

// Bins of equal width in t, and their labels.
func ExampleEqualT() {
	b := weighting.MustEqualT(1000, 4)
	fmt.Println(b.K(), b.Edges, b.Labels(), b.Of(499), b)
	// Output:
	// 4 [0 250 500 750 1000] [0-249 250-499 500-749 750-999] 1 edges:0,250,500,750,1000
}

// Min-SNR-5 on a flow-matching model's velocity loss: min(SNR, 5)·t² with
// SNR = ((1 − t)/t)², i.e. 5t² while the cap acts (t < 1/(1 + √5) ≈ 0.309)
// and (1 − t)² above.
func ExampleWeight_flowMatching() {
	s := weighting.MinSNR{Gamma: 5}
	for _, t := range []float64{0.1, 0.309, 0.5, 0.9} {
		snr := (1 - t) * (1 - t) / (t * t)
		fmt.Printf("t %-5g SNR %-7.4f flow %.4f  min(SNR,5)·t² %.4f\n", t, snr,
			weighting.Weight(s, weighting.Flow, snr), min(snr, 5)*t*t)
	}
	// Output:
	// t 0.1   SNR 81.0000 flow 0.0500  min(SNR,5)·t² 0.0500
	// t 0.309 SNR 5.0008  flow 0.4774  min(SNR,5)·t² 0.4774
	// t 0.5   SNR 1.0000  flow 0.2500  min(SNR,5)·t² 0.2500
	// t 0.9   SNR 0.0123  flow 0.0100  min(SNR,5)·t² 0.0100
}

// SD3's mode density concentrates the training timesteps in the middle.
func ExampleMode() {
	d, err := weighting.ParseDensity("mode:1.29", 10, nil)
	if err != nil {
		panic(err)
	}
	for t, p := range d.PMF() {
		fmt.Printf("%d:%.3f ", t, p)
	}
	fmt.Println()
	// Output:
	// 0:0.047 1:0.055 2:0.069 3:0.100 4:0.230 5:0.230 6:0.100 7:0.069 8:0.055 9:0.047
}
