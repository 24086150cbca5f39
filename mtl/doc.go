// Package mtl holds the Gram-based multi-task aggregators — PCGrad,
// CAGrad, IMTL-G, Nash-MTL, Aligned-MTL, UPGrad, DualProj, GradVac and the
// mean — next to the paper's MGDA/Pareto solvers (package solvers), all
// behind one interface, so that they can be compared on the same tasks
// (for paretodiff: timestep bins; Hang et al., ICCV 2023, §3.3).
//
// Each method is a weighting of the K task gradients g_k computed from
// their K×K Gram G_ij = ⟨g_i, g_j⟩ alone, in the spirit of TorchJD's
// weightings: the combined update direction is d = Σ_k w_k g_k, and every
// quantity the methods need — projections, cosines, norms — is an
// expression in G and w, so no vector of the parameter space is formed.
//
// Tour:
//   - New(name, Config) returns an Aggregator; Names lists every name
//     (Aggregators, then the solvers' names), Config holds each method's
//     hyper-parameters (zero: the documented defaults) and ParseOptions
//     reads them from "c=0.5,seed=1".
//   - Aggregator.Aggregate(p) takes a pareto.Problem — built from a Gram or
//     from gradients, after an optional normaliser — and returns a Result:
//     the weights W, the Eq. 8 check Inner_k = (GW)_k = ⟨d, g_k⟩ with its
//     minimum, ‖d‖ = √(WᵀGW), W rescaled to sum 1 (Normalized, OnSimplex)
//     and the paper's Eq. 11 objective and duality gap of that point
//     (pareto.Problem.Objective and Gap, with the problem's λ).
//   - Evaluate(p, name, w) gives the same certificate for any weighting,
//     such as a closed form (Min-SNR-γ's weights on bins).
//   - One method per file: mean.go, pcgrad.go, cagrad.go, imtlg.go,
//     nash.go, aligned.go, upgrad.go (UPGrad and DualProj, both on
//     dualcone.go's projection onto the dual cone), gradvac.go, and
//     solver.go (the solvers of package solvers). order.go draws PCGrad's
//     and GradVac's seeded orders (call n's from (seed, n): Sequenced),
//     eigen.go the pseudo-inverses. GradVac's EMA targets are its state
//     (Stateful), which package conflict saves in training checkpoints;
//     it can weigh some of its tasks, keeping the others' targets
//     (TaskSubset: an empty bin of a training batch).
//
// The methods act on the problem's (normalised) Gram without λ; λ enters
// only the solvers' minimisation and the Eq. 11 objective of the results.
//
// Invariants:
//   - Result.W has K finite entries; Inner = GW, NormSq = WᵀGW ≥ 0 and
//     MinInner = min_k Inner_k are recomputed from W by Evaluate, so the
//     certificate holds for the returned weights whatever the method did;
//   - Normalized sums to 1 when present; Objective and Gap are those of
//     Normalized, and Gap is finite only when OnSimplex;
//   - UPGrad and DualProj never conflict with a task: MinInner ≥ −tol
//     (rounding in the units of G); their weights and PCGrad's, CAGrad's,
//     Nash-MTL's, GradVac's and the solvers' are ≥ 0 (OnSimplex);
//   - every method but Nash-MTL gives the same weights for G and sG
//     (s > 0); Nash-MTL's scale by 1/√s, so its Normalized is unchanged;
//   - permuting the tasks permutes the weights (PCGrad's and GradVac's with
//     their orders permuted alike);
//   - runs are deterministic: the same problem, configuration and call
//     sequence give the same bits (PCGrad and GradVac from Config.Seed and
//     the call index, whatever calls came before; GradVac also from its
//     state, which State and SetState carry exactly);
//   - a cap is a status, as in package solvers: an iterative method
//     (CAGrad's root finder, Nash-MTL's Newton steps, UPGrad's and
//     DualProj's active sets) that reaches Config.MaxIter says
//     "iteration-limit", never "converged", and returns its last iterate
//     with that iterate's certificate;
//   - bad input (an unknown name, invalid options, GradVac given a
//     different K) is an error; a nil problem is a programmer error.
package mtl
