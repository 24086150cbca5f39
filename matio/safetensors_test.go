package matio_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/matio"
	"github.com/stretchr/testify/require"
)

// readSafetensors is an independent reader of the format as its
// specification states it: u64 LE header length, JSON header, raw data.
func readSafetensors(t *testing.T, b []byte) (map[string]json.RawMessage, []byte) {
	t.Helper()
	require.GreaterOrEqual(t, len(b), 8)
	n := binary.LittleEndian.Uint64(b[:8])
	require.LessOrEqual(t, 8+n, uint64(len(b)))
	var header map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b[8:8+n], &header))
	return header, b[8+n:]
}

func TestSafetensorsReadsBack(t *testing.T) {
	w := []float32{1, -2.5, 3e-8, 4, 5, 6}
	alpha := []float64{1, 0.5, math.SmallestNonzeroFloat64}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, matio.WriteSafetensors(path, []matio.Tensor{
		{Name: "fc.weight", Shape: []int{2, 3}, F32: w},
		{Name: "fc.bias", Shape: []int{1}, F32: []float32{7}},
		{Name: "schedule.alpha", Shape: []int{3}, F64: alpha},
	}, map[string]string{"format": "pt", "spec": `{"width":3}`}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	header, data := readSafetensors(t, b)
	require.Zero(t, (len(b)-len(data))%8, "the data starts 8-byte aligned")
	require.JSONEq(t, `{"format":"pt","spec":"{\"width\":3}"}`, string(header["__metadata__"]))
	type entry struct {
		Dtype       string
		Shape       []int
		DataOffsets [2]int `json:"data_offsets"`
	}
	get := func(name string) entry {
		var e entry
		require.NoError(t, json.Unmarshal(header[name], &e), name)
		return e
	}
	require.Equal(t, entry{"F32", []int{2, 3}, [2]int{0, 24}}, get("fc.weight"))
	require.Equal(t, entry{"F32", []int{1}, [2]int{24, 28}}, get("fc.bias"))
	require.Equal(t, entry{"F64", []int{3}, [2]int{28, 52}}, get("schedule.alpha"))
	require.Len(t, data, 52)
	for i, v := range w {
		require.Equal(t, v, math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
	}
	require.Equal(t, float32(7), math.Float32frombits(binary.LittleEndian.Uint32(data[24:])))
	for i, v := range alpha {
		require.Equal(t, v, math.Float64frombits(binary.LittleEndian.Uint64(data[28+8*i:])))
	}
}

func TestSafetensorsRejectsBadTensors(t *testing.T) {
	for name, ts := range map[string][]matio.Tensor{
		"shape":    {{Name: "a", Shape: []int{2, 2}, F32: []float32{1, 2, 3}}},
		"repeated": {{Name: "a", Shape: []int{1}, F32: []float32{1}}, {Name: "a", Shape: []int{1}, F32: []float32{1}}},
		"reserved": {{Name: "__metadata__", Shape: []int{1}, F32: []float32{1}}},
		"no data":  {{Name: "a", Shape: []int{1}}},
		"NaN":      {{Name: "a", Shape: []int{1}, F64: []float64{math.NaN()}}},
		"negative": {{Name: "a", Shape: []int{-1}, F32: []float32{}}},
	} {
		var buf bytes.Buffer
		require.ErrorContains(t, matio.EncodeSafetensors(&buf, ts, nil), "matio: safetensors: ", name)
	}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	require.Error(t, matio.WriteSafetensors(path, []matio.Tensor{{Name: "a", Shape: []int{2}, F32: []float32{1}}}, nil))
	require.NoFileExists(t, path)
}
