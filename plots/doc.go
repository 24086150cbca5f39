// Package plots draws the toolkit's figures with gonum/plot: line panels
// (weight curves, losses and convergence traces), scatter panels of 2-D
// samples, heat maps, and grids of panels saved as one PNG, SVG or PDF file;
// and Tiles, grids of grey-scale images (generated digits) written pixel
// for pixel as PNG or embedded in SVG or PDF.
//
// Every figure is drawn one way:
//   - a series has its own colour (a qualitative palette, or a sequential
//     map for ordered series such as timestep bins; none repeats within a
//     panel), dash pattern and markers, so curves that coincide stay
//     distinguishable; bands (Series.Lo, Hi) lie under every line, and
//     reference lines (Series.Reference) are thin grey dots;
//   - a legend sits where it hides no data, found from what the panel
//     draws, or right of the plot area, or once below a grid whose panels
//     share their series (Grid.SharedLegend);
//   - a grid lines up its panels' plot areas, centres each title over its
//     plot area, on one line per row, and lines up the axis labels;
//   - ticks fall at nice steps with no more decimals than the step needs,
//     integers on integer axes (Ticks), and at 1, 2, 5 or powers of ten on
//     log axes (LogTicks);
//   - text uses gonum's font, Liberation Serif; MissingGlyphs tells which
//     runes it lacks, and a test checks every label of the module against
//     it.
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
