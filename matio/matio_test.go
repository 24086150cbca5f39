package matio

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// refMatrix is the matrix make_testdata.py writes: M[i, j] = (i+1) + (j+1)/3 − 0.125·i·j.
func refMatrix() *mat.Dense {
	m := mat.NewDense(3, 4, nil)
	for i := range 3 {
		for j := range 4 {
			m.Set(i, j, float64(i+1)+float64(j+1)/3-0.125*float64(i)*float64(j))
		}
	}
	return m
}

// asFloat32 rounds every entry to float32, as numpy's astype(float32) does.
func asFloat32(m *mat.Dense) *mat.Dense {
	out := mat.DenseCopyOf(m)
	out.Apply(func(_, _ int, v float64) float64 { return float64(float32(v)) }, out)
	return out
}

func TestReadNumpyFiles(t *testing.T) {
	want := refMatrix()
	for _, c := range []struct {
		file string
		want *mat.Dense
	}{
		{"m_f8_C.npy", want},
		{"m_f8_F.npy", want},
		{"m_f8_big.npy", want},
		{"m_f4_C.npy", asFloat32(want)},
		{"m_f4_F.npy", asFloat32(want)},
		{"m_f4_big.npy", asFloat32(want)},
		{"m_savetxt.csv", want},
	} {
		got, err := ReadMatrix(filepath.Join("testdata", c.file))
		require.NoError(t, err, c.file)
		// Exact: numpy's '%.18e' text and the binary files hold the same float64 (or float32) bits.
		require.True(t, mat.Equal(c.want, got), "%s:\n%v\nwant\n%v", c.file, mat.Formatted(got), mat.Formatted(c.want))
	}
}

func TestReadVector(t *testing.T) {
	want := mat.Col(nil, 0, refMatrix())
	v, err := ReadVector(filepath.Join("testdata", "v_f8.npy"))
	require.NoError(t, err)
	require.Equal(t, want, v)
	v, err = ReadVector(filepath.Join("testdata", "col_f4.npy"))
	require.NoError(t, err)
	for i := range want {
		require.Equal(t, float64(float32(want[i])), v[i])
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"row.csv": "1, 2.5,3\n", "col.csv": "1\n2.5\n3\n"} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		v, err := ReadVector(p)
		require.NoError(t, err)
		require.Equal(t, []float64{1, 2.5, 3}, v, name)
	}
	_, err = ReadVector(filepath.Join("testdata", "m_f8_C.npy"))
	require.ErrorContains(t, err, "want a vector")
	_, err = ReadVector(filepath.Join("testdata", "m_savetxt.csv"))
	require.ErrorContains(t, err, "has 3 rows of 4 values; want a vector")
}

func TestReadErrorsNameFileAndProblem(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	good, err := os.ReadFile(filepath.Join("testdata", "m_f8_C.npy"))
	require.NoError(t, err)
	for _, c := range []struct {
		path string
		msg  string
	}{
		{filepath.Join("testdata", "nan.npy"), "row 1, column 2 (counting from 0) is NaN"},
		{filepath.Join("testdata", "inf_F.npy"), "row 2, column 0 (counting from 0) is -Inf"},
		{filepath.Join("testdata", "t3.npy"), "shape (2, 2, 2); want a 2-D matrix"},
		{filepath.Join("testdata", "i8.npy"), `dtype "<i8" is not supported`},
		{filepath.Join(dir, "missing.npy"), "no such file"},
		{filepath.Join(dir, "x.txt"), `unknown file type ".txt"`},
		{dir + "/", "unknown file type"},
		{write("trunc.npy", string(good[:len(good)-3])), "file is truncated"},
		{write("long.npy", string(good)+"x"), "file has extra bytes"},
		{write("short.npy", "\x93NUM"), "not a .npy file"},
		{write("text.npy", "1,2,3\n"), "not a .npy file"},
		{write("ver.npy", "\x93NUMPY\x09\x00"), "format version 9.0"},
		{write("hdr.npy", "\x93NUMPY\x01\x00\x05\x00{'de"), "truncated .npy header"},
		{write("dict.npy", npyBytes(1, "{'descr': ", "")), "bad .npy header: descr: expected a quoted string"},
		{write("empty.npy", npyBytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", "")), "it is empty"},
		{write("struct.npy", npyBytes(1, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1, 1), }", "")), "structured dtypes are not supported"},
		{write("empty.csv", "\n\n"), "no data"},
		{write("header.csv", "a,b\n1,2\n"), `line 1, field 1: "a" is not a number (the file must have no header)`},
		{write("ragged.csv", "1,2\n3\n"), "line 2 has 1 fields but the first row has 2"},
		{write("nan.csv", "1,2\n3, nan\n"), `line 2, field 2 (row 1, column 1 counting from 0): "nan" is not finite`},
		{write("big.csv", "1e400\n"), `"1e400" is not finite`},
		{write("quote.csv", "1,\"2\n"), "line 1"},
	} {
		_, err := ReadMatrix(c.path)
		require.Error(t, err, c.path)
		require.True(t, strings.HasPrefix(err.Error(), "matio: "), err.Error())
		require.Contains(t, err.Error(), c.path, "the error names the file")
		require.Contains(t, err.Error(), c.msg, c.path)
		require.NotContains(t, err.Error(), "\n")
	}
}

func TestWriteRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := mat.NewDense(2, 3, []float64{1, -2.5, math.Pi, 1e-300, 1.0 / 3, -0})
	for _, name := range []string{"m.npy", "m.csv"} {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, ".npy") {
			require.NoError(t, WriteNPY(p, m))
		} else {
			require.NoError(t, WriteCSV(p, m))
		}
		got, err := ReadMatrix(p)
		require.NoError(t, err)
		require.True(t, mat.Equal(m, got), name) // both formats are exact for float64
	}
	v := []float64{3, 1.5, -2}
	p := filepath.Join(dir, "v.npy")
	require.NoError(t, WriteVectorNPY(p, v))
	got, err := ReadVector(p)
	require.NoError(t, err)
	require.Equal(t, v, got)

	// A failed write leaves nothing behind and names the file.
	bad := filepath.Join(dir, "missing-dir", "m.npy")
	err = WriteNPY(bad, m)
	require.ErrorContains(t, err, "matio: cannot write "+bad)
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 3)
}

func TestDecodeFromReaders(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, EncodeCSV(&buf, refMatrix()))
	m, err := DecodeCSV(&buf, "stdin")
	require.NoError(t, err)
	require.True(t, mat.Equal(refMatrix(), m))
	raw, err := os.ReadFile(filepath.Join("testdata", "m_f4_F.npy"))
	require.NoError(t, err)
	m, err = DecodeNPY(bytes.NewReader(raw), "stdin")
	require.NoError(t, err)
	require.True(t, mat.Equal(asFloat32(refMatrix()), m))
	// A header that promises 10¹² elements with no data behind it is an
	// error, not an allocation.
	huge := npyBytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", "")
	_, err = DecodeNPY(strings.NewReader(huge), "huge")
	require.ErrorContains(t, err, "matio: huge: file is truncated")
	v, err := DecodeNPYVector(bytes.NewReader(raw[:0]), "empty")
	require.Nil(t, v)
	require.ErrorContains(t, err, "matio: empty: not a .npy file")
}

func TestHeaderVariants(t *testing.T) {
	// Headers from other writers: double quotes, no trailing comma, version 2 and 3, tabs.
	data := make([]byte, 16)
	data[6], data[7] = 0xf0, 0x3f // 1.0 little endian
	data[14], data[15] = 0x00, 0x40
	for _, hdr := range []string{
		`{"descr": "<f8", "fortran_order": False, "shape": (2, 1)}`,
		"{'shape': (1, 2), 'fortran_order': True,\t'descr': '<f8'}",
	} {
		for _, major := range []byte{1, 2, 3} {
			m, err := DecodeNPY(strings.NewReader(npyBytes(major, hdr, string(data))), "x")
			require.NoError(t, err, hdr)
			require.Equal(t, []float64{1, 2}, append(mat.Col(nil, 0, m), mat.Row(nil, 0, m)[1:]...), hdr)
		}
	}
}

// npyBytes assembles a .npy file: magic, version major.0, the header
// length, the header dictionary with its newline, and the data.
func npyBytes(major byte, dict, data string) string {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(major)
	b.WriteByte(0)
	h := dict + "\n"
	if major == 1 {
		b.Write([]byte{byte(len(h)), byte(len(h) >> 8)})
	} else {
		b.Write([]byte{byte(len(h)), byte(len(h) >> 8), 0, 0})
	}
	b.WriteString(h)
	b.WriteString(data)
	return b.String()
}

// The reader must never panic, whatever the bytes; what it returns is a
// finite, non-empty matrix.
func FuzzDecodeNPY(f *testing.F) {
	for _, name := range []string{"m_f8_C.npy", "m_f4_F.npy", "m_f8_big.npy", "v_f8.npy", "t3.npy", "nan.npy"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(raw)
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x05\x00{'de"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := DecodeNPY(bytes.NewReader(raw), "fuzz")
		if err != nil {
			require.Nil(t, m)
			require.True(t, strings.HasPrefix(err.Error(), "matio: fuzz: "), err.Error())
			return
		}
		checkFinite(t, m)
		v, err := DecodeNPYVector(bytes.NewReader(raw), "fuzz")
		if err == nil {
			require.NotEmpty(t, v)
		}
	})
}

func FuzzDecodeCSV(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "m_savetxt.csv"))
	require.NoError(f, err)
	f.Add(raw)
	for _, s := range []string{"1,2\n3,4\n", "a,b\n", "1\n\n2\n", "\"1\",2\r\n", "nan", "1e400,1", "1,2\n3\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := DecodeCSV(bytes.NewReader(raw), "fuzz")
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "matio: fuzz: "), err.Error())
			return
		}
		checkFinite(t, m)
	})
}

func checkFinite(t *testing.T, m *mat.Dense) {
	r, c := m.Dims()
	require.Positive(t, r)
	require.Positive(t, c)
	for i := range r {
		for j := range c {
			v := m.At(i, j)
			require.False(t, math.IsNaN(v) || math.IsInf(v, 0))
		}
	}
}
