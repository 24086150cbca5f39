// Package plots draws the toolkit's figures with gonum/plot: line panels
// (weight curves, losses and convergence traces), scatter panels of 2-D
// samples, heat maps, and grids of panels saved as one PNG, SVG or PDF file;
// and Tiles, grids of grey-scale images (generated digits) written pixel
// for pixel as PNG or embedded in SVG or PDF.
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
