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
