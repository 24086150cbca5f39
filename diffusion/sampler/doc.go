// Package sampler draws samples from a trained diffusion.Denoiser on a
// discrete schedule: on a variance-preserving one DDPM ancestral sampling
// and DDIM with η; on the flow schedule (rectified flow) the Euler and Heun
// methods of the flow ODE dx/dt = u (FlowEuler, FlowHeun); on both EDM's
// deterministic Heun sampler on the σ grid of the discrete model. It also
// holds GaussianMixture, a data distribution whose optimal denoiser is
// closed form (OptimalDenoiser), the reference its tests use.
//
// Invariants:
//   - DDPM and DDIM refuse the flow schedule and FlowEuler and FlowHeun a
//     VP one, with an error naming the samplers that fit;
//   - a denoiser of any target (ε, x0, v, flow) is converted with diffusion.ToX0
//     and diffusion.ToEps, never by assuming ε (the paper's released sampler
//     treats every non-x0 output as ε);
//   - every sampler starts from pure noise at the noisiest timestep T−1 and
//     its last step returns x̂0, the prediction of the clean sample;
//   - timesteps are respaced (Timesteps, KarrasTimesteps): a strictly
//     descending subsequence of 0..T−1 whose ᾱ values are used exactly;
//   - the same *rand.Rand state, settings, schedule and denoiser give the
//     same samples bit for bit; every row draws its noise from its own PCG
//     generator seeded from the caller's rng, so neither the batch size nor
//     the number of rows changes a row's sample;
//   - the denoiser is called from one goroutine, batch after batch;
//   - on a zero-terminal or flow schedule (α_{T−1} = 0) nothing divides by α there;
//     ε-prediction is refused with ErrEpsAtZeroSNR, because x̂0 is undefined;
//   - samples are float32 rows (N, D); coefficients are float64 and each
//     update is computed in float64 before rounding.
package sampler
