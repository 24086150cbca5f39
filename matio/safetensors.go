package matio

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// Tensor is one named array of a safetensors file: little-endian float32
// (F32) or float64 (F64) values in C order, exactly one of the two set,
// with Shape's product elements (an empty Shape is a scalar).
type Tensor struct {
	Name  string
	Shape []int
	F32   []float32
	F64   []float64
}

// dtype returns the tensor's safetensors dtype and element count.
func (t Tensor) dtype() (string, int, error) {
	switch {
	case t.F32 != nil && t.F64 == nil:
		return "F32", len(t.F32), nil
	case t.F64 != nil && t.F32 == nil:
		return "F64", len(t.F64), nil
	}
	return "", 0, fmt.Errorf("tensor %q: set exactly one of F32 and F64", t.Name)
}

// safetensorsEntry is a tensor's header entry.
type safetensorsEntry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// EncodeSafetensors writes tensors and metadata in the safetensors format
// (Hugging Face's, read by safetensors.torch.load_file and by any reader
// of the layout): an unsigned 64-bit little-endian header length N, N bytes
// of a JSON object — for each tensor its name mapped to {"dtype", "shape",
// "data_offsets": [begin, end)}, byte offsets into the data that follows the
// header, and "__metadata__" mapped to the string-to-string metadata — padded
// with spaces to a multiple of 8 bytes so that every tensor's data is
// aligned, then the tensors' raw little-endian data back to back, in the
// order given. Names must be unique, non-empty and not "__metadata__"; every
// value must be finite.
func EncodeSafetensors(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, t := range tensors {
		if t.Name == "" || t.Name == "__metadata__" || header[t.Name] != nil {
			return fmt.Errorf("matio: safetensors: tensor name %q is empty, reserved or repeated", t.Name)
		}
		dt, n, err := t.dtype()
		if err != nil {
			return fmt.Errorf("matio: safetensors: %w", err)
		}
		want, err := shapeElems(t.Shape)
		if err != nil || want != n {
			return fmt.Errorf("matio: safetensors: tensor %q has %d values for shape %v", t.Name, n, t.Shape)
		}
		size := int64(n) * map[string]int64{"F32": 4, "F64": 8}[dt]
		header[t.Name] = safetensorsEntry{Dtype: dt, Shape: append([]int{}, t.Shape...), DataOffsets: [2]int64{off, off + size}}
		off += size
		if err := checkTensorFinite(t); err != nil {
			return err
		}
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("matio: safetensors: %w", err)
	}
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, strings.Repeat(" ", pad)...)
	}
	if err := binary.Write(w, binary.LittleEndian, uint64(len(js))); err != nil {
		return err
	}
	if _, err := w.Write(js); err != nil {
		return err
	}
	for _, t := range tensors {
		var err error
		if t.F32 != nil {
			err = binary.Write(w, binary.LittleEndian, t.F32)
		} else {
			err = binary.Write(w, binary.LittleEndian, t.F64)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkTensorFinite rejects a tensor holding NaN or ±Inf.
func checkTensorFinite(t Tensor) error {
	for i, v := range t.F32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("matio: safetensors: tensor %q: value %d is %g; values must be finite", t.Name, i, v)
		}
	}
	for i, v := range t.F64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("matio: safetensors: tensor %q: value %d is %g; values must be finite", t.Name, i, v)
		}
	}
	return nil
}

// WriteSafetensors writes a safetensors file (EncodeSafetensors), replacing
// path atomically.
func WriteSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	return write(path, func(w io.Writer) error { return EncodeSafetensors(w, tensors, metadata) })
}
