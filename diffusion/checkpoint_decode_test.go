package diffusion

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
	"github.com/stretchr/testify/require"
)

// smallCheckpoint is a valid checkpoint of a tiny network (a width-4 ResMLP
// on 2-D data, 154 parameters, 160 with the skips of precond), its arrays filled
// from seed so that each differs.
func smallCheckpoint(t testing.TB, precond bool, seed uint64) *Checkpoint {
	t.Helper()
	nc := nn.ResMLPConfig{Dim: 2, Width: 4, Depth: 1}
	if precond {
		nc.SigmaData, nc.Skip = 0.5, true
	}
	net, err := nn.InitResMLP(nn.NewCPU(), nc, seed)
	require.NoError(t, err)
	pcg := rand.NewPCG(seed, StreamTrain)
	rng, err := pcg.MarshalBinary()
	require.NoError(t, err)
	P := net.Params().Len()
	r := rand.New(rand.NewPCG(seed, 1))
	arr := func() []float32 {
		v := make([]float32, P)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	return &Checkpoint{
		Step: 7, Steps: 10, Spec: net.Spec(), Layout: net.Params().Layout(),
		Config: TrainSpec{Schedule: "cosine", T: 100, Data: "toy:8gaussians", Target: "eps", Weighting: "min-snr:5", Density: "uniform",
			Batch: 8, Seed: seed, EvalSize: 4, Optim: nn.OptimConfig{LR: 1e-3}.WithDefaults()},
		RNG: rng, LossSum: 1.5, LossN: 3, GradNorm: 0.25, LR: 1e-3,
		Params: arr(), M: arr(), V: arr(), EMA: arr(),
	}
}

// checkpointBytes saves c and returns the file's bytes.
func checkpointBytes(t testing.TB, c *Checkpoint) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "checkpoint.bin")
	require.NoError(t, c.Save(p))
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	return raw
}

// assemble writes a checkpoint file by hand: magic, header length, header,
// the array bytes and a correct CRC, so that the checks after the CRC can
// be reached with any header.
func assemble(magic string, header, arrays []byte) []byte {
	b := append([]byte(magic), binary.LittleEndian.AppendUint32(nil, uint32(len(header)))...)
	b = append(append(b, header...), arrays...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// withCRC replaces the last 4 bytes by the CRC of the rest (the fuzz target
// uses it so that mutations reach the header).
func withCRC(raw []byte) []byte {
	if len(raw) < checkpointOverhead {
		return raw
	}
	b := append([]byte(nil), raw[:len(raw)-4]...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// header returns c's JSON header after edit changes its generic form.
func header(t testing.TB, c *Checkpoint, edit func(map[string]any)) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	edit(m)
	b, err = json.Marshal(m)
	require.NoError(t, err)
	return b
}

// arrayBytes is the array section of a checkpoint with P parameters.
func arrayBytes(P int) []byte { return make([]byte, 16*P) }

func TestDecodeCheckpointRoundTrip(t *testing.T) {
	for _, precond := range []bool{false, true} {
		want := smallCheckpoint(t, precond, 5)
		got, err := decodeCheckpoint(checkpointBytes(t, want))
		require.NoError(t, err)
		require.Equal(t, want, got)
		net, err := got.Network(nn.NewCPU(), true)
		require.NoError(t, err)
		ema := make([]float32, net.Params().Len())
		net.Backend().Download(ema, net.Params().Flat)
		require.Equal(t, want.EMA, ema)
	}
}

// A weighting whose family this program does not link in (an online one
// registered by a package the reader does not import) does not stop a
// checkpoint from loading: a sampler needs only the schedule and target.
func TestDecodeCheckpointUnknownWeightingFamily(t *testing.T) {
	c := smallCheckpoint(t, false, 1)
	raw := assemble("PDIFFCK3", header(t, c, func(m map[string]any) {
		m["config"].(map[string]any)["weighting"] = "future-online:3"
	}), checkpointBytes(t, c)[len(checkpointBytes(t, c))-4-16*len(c.Params):len(checkpointBytes(t, c))-4])
	got, err := decodeCheckpoint(raw)
	require.NoError(t, err)
	require.Equal(t, "future-online:3", got.Config.Weighting)
	_, err = got.Config.TrainConfig()
	require.ErrorIs(t, err, weighting.ErrUnknown, "resuming it needs the family")
}

// Hostile and damaged files: each is an error saying what is wrong, one
// line, never a panic. Those marked naive panicked (or returned a
// checkpoint whose Network panicked) before the checks.
func TestDecodeCheckpointRejects(t *testing.T) {
	c := smallCheckpoint(t, false, 1)
	good := checkpointBytes(t, c)
	P := len(c.Params)
	hdr := func(edit func(map[string]any)) []byte { return header(t, c, edit) }
	spec := func(m map[string]any) map[string]any { return m["spec"].(map[string]any)["resmlp"].(map[string]any) }
	config := func(m map[string]any) map[string]any { return m["config"].(map[string]any) }
	oneParam := func(shape ...any) func(map[string]any) {
		return func(m map[string]any) {
			m["layout"] = []any{map[string]any{"name": "w", "offset": 0, "shape": shape, "decay": true}}
		}
	}
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x10; return b }
	for _, tc := range []struct {
		name string
		raw  []byte
		msg  string
	}{
		{"empty", nil, "bad magic"},
		{"foreign png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "bad magic"},
		{"foreign text", []byte("step,loss\n1,0.5\n"), "bad magic"},
		{"magic cut", good[:5], "truncated: 5 bytes"},
		{"magic only", good[:8], "truncated: 8 bytes, less than the 16"},
		{"unknown version", append([]byte("PDIFFCKx"), good[8:]...), `unknown format version "x"`},
		{"newer version", append([]byte("PDIFFCK7"), good[8:]...), `format version "7" is newer`},
		{"cut in the header", good[:40], "checksum mismatch"},
		{"cut in the arrays", good[:len(good)-100], "checksum mismatch"},
		{"bit flip in the header", flip(30), "checksum mismatch"},
		{"bit flip in the arrays", flip(len(good) - 50), "checksum mismatch"},
		{"bit flip in the CRC", flip(len(good) - 1), "checksum mismatch"},
		{"header beyond the file", withCRC(append(append([]byte("PDIFFCK1"), 0xff, 0xff, 0xff, 0x7f), good[12:]...)), "header of 2147483647 bytes in a file of"},
		{"header not JSON", assemble("PDIFFCK1", []byte("{not json"), nil), "header: invalid character"},
		{"header null", assemble("PDIFFCK1", []byte("null"), nil), `unknown network kind ""`},
		{"header a list", assemble("PDIFFCK1", []byte("[1, 2]"), nil), "header: json: cannot unmarshal array"},
		{"arrays short", assemble("PDIFFCK1", hdr(func(map[string]any) {}), arrayBytes(P)[:16*P-4]), "bytes of arrays for 154 parameters"},
		{"arrays long", assemble("PDIFFCK1", hdr(func(map[string]any) {}), arrayBytes(P+1)), "bytes of arrays for 154 parameters"},
		{"version 2 without skips", assemble("PDIFFCK2", hdr(func(map[string]any) {}), arrayBytes(P)), "does not match its network"},
		// Layouts: the naive product wrapped or went negative.
		{"negative dims (naive: P = 1)", assemble("PDIFFCK1", hdr(oneParam(-1, -1)), arrayBytes(1)), `parameter "w" has shape [-1 -1]`},
		{"zero dim", assemble("PDIFFCK1", hdr(oneParam(0)), nil), `parameter "w" has shape [0]`},
		{"no shape", assemble("PDIFFCK1", hdr(oneParam()), nil), `parameter "w" has no shape`},
		{"wraps to zero (naive: P = 0)", assemble("PDIFFCK1", hdr(oneParam(1<<32, 1<<32)), nil), "has more than 2147483647 values"},
		// 16·(2⁶⁰+1) wraps to 16: the naive length check passed and make panicked.
		{"16·P wraps (naive: panic)", assemble("PDIFFCK1", hdr(oneParam(1<<60+1)), arrayBytes(1)), "has more than 2147483647 values"},
		{"sum too large", assemble("PDIFFCK1", hdr(func(m map[string]any) {
			l := map[string]any{"name": "w", "offset": 0, "shape": []any{1 << 30}, "decay": true}
			m["layout"] = []any{l, l, l}
		}), nil), "layout has more than 2147483647 parameters"},
		{"layout not the network's", assemble("PDIFFCK1", hdr(oneParam(P)), arrayBytes(P)), "parameter layout differs from its network's"},
		// Specs a file can hold that no network has.
		{"unknown kind", assemble("PDIFFCK1", hdr(func(m map[string]any) { m["spec"].(map[string]any)["kind"] = "unet" }), arrayBytes(P)), `unknown network kind "unet"`},
		{"no resmlp config", assemble("PDIFFCK1", hdr(func(m map[string]any) { delete(m["spec"].(map[string]any), "resmlp") }), arrayBytes(P)), "resmlp spec without a configuration"},
		{"zero dim spec", assemble("PDIFFCK1", hdr(func(m map[string]any) { spec(m)["dim"] = 0 }), arrayBytes(P)), "needs dim ≥ 1, got 0"},
		{"negative width", assemble("PDIFFCK1", hdr(func(m map[string]any) { spec(m)["width"] = -4 }), arrayBytes(P)), "width, hidden and depth ≥ 1"},
		// A width whose W·W wraps: the naive Build panicked in ParamSet.Add.
		{"huge width (naive: panic)", assemble("PDIFFCK1", hdr(func(m map[string]any) { spec(m)["width"] = 1 << 32; spec(m)["hidden"] = 1 }), arrayBytes(P)), "more than 2147483647 parameters"},
		{"huge depth", assemble("PDIFFCK1", hdr(func(m map[string]any) { spec(m)["depth"] = 1 << 40 }), arrayBytes(P)), "more than 2147483647 parameters"},
		{"odd time_dim", assemble("PDIFFCK1", hdr(func(m map[string]any) { spec(m)["time_dim"] = 3 }), arrayBytes(P)), "even time_dim"},
		{"unknown activation", assemble("PDIFFCK1", hdr(func(m map[string]any) { spec(m)["act"] = "relu" }), arrayBytes(P)), `unknown activation "relu"`},
		{"width too large for JSON int", assemble("PDIFFCK1", hdr(func(m map[string]any) { spec(m)["width"] = 1e30 }), arrayBytes(P)), "header: json: cannot unmarshal number 1e+30"},
		// The run configuration and state.
		{"negative step", assemble("PDIFFCK1", hdr(func(m map[string]any) { m["step"] = -1 }), arrayBytes(P)), "negative step -1"},
		{"unknown schedule", assemble("PDIFFCK1", hdr(func(m map[string]any) { config(m)["schedule"] = "quadratic" }), arrayBytes(P)), `configuration: diffusion: unknown schedule "quadratic"`},
		{"huge T", assemble("PDIFFCK1", hdr(func(m map[string]any) { config(m)["T"] = 1 << 50 }), arrayBytes(P)), "configuration: diffusion: schedule of 1125899906842624 steps is too long"},
		{"bad weighting", assemble("PDIFFCK1", hdr(func(m map[string]any) { config(m)["strategy"] = "min-snr:-1" }), arrayBytes(P)), "configuration: weighting:"},
		{"bad weighting v3", assemble("PDIFFCK3", hdr(func(m map[string]any) { config(m)["weighting"] = "p2:-1,1" }), arrayBytes(P)), "configuration: weighting:"},
		{"zero batch", assemble("PDIFFCK1", hdr(func(m map[string]any) { config(m)["batch"] = 0 }), arrayBytes(P)), "configuration: batch 0: want 1 to 1073741823 examples of dimension 2"},
		{"huge batch", assemble("PDIFFCK1", hdr(func(m map[string]any) { config(m)["batch"] = 1 << 62 }), arrayBytes(P)), "configuration: batch 4611686018427387904"},
		{"huge eval size", assemble("PDIFFCK1", hdr(func(m map[string]any) { config(m)["eval_size"] = 1 << 31 }), arrayBytes(P)), "configuration: eval_size 2147483648"},
		{"bad random state", assemble("PDIFFCK1", hdr(func(m map[string]any) { m["rng"] = "AAAA" }), arrayBytes(P)), "random state:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeCheckpoint(tc.raw)
			require.Nil(t, got)
			require.ErrorContains(t, err, tc.msg)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestLoadCheckpointErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	good := checkpointBytes(t, smallCheckpoint(t, true, 2))
	p := filepath.Join(dir, "checkpoint.bin")
	require.NoError(t, os.WriteFile(p, good[:len(good)/2], 0o644))
	_, err := LoadCheckpoint(p)
	var ce *CheckpointError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, p, ce.Path)
	require.Equal(t, "diffusion: checkpoint "+p+": checksum mismatch (the file is damaged or truncated)", err.Error())

	// A foreign file is refused from its first bytes.
	png := filepath.Join(dir, "x.png")
	require.NoError(t, os.WriteFile(png, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 1<<20)...), 0o644))
	_, err = LoadCheckpoint(png)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "diffusion: checkpoint "+png+": not a paretodiff checkpoint (bad magic)", err.Error())

	// A folder and a missing file: not CheckpointErrors for the latter.
	_, err = LoadCheckpoint(dir)
	require.ErrorAs(t, err, &ce)
	require.ErrorContains(t, err, "is a directory")
	_, err = LoadCheckpoint(filepath.Join(dir, "missing.bin"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.False(t, errors.As(err, &ce))

	require.NoError(t, os.WriteFile(p, good, 0o644))
	c, err := LoadCheckpoint(p)
	require.NoError(t, err)
	require.True(t, c.Spec.ResMLP.Skip)
}

// A checkpoint made in memory with arrays of the wrong length, or a spec
// that cannot be built, is an error from Network, Denoiser and Restore.
func TestCheckpointNetworkChecksItsArrays(t *testing.T) {
	c := smallCheckpoint(t, false, 3)
	c.EMA = c.EMA[:10]
	_, err := c.Network(nn.NewCPU(), true)
	require.ErrorContains(t, err, "diffusion: checkpoint: EMA holds 10 values for 154 parameters")
	_, err = c.Denoiser(nn.NewCPU(), false)
	require.ErrorContains(t, err, "EMA holds 10 values")

	c = smallCheckpoint(t, false, 3)
	c.Spec.ResMLP.Width = math.MaxInt / 8
	_, err = c.Network(nn.NewCPU(), false)
	require.ErrorContains(t, err, "more than 2147483647 parameters")
	c = smallCheckpoint(t, false, 3)
	c.Spec.Kind = "unet"
	_, err = c.Network(nn.NewCPU(), false)
	require.ErrorContains(t, err, `unknown network kind "unet"`)
}

// checkDecoded is the fuzz target's property: decodeCheckpoint returns an
// error (one line) or a checkpoint whose arrays match its layout and whose
// network builds, holding those arrays.
func checkDecoded(t *testing.T, raw []byte) {
	c, err := decodeCheckpoint(raw)
	if err != nil {
		require.Nil(t, c)
		require.NotContains(t, err.Error(), "\n")
		return
	}
	P, err := layoutLen(c.Layout)
	require.NoError(t, err)
	require.NoError(t, c.checkArrays(P))
	net, err := c.Network(nn.NewCPU(), false)
	require.NoError(t, err)
	require.Equal(t, P, net.Params().Len())
	require.Equal(t, c.Layout, net.Params().Layout())
	_, err = c.Config.TrainConfig()
	require.NoError(t, err)
	// The arrays are the file's last 16·P bytes before the CRC.
	arrays := raw[len(raw)-4-16*P : len(raw)-4]
	require.Equal(t, math.Float32bits(c.EMA[P-1]), binary.LittleEndian.Uint32(arrays[16*P-4:]))
}

// FuzzDecodeCheckpoint: no input panics. Every input is also tried with its
// CRC made correct, so that mutations get past the checksum to the header,
// the layout and the arrays. testdata/fuzz/FuzzDecodeCheckpoint holds files
// that panicked before the checks: layout-16P-wraps in LoadCheckpoint,
// width-squared-wraps in Network, batch-absurd in ResumeTrainer.
func FuzzDecodeCheckpoint(f *testing.F) {
	for _, precond := range []bool{false, true} {
		good := checkpointBytes(f, smallCheckpoint(f, precond, 4))
		f.Add(good)
		for _, n := range []int{0, 7, 8, 12, 16, 100, len(good) / 2, len(good) - 16, len(good) - 1} {
			f.Add(good[:n])
		}
		for _, i := range []int{7, 8, 11, 20, 200, len(good) - 20, len(good) - 1} {
			b := bytes.Clone(good)
			b[i] ^= 0x04
			f.Add(b)
			f.Add(withCRC(b))
		}
	}
	old, err := os.ReadFile(filepath.Join("testdata", "checkpoint-v1", "checkpoint.bin"))
	require.NoError(f, err)
	f.Add(old)
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"))
	f.Add([]byte("paretodiff checkpoint\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecoded(t, raw)
		if fixed := withCRC(raw); !bytes.Equal(fixed, raw) {
			checkDecoded(t, fixed)
		}
	})
}
