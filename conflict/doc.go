// Package conflict measures how the gradients of timestep bins agree or
// conflict while a diffusion model trains: per-bin gradients, their K×K Gram
// and cosine matrices, statistics over training, and the Pareto weights of
// each probe.
//
// Invariants:
//   - Bins partition the timesteps 0..T−1 into K contiguous, non-empty,
//     increasing ranges [Edges[k], Edges[k+1]).
//   - Gram matrices are float64 and symmetric; the cosine matrix is
//     C_ij = G_ij/√(G_ii G_jj), with C_ii = 1, and a bin whose gradient is
//     zero has NaN cosines off the diagonal (it neither agrees nor conflicts).
package conflict
