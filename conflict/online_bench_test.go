package conflict_test

import (
	"testing"

	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/internal/stepbench"
	"github.com/paretodiff/paretodiff/weighting"
)

// BenchmarkOnlineStepVsPlain measures, alternating in one run, a training
// step with online Pareto weighting that solves every step (pareto:fw, 8
// bins) and a plain min-SNR-5 step of the same model size and batch (toy
// data, the train command's default width 256, depth 3, batch 128), and
// reports the ratio online/plain.
func BenchmarkOnlineStepVsPlain(b *testing.B) {
	oc, err := conflict.ParseOnline("pareto:fw,bins=8")
	if err != nil {
		b.Fatal(err)
	}
	stepbench.VsPlain(b, "online", oc, weighting.Stratified{Steps: 1000, K: 8})
}
