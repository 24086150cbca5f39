package learned_test

import (
	"testing"

	"github.com/paretodiff/paretodiff/internal/stepbench"
	"github.com/paretodiff/paretodiff/learned"
)

// BenchmarkLearnedStepVsPlain measures, alternating in one run, a training
// step with a learned weighting (learned:mlp=128, EDM2's size, the costlier
// model of u) and a plain min-SNR-5 step of the same model size and batch
// (toy data, the train command's default width 256, depth 3, batch 128),
// and reports the ratio learned/plain.
func BenchmarkLearnedStepVsPlain(b *testing.B) {
	lc, err := learned.Parse("learned:mlp=128")
	if err != nil {
		b.Fatal(err)
	}
	stepbench.VsPlain(b, "learned", lc, nil)
}
