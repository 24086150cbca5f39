// Package weighting holds closed-form loss weights of diffusion timesteps and
// timestep-sampling densities.
//
// Every Strategy is stated on the x0 loss ‖x0 − x̂0‖², as in the Min-SNR-γ
// paper (Hang et al., ICCV 2023, §3.4 and §4.2). Weight converts it to the loss
// of the model's prediction target using the identities
//
//	‖ε − ε̂‖² = SNR·‖x0 − x̂0‖²       so  w_ε = w_x0 / SNR
//	‖v − v̂‖² = (SNR + 1)·‖x0 − x̂0‖²  so  w_v = w_x0 / (SNR + 1)
//
// Invariants:
//   - Weight(s, target, snr) · c(target, snr) == s.X0Weight(snr) for every
//     SNR > 0, where c is 1 for x0, SNR for ε and SNR+1 for v.
//   - Where SNR == 0 (the last step of a zero-terminal-SNR schedule) the
//     weight of every strategy and target is 1, as in the official Min-SNR
//     code, because the conversion would divide by zero.
//   - Weights of the built-in strategies are finite and ≥ 0 for finite SNR ≥ 0.
//   - Strategy.String() is the canonical spec and Parse(s.String()) gives an
//     equal strategy.
//   - Timestep densities draw only from the *rand.Rand they are given, so a
//     seed fixes every draw.
//
// The package imports nothing from the rest of the module.
package weighting
