package matio

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio"
	"github.com/paretodiff/paretodiff/internal/atomicfile"
	"gonum.org/v1/gonum/mat"
)

// Format is a file format known by its extension.
type Format int

const (
	// NPY is NumPy's .npy format.
	NPY Format = iota + 1
	// CSV is headerless comma-separated text, .csv.
	CSV
)

// FormatOf returns the format of path from its extension (.npy or .csv,
// any case).
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		return NPY, nil
	case ".csv":
		return CSV, nil
	}
	return 0, fmt.Errorf("matio: %s: unknown file type %q (want .npy or .csv)", path, filepath.Ext(path))
}

// ReadMatrix reads a matrix from a .npy or .csv file, chosen by the
// extension.
func ReadMatrix(path string) (*mat.Dense, error) {
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if f == NPY {
		return ReadNPY(path)
	}
	return ReadCSV(path)
}

// ReadVector reads a vector from a .npy file (shape (n,), (n, 1) or
// (1, n)) or a .csv file (a single row or a single column).
func ReadVector(path string) ([]float64, error) {
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if f == NPY {
		a, err := readNPYFile(path)
		if err != nil {
			return nil, err
		}
		v, err := a.vector()
		return v, wrap(path, err)
	}
	m, err := ReadCSV(path)
	if err != nil {
		return nil, err
	}
	v, err := csvVector(m)
	return v, wrap(path, err)
}

// ReadNPY reads a 2-D float32 or float64 .npy file (C or Fortran order) as
// a float64 matrix.
func ReadNPY(path string) (*mat.Dense, error) {
	a, err := readNPYFile(path)
	if err != nil {
		return nil, err
	}
	m, err := a.matrix()
	return m, wrap(path, err)
}

// ReadCSV reads a headerless comma-separated file as a matrix, one row per
// non-blank line.
func ReadCSV(path string) (*mat.Dense, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, wrap(path, openError(err))
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, wrap(path, errors.New("is a directory"))
	}
	return DecodeCSV(f, path)
}

// DecodeCSV reads a headerless comma-separated matrix from r; name is used
// in errors.
func DecodeCSV(r io.Reader, name string) (*mat.Dense, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var data []float64
	cols, rows := 0, 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, wrap(name, fmt.Errorf("line %d: %v", pe.Line, pe.Err))
			}
			return nil, wrap(name, err)
		}
		line, _ := cr.FieldPos(0)
		if rows == 0 {
			cols = len(rec)
		} else if len(rec) != cols {
			return nil, wrap(name, fmt.Errorf("line %d has %d fields but the first row has %d", line, len(rec), cols))
		}
		for j, field := range rec {
			s := strings.TrimSpace(field)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				hint := ""
				if rows == 0 {
					hint = " (the file must have no header)"
				}
				return nil, wrap(name, fmt.Errorf("line %d, field %d: %q is not a number%s", line, j+1, clip(s), hint))
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, wrap(name, fmt.Errorf("line %d, field %d (row %d, column %d counting from 0): %q is not finite", line, j+1, rows, j, clip(s)))
			}
			data = append(data, v)
		}
		rows++
	}
	if rows == 0 {
		return nil, wrap(name, errors.New("no data"))
	}
	return mat.NewDense(rows, cols, data), nil
}

// clip shortens a field for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// csvVector accepts a single row or a single column.
func csvVector(m *mat.Dense) ([]float64, error) {
	r, c := m.Dims()
	switch {
	case c == 1:
		return mat.Col(nil, 0, m), nil
	case r == 1:
		return mat.Row(nil, 0, m), nil
	}
	return nil, fmt.Errorf("has %d rows of %d values; want a vector (one row or one column)", r, c)
}

// WriteNPY writes m as a little-endian float64 C-order .npy file, replacing
// path atomically. numpy.load reads it.
func WriteNPY(path string, m mat.Matrix) error {
	d := mat.DenseCopyOf(m)
	return write(path, func(w io.Writer) error { return npyio.Write(w, d) })
}

// WriteVectorNPY writes v as a 1-D little-endian float64 .npy file of shape
// (n,), replacing path atomically.
func WriteVectorNPY(path string, v []float64) error {
	return write(path, func(w io.Writer) error { return npyio.Write(w, v) })
}

// WriteCSV writes m as a headerless .csv file, one row per line, each value
// the shortest decimal that reads back to the same float64; path is replaced
// atomically.
func WriteCSV(path string, m mat.Matrix) error {
	return write(path, func(w io.Writer) error { return EncodeCSV(w, m) })
}

// write runs atomicfile.Write and gives its errors the package prefix.
func write(path string, fn func(io.Writer) error) error {
	err := atomicfile.Write(path, func(w io.Writer) error {
		if err := fn(w); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("matio: %w", err)
	}
	return nil
}

// EncodeCSV writes m to w as headerless comma-separated rows.
func EncodeCSV(w io.Writer, m mat.Matrix) error {
	r, c := m.Dims()
	var b []byte
	for i := range r {
		b = b[:0]
		for j := range c {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, m.At(i, j), 'g', -1, 64)
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
