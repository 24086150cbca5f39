package reproduce_test

import (
	"context"
	"fmt"
	"os"

	"github.com/paretodiff/paretodiff/reproduce"
	"gonum.org/v1/gonum/mat"
)

// Run one target into a folder and read its verdict and files; the
// report is in OUT/weights/report.md.
func ExampleRunTarget() {
	dir, _ := os.MkdirTemp("", "reproduce-example-*")
	defer os.RemoveAll(dir)
	t, _ := reproduce.Lookup("weights")
	r, err := reproduce.RunTarget(context.Background(), &reproduce.Env{Scale: reproduce.Quick, Out: dir, Seed: 1}, t)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Overall())
	fmt.Println(r.Files)
	// Output:
	// agrees
	// [weights.png weights.csv weights_flow.png weights_flow.csv]
}

// Train (or load from OUT/models) the models of two strategies and compare
// how fast they reach each other's final quality: the building blocks of
// fig5, usable on their own.
func ExampleTrainGrid() {
	dir, _ := os.MkdirTemp("", "reproduce-example-*")
	defer os.RemoveAll(dir)
	env := &reproduce.Env{Scale: reproduce.Smoke, Out: dir, Seed: 1}
	sizes := reproduce.ModelSizesFor(reproduce.Smoke)
	g, err := reproduce.TrainGrid(context.Background(), env, "example", sizes, []string{"v"}, []string{"snr", "min-snr:5"})
	if err != nil {
		fmt.Println(err)
		return
	}
	steps, minSNR := g.MeanQuality("v", "min-snr:5")
	_, snr := g.MeanQuality("v", "snr")
	s := reproduce.SpeedUpOver(steps, minSNR, snr, 0)
	fmt.Println(len(steps), "evaluations at steps", steps)
	fmt.Println("speed-up is finite:", s.Ratio > 0)
	// Output:
	// 2 evaluations at steps [20 40]
	// speed-up is finite: true
}

// How far apart are the weights solved from independent draws? The mean
// pairwise L1 distance, with a jackknife standard error over the draws:
// fig3's stability measure.
func ExampleDispersion() {
	draws := [][]float64{
		{0.50, 0.30, 0.20},
		{0.45, 0.35, 0.20},
		{0.55, 0.25, 0.20},
		{0.50, 0.30, 0.20},
	}
	m, se := reproduce.Dispersion(draws)
	fmt.Printf("mean L1 distance %.3f ± %.3f\n", m, se)
	// Output:
	// mean L1 distance 0.100 ± 0.058
}

// The Eq. 11 objective wᵀ(G + λI)w of two weightings of two bins (uniform
// and all on the first bin) and of the weights ugd solves, next to the
// optimum f* (fig4's comparison on one Gram matrix).
func ExampleWeightingObjectives() {
	g := mat.NewSymDense(2, []float64{1, 0.5, 0.5, 4})
	f, w, fstar, err := reproduce.WeightingObjectives(g, 0.5, [][]float64{{1, 1}, {1, 0}}, []string{"ugd"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("uniform %.3f, first bin %.3f, ugd %.3f at w = %.3f; optimum %.3f\n", f[0], f[1], f[2], w[2], fstar)
	// Output:
	// uniform 1.750, first bin 1.500, ugd 1.300 at w = [0.800 0.200]; optimum 1.300
}
