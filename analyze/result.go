package analyze

import (
	"github.com/paretodiff/paretodiff/conflict"
	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/pareto"
)

// Result is everything Analyze computed from one probe log; Render draws
// it and writes the report from it alone.
type Result struct {
	// Dir is the log's folder, as given.
	Dir string
	// Info is the log's header and Schedule the noise schedule it names.
	Info     conflict.Info
	Schedule *diffusion.Schedule
	// Records are the log's probes in order, each with its Stats
	// recomputed from its Gram matrix (conflict.Summarize).
	Records []conflict.Record
	// Methods are the methods solved, Closed the closed forms (weights on
	// the bins' task losses, summing to 1) and Normalizer the gradient
	// normaliser of every solve.
	Methods    []string
	Closed     []conflict.ClosedForm
	Normalizer pareto.Normalizer
	// LambdaRule says how the λ of the weights "with λ" was chosen.
	LambdaRule string
	// Weights are every method's weights at every probe, without and with
	// λ, in the order of Records.
	Weights []ProbeWeights
	// Plain and WithLambda are the methods tables of the last probe at
	// λ = 0 and at its λ: every method and closed form on the Eq. 11
	// objective and the Eq. 8 check (conflict.CompareProbe).
	Plain, WithLambda conflict.MethodTable
}

// ProbeWeights are the weights of every method at one probe.
type ProbeWeights struct {
	// Step is the probe's step and Lambda the λ of WithLambda.
	Step   int
	Lambda float64
	// Plain are the methods' solutions at λ = 0 and WithLambda at Lambda,
	// in the order of Result.Methods; their weights are on the bins' task
	// losses (conflict.RawWeights of the normalised problem's).
	Plain, WithLambda []conflict.Solution
}

// Last returns the last probe.
func (r *Result) Last() conflict.Record { return r.Records[len(r.Records)-1] }
