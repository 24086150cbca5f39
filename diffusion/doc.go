// Package diffusion holds the variance-preserving diffusion process: noise
// schedules, forward noising, prediction targets and their conversions,
// training, sampling, datasets and metrics.
//
// The process is x_t = α_t x0 + σ_t ε with α_t² = ᾱ_t, σ_t² = 1 − ᾱ_t and
// SNR(t) = ᾱ_t/(1 − ᾱ_t), on discrete timesteps t = 0..T−1.
//
// Invariants of a Schedule:
//   - ᾱ_t is in [0, 1) and strictly decreasing in t, so SNR and log-SNR are
//     strictly decreasing;
//   - α_t² + σ_t² = 1 for every t;
//   - all values are float64 and computed once, when the schedule is built;
//   - a zero-terminal schedule has ᾱ_{T−1} = 0 exactly (SNR 0, log-SNR −∞)
//     and the same ᾱ_0 as the schedule it rescales.
package diffusion
