package demo_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/paretodiff/paretodiff/demo"
	"github.com/paretodiff/paretodiff/reproduce"
)

// Run the demo at its test size: Run measures (it trains into OUT/model
// and writes nothing else), Render draws the Result and writes the report.
// A notebook can stop between the two and look at the numbers.
func Example() {
	dir, _ := os.MkdirTemp("", "demo-example-*")
	defer os.RemoveAll(dir)
	sizes, _ := demo.SizesFor(reproduce.Smoke)
	res, err := demo.Run(context.Background(), &reproduce.Env{Scale: reproduce.Smoke, Out: dir, Seed: 1}, sizes)
	if err != nil {
		fmt.Println(err)
		return
	}
	var steps []int
	for _, p := range res.Probes {
		steps = append(steps, p.Step)
	}
	fmt.Println("probed at steps", steps)
	var pareto, closed []string
	for _, w := range res.Weightings {
		if w.Pareto {
			pareto = append(pareto, w.Name)
		} else {
			closed = append(closed, w.Name)
		}
	}
	fmt.Printf("Pareto weights: %s; closed forms: %s\n", strings.Join(pareto, ", "), strings.Join(closed, ", "))
	fw := res.Weighting("fw")
	fmt.Println("the min-norm step lowers every bin's loss:", fw.Descent.DecreasesAll)

	if err := res.Render(dir); err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range res.Files {
		fmt.Println(f)
	}
	// Output:
	// probed at steps [0 20 40 60]
	// Pareto weights: fw, ugd, fw λ, ugd λ; closed forms: constant, snr, max-snr:1, min-snr:5
	// the min-norm step lowers every bin's loss: true
	// report.md
	// weights.png
	// model/spec.json
	// model/checkpoint.bin
	// model/metrics.jsonl
	// model/probes/conflict/probes.jsonl
	// training.png
	// conflict/cosine.png
	// conflict/stats.png
	// conflict/weights.png
	// pareto.csv
	// pareto.png
	// quality.csv
	// samples.png
}
