// Package plots draws the toolkit's figures with gonum/plot: line panels
// (weight curves, losses and convergence traces) and grids of panels saved as
// one PNG, SVG or PDF file.
//
// Invariants:
//   - the package knows nothing of diffusion or weighting: callers pass
//     numbers, names and labels;
//   - a figure is written atomically (internal/atomicfile), so a failed
//     render never leaves a half-written image;
//   - rendering is deterministic for the same input, which the golden-image
//     tests rely on; on log axes, points that are not positive and finite
//     are left out rather than failing the whole figure.
package plots
