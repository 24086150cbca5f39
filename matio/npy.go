package matio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

// maxHeaderLen bounds the .npy header we accept (numpy writes < 200 bytes;
// format 1.0 allows 65535).
const maxHeaderLen = 1 << 20

// maxElems bounds the element count of an array we accept (2⁴⁰), and the
// product of its non-zero dimensions, so that no size computed from a
// header overflows (2⁴⁰ float64 values are 2⁴³ bytes).
const maxElems = 1 << 40

// maxDims bounds the number of dimensions (numpy allows 64).
const maxDims = 64

// npyHeader is the parsed dictionary of a .npy header.
type npyHeader struct {
	descr   string // '<f8', '>f4', …
	fortran bool
	shape   []int
	esize   int   // bytes per element
	n       int   // number of elements, the product of shape
	nbytes  int64 // bytes of data, n·esize
	hdrSize int64 // bytes before the data
}

// elems returns the number of elements.
func (h *npyHeader) elems() int { return h.n }

// shapeElems returns the number of elements of an array of the given
// shape. Every dimension must be in [0, maxElems], there may be at most
// maxDims of them, and the product of the non-zero ones (whatever their
// order) must not exceed maxElems; each multiplication is checked before it
// is made, so the count never overflows.
func shapeElems(shape []int) (int, error) {
	if len(shape) > maxDims {
		return 0, fmt.Errorf("shape has %d dimensions (at most %d)", len(shape), maxDims)
	}
	n, zero := int64(1), false
	for _, d := range shape {
		switch {
		case d < 0:
			return 0, fmt.Errorf("dimension %d is negative", d)
		case d == 0:
			zero = true
			continue
		case int64(d) > maxElems:
			return 0, fmt.Errorf("dimension %d is too large (at most %d)", d, int64(maxElems))
		}
		if n > maxElems/int64(d) {
			return 0, fmt.Errorf("shape %s has too many elements (at most %d)", shapeString(shape), int64(maxElems))
		}
		n *= int64(d)
	}
	if zero {
		return 0, nil
	}
	if n > int64(math.MaxInt) {
		return 0, fmt.Errorf("shape %s has more elements than this platform can index", shapeString(shape))
	}
	return int(n), nil
}

// mulBytes returns n·esize, or an error if it overflows int64.
func mulBytes(n, esize int) (int64, error) {
	if n < 0 || esize <= 0 || int64(n) > math.MaxInt64/int64(esize) {
		return 0, fmt.Errorf("%d elements of %d bytes overflow the data size", n, esize)
	}
	return int64(n) * int64(esize), nil
}

func (h *npyHeader) shapeString() string { return shapeString(h.shape) }

func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// readNPYHeader reads and checks the magic string, version and header
// dictionary.
func readNPYHeader(r *bufio.Reader) (*npyHeader, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, errors.New("not a .npy file: too short for the header")
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, errors.New(`not a .npy file: it does not start with "\x93NUMPY"`)
	}
	major := pre[6]
	var hlen int64
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errors.New("truncated .npy header")
		}
		hlen = int64(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errors.New("truncated .npy header")
		}
		hlen = int64(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf(".npy format version %d.%d is not supported (want 1.x, 2.x or 3.x)", major, pre[7])
	}
	if hlen > maxHeaderLen {
		return nil, fmt.Errorf(".npy header claims %d bytes (more than %d)", hlen, maxHeaderLen)
	}
	// Read the header through a limited reader so a bogus length cannot
	// allocate more than the file holds.
	var hb bytes.Buffer
	if n, _ := io.Copy(&hb, io.LimitReader(r, hlen)); n != hlen {
		return nil, fmt.Errorf("truncated .npy header: %d of %d bytes", n, hlen)
	}
	h, err := parseHeaderDict(hb.String())
	if err != nil {
		return nil, fmt.Errorf("bad .npy header: %w", err)
	}
	h.hdrSize = 8 + hlen
	if major == 1 {
		h.hdrSize += 2
	} else {
		h.hdrSize += 4
	}
	return h, nil
}

// parseHeaderDict parses the Python dict literal of a .npy header, e.g.
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }.
func parseHeaderDict(s string) (*npyHeader, error) {
	if !strings.HasSuffix(s, "\n") {
		return nil, errors.New("header does not end with a newline")
	}
	p := &dictParser{s: strings.TrimRight(s, " \n\x00")}
	h := &npyHeader{}
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return nil, errors.New("header is not a dictionary")
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(':') {
			return nil, fmt.Errorf("missing ':' after key %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if h.descr, err = p.str(); err != nil {
				return nil, fmt.Errorf("descr: %w (structured dtypes are not supported)", err)
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				h.fortran = true
			case p.word("False"):
			default:
				return nil, errors.New("fortran_order is not True or False")
			}
		case "shape":
			if h.shape, err = p.tuple(); err != nil {
				return nil, fmt.Errorf("shape: %w", err)
			}
		default:
			return nil, fmt.Errorf("unexpected key %q", key)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat('}') {
			return nil, errors.New("expected ',' or '}' in the dictionary")
		}
		break
	}
	p.space()
	if p.i != len(p.s) {
		return nil, errors.New("unexpected text after the dictionary")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return nil, fmt.Errorf("missing key %q", k)
		}
	}
	switch h.descr {
	case "<f8", ">f8", "=f8":
		h.esize = 8
	case "<f4", ">f4", "=f4":
		h.esize = 4
	default:
		return nil, fmt.Errorf("dtype %q is not supported (want float32 or float64)", h.descr)
	}
	var err error
	if h.n, err = shapeElems(h.shape); err != nil {
		return nil, err
	}
	if h.nbytes, err = mulBytes(h.n, h.esize); err != nil {
		return nil, err
	}
	return h, nil
}

// dictParser scans the restricted Python literal syntax of .npy headers.
type dictParser struct {
	s string
	i int
}

func (p *dictParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *dictParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *dictParser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

// str reads a quoted string without escapes.
func (p *dictParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("expected a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

// tuple reads a tuple of non-negative integers: (), (3,), (3, 4).
func (p *dictParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, errors.New("expected a tuple")
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if start == p.i || p.i-start > 15 {
			return nil, errors.New("expected a dimension (a non-negative integer)")
		}
		d, _ := strconv.Atoi(p.s[start:p.i])
		shape = append(shape, d)
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat(')') {
			return nil, errors.New("expected ',' or ')' in the shape")
		}
		return shape, nil
	}
}

// canonicalHeader writes a version 1.0 header that npyio parses reliably,
// describing the data as a flat C-order array of the same dtype.
func (h *npyHeader) canonical() []byte {
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }", h.descr, h.elems())
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	dict += strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(dict)))
	b.WriteString(dict)
	return b.Bytes()
}

// decodeData reads the flat data with npyio and returns it as float64 in
// file order.
func (h *npyHeader) decodeData(data io.Reader) ([]float64, error) {
	rd, err := npyio.NewReader(io.MultiReader(bytes.NewReader(h.canonical()), data))
	if err != nil {
		return nil, err
	}
	n := h.elems()
	if h.esize == 8 {
		flat := make([]float64, n)
		if err := rd.Read(&flat); err != nil {
			return nil, err
		}
		return flat, nil
	}
	f32 := make([]float32, n)
	if err := rd.Read(&f32); err != nil {
		return nil, err
	}
	flat := make([]float64, n)
	for i, x := range f32 {
		flat[i] = float64(x)
	}
	return flat, nil
}

// npyArray is a decoded array: flat data in file order and its header.
type npyArray struct {
	h    *npyHeader
	flat []float64
}

// readNPY decodes an array from r. size is the total byte size when known
// (a file), or -1.
func readNPY(r io.Reader, size int64) (*npyArray, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	h, err := readNPYHeader(br)
	if err != nil {
		return nil, err
	}
	var data io.Reader
	if size >= 0 {
		if got := size - h.hdrSize; got != h.nbytes {
			return nil, dataSizeError(h, got)
		}
		data = io.LimitReader(br, h.nbytes)
	} else {
		// Unknown size: buffer the data (growing only with what is really
		// there) before npyio allocates for the declared shape.
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(br, h.nbytes+1))
		if err != nil {
			return nil, err
		}
		if n != h.nbytes {
			return nil, dataSizeError(h, n)
		}
		data = &buf
	}
	flat, err := h.decodeData(data)
	if err != nil {
		return nil, fmt.Errorf("cannot decode the data: %w", err)
	}
	return &npyArray{h: h, flat: flat}, nil
}

func dataSizeError(h *npyHeader, got int64) error {
	if got < h.nbytes {
		return fmt.Errorf("file is truncated: shape %s of %s needs %d data bytes, found %d", h.shapeString(), h.descr, h.nbytes, got)
	}
	return fmt.Errorf("file has extra bytes: shape %s of %s needs %d data bytes, found more", h.shapeString(), h.descr, h.nbytes)
}

// at returns element (i, j) of a 2-D array.
func (a *npyArray) at(i, j int) float64 {
	r, c := a.h.shape[0], a.h.shape[1]
	if a.h.fortran {
		return a.flat[j*r+i]
	}
	return a.flat[i*c+j]
}

// matrix converts a 2-D array to a Dense, checking finiteness.
func (a *npyArray) matrix() (*mat.Dense, error) {
	if len(a.h.shape) != 2 {
		return nil, fmt.Errorf("array has shape %s; want a 2-D matrix", a.h.shapeString())
	}
	r, c := a.h.shape[0], a.h.shape[1]
	if r == 0 || c == 0 {
		return nil, fmt.Errorf("matrix has shape %s; it is empty", a.h.shapeString())
	}
	if len(a.flat)%r != 0 || len(a.flat)/r != c {
		// readNPY decodes exactly the header's count; this is a guard.
		return nil, fmt.Errorf("%d values decoded for shape %s", len(a.flat), a.h.shapeString())
	}
	m := mat.NewDense(r, c, nil)
	for i := range r {
		row := m.RawRowView(i)
		for j := range c {
			v := a.at(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("row %d, column %d (counting from 0) is %v; values must be finite", i, j, v)
			}
			row[j] = v
		}
	}
	return m, nil
}

// vector converts a 1-D array, or a 2-D one with a single row or column.
func (a *npyArray) vector() ([]float64, error) {
	s := a.h.shape
	ok := len(s) == 1 || (len(s) == 2 && (s[0] == 1 || s[1] == 1))
	if !ok {
		return nil, fmt.Errorf("array has shape %s; want a vector (n,), (n, 1) or (1, n)", a.h.shapeString())
	}
	if len(a.flat) == 0 {
		return nil, fmt.Errorf("vector has shape %s; it is empty", a.h.shapeString())
	}
	for i, v := range a.flat { // a single row or column has the same order in C and Fortran
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("element %d (counting from 0) is %v; values must be finite", i, v)
		}
	}
	return append([]float64(nil), a.flat...), nil
}

// DecodeNPY reads a 2-D float32 or float64 .npy array from r as a float64
// matrix; name is used in errors (a file name or "stdin").
func DecodeNPY(r io.Reader, name string) (*mat.Dense, error) {
	a, err := readNPY(r, -1)
	if err != nil {
		return nil, wrap(name, err)
	}
	m, err := a.matrix()
	return m, wrap(name, err)
}

// DecodeNPYVector reads a float32 or float64 .npy vector — shape (n,),
// (n, 1) or (1, n) — from r; name is used in errors.
func DecodeNPYVector(r io.Reader, name string) ([]float64, error) {
	a, err := readNPY(r, -1)
	if err != nil {
		return nil, wrap(name, err)
	}
	v, err := a.vector()
	return v, wrap(name, err)
}

// readNPYFile opens and decodes a .npy file.
func readNPYFile(path string) (*npyArray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, wrap(path, openError(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, wrap(path, err)
	}
	if st.IsDir() {
		return nil, wrap(path, errors.New("is a directory"))
	}
	a, err := readNPY(f, st.Size())
	return a, wrap(path, err)
}

// wrap prefixes an error with the package and the name.
func wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("matio: %s: %w", name, err)
}

// openError shortens the errors of os.Open (whose text repeats the path).
func openError(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("no such file")
	case errors.Is(err, os.ErrPermission):
		return errors.New("permission denied")
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
