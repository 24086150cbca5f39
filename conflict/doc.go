// Package conflict measures how the gradients of timestep bins agree or
// conflict while a diffusion model trains, solves the Pareto weighting of
// the bins from them (Hang et al., ICCV 2023, §3.3), and uses it as an
// online training weighting.
//
// Tour:
//   - The tasks are timestep bins (weighting.Bins).
//   - Probe measures a model: a batch stratified into the bins, one forward
//     and backward pass (gram.Pass, the per-example "ghost" identity), the
//     K×K Gram of the bins' task-loss gradients over all parameters or a
//     subset (ParseParams), its cosine matrix (gram.Cosine), Stats
//     (Summarize) and the weights of every probe from each method
//     (SolveConfig: the Pareto solvers of package solvers and the
//     multi-task aggregators of package mtl, by name). ProbeSpec is a probe as a file holds it; package
//     run takes one every N steps while a model trains.
//   - The Gram of PerBin examples per bin is, by default (gram.Plain), that
//     of the full bins, whose diagonal carries each bin's sampling noise
//     tr Σ_k/n; ProbeConfig.Estimator gram.Split (ProbeSpec.GramEstimator
//     "split") makes it the split-half estimate of the bins' halves
//     (gram.Pass.RunSplit), unbiased, projected to the nearest PSD matrix,
//     and records each bin's signal fraction and the projection's
//     statistics (Record.Signal, Record.Projection).
//   - Log writes the time series crash-safely (JSONL + NPY matrices);
//     ReadLog reads it back; WriteFigures draws cosine heat maps,
//     statistics over training and the Pareto weights next to closed forms
//     normalised by BinWeights (BinWeightsOf for any per-timestep weight,
//     such as package learned's).
//   - CompareMethods puts every method's weighting of one probe's bins
//     next to closed forms (ClosedForms), each with the Eq. 11 objective
//     and the Eq. 8 check, as a typed MethodTable that Markdown and
//     WriteCSV render (WriteFiles: the conflict command's methods.md and
//     methods.csv). CompareProbe does it for a probe of a log, with the
//     schedule, task loss and normaliser its Info names (NoiseSchedule,
//     TaskStrategy, Norm); package analyze and the conflict command use it.
//     RelativeLambda is a λ relative to a Gram's mean diagonal.
//   - Online is the paper's optimisation-based baseline as a training
//     weighting: the "pareto" family of the weighting registry
//     (weighting.Parse("pareto:fw") gives an OnlineConfig, which the
//     trainer starts; paretodiff train --weighting pareto:fw), and the
//     "mtl" family the same machinery with a multi-task aggregator
//     (mtl:upgrad). Online is a diffusion.StatePass (online_state.go): its
//     last weights and a stateful aggregator's state are in every
//     checkpoint.
//
// The per-bin task loss is, by default, the paper's: the bin's mean
// unweighted x0-MSE ‖x0 − x̂0‖²/D of the model's x0 prediction, whatever
// the model's target (ProbeConfig.Task changes it).
//
// Invariants:
//   - Gram matrices are float64 and symmetric (and PSD with the split
//     estimator: the cosines, statistics and Pareto weights of a split
//     probe are those of the projected estimate); the cosine matrix is
//     C_ij = G_ij/√(G_ii G_jj), with C_ii = 1, and a bin whose gradient is
//     zero has NaN cosines off the diagonal (it neither agrees nor conflicts).
//   - Weights (Solution.W, MethodRow.W, Online.Weights) sum to 1, one per
//     bin, and weigh the bins' task losses; they are ≥ 0 (on the simplex)
//     for the Pareto solvers and every aggregator but imtl-g and
//     aligned-mtl, whose weights may be negative.
//   - Probe batches depend only on the seed and the step (StreamProbe),
//     and so do the online PCGrad's and GradVac's orders (mtl.Sequenced);
//     a resumed online run is bit-identical to an uninterrupted one.
//   - Files are replaced atomically; a log's JSONL only ever holds complete
//     records whose matrices exist. A plain probe's log has the bytes it had
//     before the estimator option (no gram_estimator, signal or projection
//     key), and a log without them reads as plain; a probe without
//     aggregator options has no mtl_options key in its spec or info.
package conflict
