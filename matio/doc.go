// Package matio reads and writes real matrices and vectors as NumPy .npy
// files and headerless comma-separated .csv files, so that Gram matrices,
// per-task gradients and losses dumped from PyTorch or NumPy can be used
// directly (np.save(path, G) or np.savetxt(path, G, delimiter=",")). It
// also writes named float32/float64 tensors as a safetensors file
// (WriteSafetensors: the layout of Hugging Face's format, which
// safetensors.torch.load_file reads), for models exported to PyTorch.
//
// Reading (.npy through codeberg.org/sbinet/npyio): float32 ('<f4', '>f4')
// or float64 ('<f8', '>f8') arrays, C or Fortran order, format versions 1
// and 2. The header is parsed and checked here before npyio decodes the
// data, so a malformed file is an error, never a panic or a huge
// allocation: a shape may have at most 64 dimensions and its non-zero
// dimensions a product of at most 2⁴⁰ (every size is computed with checked
// multiplications), and the data must be exactly as long as the shape says. .csv: one matrix row per line, numbers separated by commas
// (spaces around them allowed), every line with the same number of fields,
// no header; blank lines are skipped.
//
// Invariants:
//   - every value returned is finite: NaN and ±Inf are rejected with the
//     row and column (npy, counted from 0) or line and field (csv, counted
//     from 1, as editors do) where they occur;
//   - a matrix has at least one row and one column;
//   - every error starts with "matio: " and names the file (or the name the
//     caller gave a reader) and the problem;
//   - writers replace the destination atomically (internal/atomicfile): a
//     failed write leaves no half-written file; .npy is written as
//     little-endian float64 in C order, .csv with the shortest decimal that
//     reads back to the same float64.
package matio
