package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/stretchr/testify/require"
)

// A run trained by the train command exports its EMA weights by default and
// its raw ones with --ema=false, under the engine's names; bad input exits
// 2 and writes nothing.
func TestExportTrainedRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	_, stderr, code := runCLI(t, trainArgs(dir, "--steps", "5")...)
	require.Equal(t, 0, code, stderr)
	stdout, stderr, code := runCLI(t, "export", "--checkpoint", dir)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "exported the ema weights of step 5")
	raw := filepath.Join(t.TempDir(), "raw.safetensors")
	_, stderr, code = runCLI(t, "export", "--checkpoint", dir, "--ema=false", "--out", raw)
	require.Equal(t, 0, code, stderr)

	ck, err := diffusion.LoadCheckpoint(filepath.Join(dir, "checkpoint.bin"))
	require.NoError(t, err)
	for path, want := range map[string][]float32{filepath.Join(dir, "model.safetensors"): ck.EMA, raw: ck.Params} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		n := binary.LittleEndian.Uint64(b)
		var header map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(b[8:8+n], &header))
		for _, l := range ck.Layout {
			var e struct {
				Shape       []int
				DataOffsets [2]int `json:"data_offsets"`
			}
			require.NoError(t, json.Unmarshal(header[l.Name], &e), l.Name)
			require.Equal(t, l.Shape, e.Shape)
			first := math.Float32frombits(binary.LittleEndian.Uint32(b[8+int(n)+e.DataOffsets[0]:]))
			require.Equal(t, want[l.Offset], first, l.Name)
		}
	}
	require.NotEqual(t, ck.EMA, ck.Params) // the two exports differ

	for _, args := range [][]string{
		{"export"},
		{"export", "--checkpoint", filepath.Join(dir, "nope")},
		{"export", "--checkpoint", dir, "--format", "onnx"},
		{"export", "--checkpoint", dir, "--out", filepath.Join(dir, "no", "m.safetensors")},
	} {
		stdout, stderr, code := runCLI(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, stderr)
		require.Empty(t, stdout)
	}
	require.NoDirExists(t, filepath.Join(dir, "no"))
}
