package diffusion

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"reflect"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// CheckpointError is a file LoadCheckpoint cannot use: not a checkpoint,
// damaged or truncated, or describing a run that cannot exist. Errors
// opening or reading the file are not CheckpointErrors.
type CheckpointError struct {
	Path string // the file
	Err  error  // what is wrong with it
}

func (e *CheckpointError) Error() string {
	return "diffusion: checkpoint " + e.Path + ": " + e.Err.Error()
}

func (e *CheckpointError) Unwrap() error { return e.Err }

// magicPrefix is what every checkpoint version starts with.
var magicPrefix = []byte(checkpointMagic[:len(checkpointMagic)-1])

// checkpointOverhead is the size of a checkpoint with an empty header and
// no parameters: magic, header length, CRC.
const checkpointOverhead = len(checkpointMagic) + 4 + 4

// maxBatchValues bounds Batch·D and EvalSize·D of a checkpoint's run: a
// batch is indexed like a parameter buffer (nn.MaxParams), and a file
// cannot make a resumed run allocate more.
const maxBatchValues = nn.MaxParams

// readCheckpointFile reads path, refusing a file that does not start like
// a checkpoint before reading it whole.
func readCheckpointFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("diffusion: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("diffusion: %w", err)
	}
	if st.IsDir() {
		return nil, &CheckpointError{Path: path, Err: errors.New("is a directory")}
	}
	head := make([]byte, len(checkpointMagic))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("diffusion: %w", err)
	}
	if err := checkMagic(head[:n]); err != nil {
		return nil, &CheckpointError{Path: path, Err: err}
	}
	rest, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("diffusion: %w", err)
	}
	return append(head[:n], rest...), nil
}

// checkMagic checks the start of a file, which may be shorter than the
// magic.
func checkMagic(raw []byte) error {
	n := min(len(raw), len(magicPrefix))
	if !bytes.Equal(raw[:n], magicPrefix[:n]) || len(raw) == 0 {
		return errors.New("not a paretodiff checkpoint (bad magic)")
	}
	if len(raw) < len(checkpointMagic) {
		return fmt.Errorf("truncated: %d bytes", len(raw))
	}
	switch v := raw[len(checkpointMagic)-1]; {
	case v >= '1' && v <= checkpointMagic[len(checkpointMagic)-1]:
		return nil
	case v > checkpointMagic[len(checkpointMagic)-1] && v <= '9':
		return fmt.Errorf("format version %q is newer than this program reads (update paretodiff)", string(v))
	default:
		return fmt.Errorf("unknown format version %q", string(v))
	}
}

// decodeCheckpoint decodes a checkpoint file's bytes. It never panics: a
// checkpoint it returns has arrays that match its layout, a layout that is
// its network's, a network Build makes, a run configuration that parses and
// a random state that loads; anything else is an error saying what is
// wrong, without the path (LoadCheckpoint adds it).
func decodeCheckpoint(raw []byte) (*Checkpoint, error) {
	if err := checkMagic(raw); err != nil {
		return nil, err
	}
	if len(raw) < checkpointOverhead {
		return nil, fmt.Errorf("truncated: %d bytes, less than the %d of an empty checkpoint", len(raw), checkpointOverhead)
	}
	magic := string(raw[:len(checkpointMagic)])
	body, sum := raw[:len(raw)-4], binary.LittleEndian.Uint32(raw[len(raw)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("checksum mismatch (the file is damaged or truncated)")
	}
	rest := body[len(checkpointMagic):]
	hl := uint64(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	if hl > uint64(len(rest)) {
		return nil, fmt.Errorf("header of %d bytes in a file of %d", hl, len(raw))
	}
	c := &Checkpoint{}
	if err := json.Unmarshal(rest[:hl], c); err != nil {
		return nil, fmt.Errorf("header: %v", err)
	}
	if magic != checkpointMagic {
		if c.legacyMagic() != magic {
			return nil, fmt.Errorf("format version %s does not match its network (input skips need version 2)", magic[len(magic)-1:])
		}
		if err := c.migrateLegacyHeader(rest[:hl]); err != nil {
			return nil, fmt.Errorf("header: %v", err)
		}
	}
	rest = rest[hl:]
	P, err := layoutLen(c.Layout)
	if err != nil {
		return nil, err
	}
	if uint64(len(rest)) != 16*uint64(P) { // P ≤ nn.MaxParams: no overflow
		return nil, fmt.Errorf("%d bytes of arrays for %d parameters (want %d)", len(rest), P, 16*uint64(P))
	}
	if err := c.checkNetwork(); err != nil {
		return nil, err
	}
	if err := c.checkRun(); err != nil {
		return nil, err
	}
	arrays := make([][]float32, 4)
	for a := range arrays {
		arrays[a] = make([]float32, P)
		for i := range arrays[a] {
			arrays[a][i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*(a*P+i):]))
		}
	}
	c.Params, c.M, c.V, c.EMA = arrays[0], arrays[1], arrays[2], arrays[3]
	return c, nil
}

// check parses what a reader of the checkpoint needs: the schedule, the
// target and the density, and the weighting where its family is linked in
// (an online family, such as package conflict's "pareto:…", may not be in
// a program that only samples the model).
func (r TrainSpec) check() error {
	s, _, err := r.ScheduleAndTarget()
	if err != nil {
		return err
	}
	if _, err := weighting.ParseDensity(r.Density, r.T, s.LogSNRs()); err != nil {
		return err
	}
	if _, err := weighting.Parse(r.Weighting); err != nil && !errors.Is(err, weighting.ErrUnknown) {
		return err
	}
	return nil
}

// layoutLen returns the number of parameters of a layout, checking every
// dimension (≥ 1) and every product and sum against nn.MaxParams before it
// is formed.
func layoutLen(layout []nn.Layout) (int, error) {
	P := 0
	for _, l := range layout {
		if len(l.Shape) == 0 {
			return 0, fmt.Errorf("parameter %q has no shape", l.Name)
		}
		n := 1
		for _, d := range l.Shape {
			if d < 1 {
				return 0, fmt.Errorf("parameter %q has shape %v", l.Name, l.Shape)
			}
			if n > nn.MaxParams/d {
				return 0, fmt.Errorf("parameter %q of shape %v has more than %d values", l.Name, l.Shape, nn.MaxParams)
			}
			n *= d
		}
		if n > nn.MaxParams-P {
			return 0, fmt.Errorf("layout has more than %d parameters", nn.MaxParams)
		}
		P += n
	}
	return P, nil
}

// checkNetwork checks that the spec is one nn.Build makes and that the
// layout is that network's, without allocating it.
func (c *Checkpoint) checkNetwork() error {
	layout, err := c.Spec.Layout()
	if err != nil {
		return fmt.Errorf("network %s: %w", specString(c.Spec), err)
	}
	if !reflect.DeepEqual(layout, c.Layout) {
		return errors.New("parameter layout differs from its network's")
	}
	return nil
}

// checkArrays checks that Params, M, V and EMA hold P values each.
func (c *Checkpoint) checkArrays(P int) error {
	for i, a := range [][]float32{c.Params, c.M, c.V, c.EMA} {
		if len(a) != P {
			return fmt.Errorf("%s holds %d values for %d parameters", [...]string{"Params", "M", "V", "EMA"}[i], len(a), P)
		}
	}
	return nil
}

// checkRun checks what a resumed run or a sampler takes from the header:
// the step counts, the run configuration (it parses, its schedule has at
// most MaxT steps, its batches are not absurd) and the random state.
func (c *Checkpoint) checkRun() error {
	if c.Step < 0 || c.Steps < 0 || c.LossN < 0 {
		return fmt.Errorf("negative step %d, steps %d or loss count %d", c.Step, c.Steps, c.LossN)
	}
	if err := c.Config.check(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	D := max(c.Spec.Dim(), 1) // checkNetwork came first: Dim ≥ 1
	for _, b := range []struct {
		name string
		n    int
	}{{"batch", c.Config.Batch}, {"eval_size", c.Config.EvalSize}} {
		if b.n < 1 || b.n > maxBatchValues/D {
			return fmt.Errorf("configuration: %s %d: want 1 to %d examples of dimension %d", b.name, b.n, maxBatchValues/D, D)
		}
	}
	if err := new(rand.PCG).UnmarshalBinary(c.RNG); err != nil {
		return fmt.Errorf("random state: %w", err)
	}
	return nil
}
