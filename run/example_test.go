package run_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
)

// A run is a Spec and a folder: Train starts it (or resumes it, or reuses
// it), records metrics and probes through typed callbacks, and leaves a
// folder that Open reads back.
func ExampleTrain() {
	dir, _ := os.MkdirTemp("", "run-example")
	defer os.RemoveAll(dir)
	spec := run.Spec{
		Net:    nn.Spec{Kind: "resmlp", ResMLP: &nn.ResMLPConfig{Width: 16, Depth: 1}},
		Train:  diffusion.TrainSpec{Data: "toy:8gaussians", Target: "v", Weighting: "min-snr:5", Batch: 32, Seed: 1},
		Steps:  40,
		Eval:   run.EvalSpec{Every: 20},
		Probes: []conflict.ProbeSpec{{Name: "bins", Every: 20, Bins: "t:4", PerBin: 8, Methods: []string{"fw"}}},
	}
	r, err := run.Train(context.Background(), filepath.Join(dir, "toy"), spec, run.Options{
		OnRecord: func(rec run.Record) error {
			fmt.Printf("record at step %d: %d x0-MSE ranges\n", rec.Step, len(rec.X0MSE))
			return nil
		},
		OnProbe: func(name string, rec conflict.Record) error {
			fmt.Printf("probe %s at step %d: %d×%d Gram\n", name, rec.Step, rec.Gram.SymmetricDim(), rec.Gram.SymmetricDim())
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	again, _ := run.Open(r.Dir)
	fmt.Println("complete:", again.Complete, "step", again.Step, "density", again.Spec.Train.Density)

	// The same spec again, as a cache: the complete run is reused.
	cached, _ := run.Train(context.Background(), r.Dir, spec, run.Options{Existing: run.Reuse})
	fmt.Println("cached:", cached.Cached)
	// Output:
	// probe bins at step 0: 4×4 Gram
	// record at step 20: 4 x0-MSE ranges
	// probe bins at step 20: 4×4 Gram
	// record at step 40: 4 x0-MSE ranges
	// probe bins at step 40: 4×4 Gram
	// complete: true step 40 density uniform
	// cached: true
}
