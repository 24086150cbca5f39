package reproduce_test

import (
	"context"
	"fmt"
	"os"

	"github.com/paretodiff/paretodiff/reproduce"
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
	// [weights.png weights.csv]
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
