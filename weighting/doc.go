// Package weighting holds closed-form loss weights of diffusion timesteps,
// timestep-sampling densities, timestep bins and the registry of weighting
// specs.
//
// Tour:
//   - Strategy is a closed form stated on the x0 loss (Constant, SNR,
//     MaxSNR, MinSNR, SoftMinSNR, InvSNR, P2, Debiased, EDM); Weight
//     converts it to the loss of any Target.
//   - Parse reads every weighting spec "name[:args]" through one registry
//     of Families: this package registers the closed forms, and other
//     packages register families computed during training (package
//     conflict: "pareto:…", package learned: "learned:…");
//     ParseStrategy accepts closed forms only. No
//     caller dispatches on a spec's prefix.
//   - Density draws training timesteps (Uniform, Stratified, LogitNormal,
//     Mode, EDMLogNormal; ParseDensity); LogitNormal and Mode are SD3's
//     densities of flow matching.
//   - Bins partitions the timesteps into contiguous bins (EqualT,
//     EqualLogSNR, FromEdges, ParseBins): the tasks of the Pareto view.
//
// Every Strategy is stated on the x0 loss ‖x0 − x̂0‖², as in the Min-SNR-γ
// paper (Hang et al., ICCV 2023, §3.4 and §4.2). Weight converts it to the loss
// of the model's prediction target using the identities
//
//	‖ε − ε̂‖² = SNR·‖x0 − x̂0‖²           so  w_ε = w_x0 / SNR
//	‖v − v̂‖² = (SNR + 1)·‖x0 − x̂0‖²      so  w_v = w_x0 / (SNR + 1)
//	‖u − û‖² = (1 + √SNR)²·‖x0 − x̂0‖²    so  w_u = w_x0 / (1 + √SNR)²
//
// The ε and x0 identities hold on every schedule x_t = α x0 + σ ε
// (SNR = α²/σ²); the v identity needs α² + σ² = 1 (variance preserving).
// The flow-matching velocity u = ε − x0 has ε − ε̂ = √SNR·(x̂0 − x0) and
// x0 − x̂0 on top, hence (1 + √SNR)² on every schedule; on the flow schedule
// x_t = (1 − t)x0 + t·ε that is 1/t², so w_u = w_x0·t² (see Weight for
// Min-SNR-γ there).
//
// Invariants:
//   - Weight(s, target, snr) · c(target, snr) == s.X0Weight(snr) for every
//     SNR > 0, where c is 1 for x0, SNR for ε, SNR+1 for v and
//     (1 + √SNR)² for flow (Target.LossScale).
//   - Where SNR == 0 (the last step of a zero-terminal-SNR schedule) the
//     weight of every strategy and target is 1, as in the official Min-SNR
//     code, because the conversion would divide by zero.
//   - Weights of the built-in strategies are finite and ≥ 0 for finite SNR ≥ 0.
//   - Every Weighting's String() is its canonical spec and Parse(w.String())
//     gives an equal weighting.
//   - Bins always satisfy 0 = Edges[0] < … < Edges[K] = T; EqualT(T, K)
//     are the strata of Stratified{T, K}.
//   - Timestep densities draw only from the *rand.Rand they are given, so a
//     seed fixes every draw.
//
// The package imports nothing from the rest of the module.
package weighting
