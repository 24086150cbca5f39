package export

import (
	"encoding/json"
	"fmt"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/matio"
)

// MetaKey is the safetensors metadata key holding Meta as JSON; the file's
// metadata also has "format": "pt", which PyTorch loaders expect.
const MetaKey = "paretodiff"

// FormatVersion names the layout of an exported ResMLP's tensors and
// Meta, and DiTFormatVersion a DiT's; a change to either changes it.
const (
	FormatVersion    = "paretodiff-resmlp-1"
	DiTFormatVersion = "paretodiff-dit-1"
)

// ditLayerNormEps is the ε of the DiT's LayerNorms (DiT's 1e-6; nn.DiT
// keeps it unexported).
const ditLayerNormEps = 1e-6

// Meta describes an exported model: the network, the diffusion it was
// trained for and how to call it.
type Meta struct {
	// Format is FormatVersion or, for a DiT, DiTFormatVersion.
	Format string `json:"format"`
	// Kind is the network's kind ("resmlp" or "dit") and the field of
	// that name its configuration with every default filled in. ResMLP:
	// dim, width, depth, hidden, time_dim, act ("silu" or "gelu", the tanh
	// approximation), max_period of the time embedding, and the input
	// skips sigma_data and skip. DiT: channels and side of the image
	// (dim = channels·side²), patch, width, depth, heads, mlp_ratio,
	// freq_dim and max_period of the time embedding, learned_pos, and the
	// input skips.
	Kind   string           `json:"kind"`
	ResMLP *nn.ResMLPConfig `json:"resmlp,omitempty"`
	DiT    *nn.DiTConfig    `json:"dit,omitempty"`
	// LayerNormEps is the ε of every LayerNorm.
	LayerNormEps float64 `json:"layer_norm_eps"`
	// Target is what the network predicts (eps, x0, v or flow); Schedule,
	// T and ZeroTerminal name its noise schedule (whose α_t and σ_t are the
	// tensors schedule.alpha and schedule.sigma).
	Target       string `json:"target"`
	Schedule     string `json:"schedule"`
	T            int    `json:"T"`
	ZeroTerminal bool   `json:"zero_terminal"`
	// Weights says which weights these are: "ema" or "raw"; Step is the
	// checkpoint's training step.
	Weights string `json:"weights"`
	Step    int    `json:"step"`
	// Data and Weighting are the run's training data and loss weighting.
	Data      string `json:"data"`
	Weighting string `json:"weighting"`
	// Call says how to call the network, in words.
	Call string `json:"call"`
}

// call is Meta.Call of a ResMLP, ditCall a DiT's.
const call = "pred = net(x_t, t): x_t (B, dim) float32, t (B) integer timesteps 0..T-1 passed as float32 to the sinusoidal embedding " +
	"[cos(t·f_i), sin(t·f_i)], f_i = exp(-ln(max_period)·i/(time_dim/2)), computed in float64; with sigma_data > 0 the output adds c·x_t and with skip " +
	"g·skip(x_t), c = b·σ_t/(α_t²σ_d² + σ_t²) (0 without sigma_data), g = b/σ_t − c, b = 1 for eps and flow, α_t for v, 0 for x0"

const ditCall = "pred = net(x_t, t): x_t (B, dim) float32, each row a channels-first (channels, side, side) image, t (B) integer timesteps 0..T-1 " +
	"passed as float32 to the sinusoidal embedding [cos(t·f_i), sin(t·f_i)], f_i = exp(-ln(max_period)·i/(freq_dim/2)), computed in float64; " +
	"the input skips as a ResMLP's: with sigma_data > 0 the output adds c·x_t and with skip g·skip(x_t)"

// Model is an exported network: its tensors under the documented names
// (see the package doc) and its Meta.
type Model struct {
	Tensors []matio.Tensor
	Meta    Meta
}

// FromCheckpoint exports the checkpoint's EMA weights (ema) or its raw
// ones. The network is built from the checkpoint (diffusion.Checkpoint.
// Network), so a checkpoint whose layout or arrays do not match its spec
// is an error.
func FromCheckpoint(ck *diffusion.Checkpoint, ema bool) (*Model, error) {
	sched, target, err := ck.Config.ScheduleAndTarget()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	net, err := ck.Network(nn.NewCPU(), ema)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	weights := "raw"
	if ema {
		weights = "ema"
	}
	m := &Model{Meta: Meta{
		Target: target.String(), Schedule: sched.Name(), T: sched.T(), ZeroTerminal: sched.IsZeroTerminal(),
		Weights: weights, Step: ck.Step, Data: ck.Config.Data, Weighting: ck.Config.Weighting,
	}}
	if err := m.Meta.setNetwork(net.Spec()); err != nil {
		return nil, err
	}
	values := ck.Params
	if ema {
		values = ck.EMA
	}
	for _, l := range ck.Layout {
		n := 1
		for _, d := range l.Shape {
			n *= d
		}
		m.Tensors = append(m.Tensors, matio.Tensor{Name: l.Name, Shape: append([]int(nil), l.Shape...), F32: values[l.Offset : l.Offset+n]})
	}
	alpha, sigma := make([]float64, sched.T()), make([]float64, sched.T())
	for t := range alpha {
		alpha[t], sigma[t] = sched.Alpha(t), sched.Sigma(t)
	}
	m.Tensors = append(m.Tensors,
		matio.Tensor{Name: "schedule.alpha", Shape: []int{len(alpha)}, F64: alpha},
		matio.Tensor{Name: "schedule.sigma", Shape: []int{len(sigma)}, F64: sigma})
	return m, nil
}

// setNetwork fills in the network's part of Meta: kind, configuration,
// format, LayerNorm ε and call.
func (m *Meta) setNetwork(spec nn.Spec) error {
	m.Kind = spec.Kind
	switch {
	case spec.Kind == "resmlp" && spec.ResMLP != nil:
		c := spec.ResMLP.WithDefaults()
		m.ResMLP, m.Format, m.LayerNormEps, m.Call = &c, FormatVersion, nn.LayerNormEps, call
	case spec.Kind == "dit" && spec.DiT != nil:
		c := spec.DiT.WithDefaults()
		m.DiT, m.Format, m.LayerNormEps, m.Call = &c, DiTFormatVersion, ditLayerNormEps, ditCall
	default:
		return fmt.Errorf("export: network kind %q: only resmlp and dit can be exported", spec.Kind)
	}
	return nil
}

// Dim returns D, the length of one flattened example of the network.
func (m Meta) Dim() int {
	if m.DiT != nil {
		return m.DiT.Dim()
	}
	if m.ResMLP != nil {
		return m.ResMLP.Dim
	}
	return 0
}

// WriteSafetensors writes the model as a safetensors file at path
// (atomically), with Meta as JSON under MetaKey.
func (m *Model) WriteSafetensors(path string) error {
	meta, err := json.Marshal(m.Meta)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := matio.WriteSafetensors(path, m.Tensors, map[string]string{"format": "pt", MetaKey: string(meta)}); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// NamingHelp states the tensors' names and layouts for help texts (the
// package doc says the same).
const NamingHelp = `Tensors (float32, C order; W = width, H = hidden, D = dim, E = time_dim):
  time1.weight (W, E), time1.bias (W), time2.weight (W, W), time2.bias (W),
  in.weight (W, D), in.bias (W),
  blockI.norm.weight (W), blockI.norm.bias (W), blockI.fc1.weight (H, W),
  blockI.fc1.bias (H), blockI.fc2.weight (W, H), blockI.fc2.bias (W)   for I = 0 … depth−1,
  norm_out.weight (W), norm_out.bias (W), out.weight (D, W), out.bias (D),
  skip.weight (D, D), skip.bias (D)   (only with the learned input skip);
every weight is (out, in), PyTorch's nn.Linear layout (y = x·Wᵀ + b). Then
schedule.alpha and schedule.sigma (float64, (T)): α_t and σ_t of the noise
schedule, for the input skips' gains. The network computes
  e = [cos(t·f), sin(t·f)], f_i = exp(−ln(max_period)·i/(E/2)), i < E/2
  h = in(x_t) + time2(act(time1(e)))
  h = h + blockI.fc2(act(blockI.fc1(LayerNorm_I(h))))   for each block
  pred = out(act(norm_out(h))) [+ c·x_t] [+ g·skip(x_t)]
with act SiLU or tanh-GELU, LayerNorm ε = 1e-5, and the input skips' gains
c = b·σ_t/(α_t²σ_d² + σ_t²) (sigma_data > 0), g = b/σ_t − c (skip), where b is
1 for eps and flow targets, α_t for v and 0 for x0.

A DiT's tensors (W = width, P = patch²·channels, L = (side/patch)² tokens,
M = mlp_ratio·W, F = freq_dim, D = channels·side²):
  patch.weight (W, P), patch.bias (W), pos (L, W) (only with learned_pos),
  time1.weight (W, F), time1.bias (W), time2.weight (W, W), time2.bias (W),
  blockI.adaln.weight (6W, W), blockI.adaln.bias (6W), blockI.qkv.weight (3W, W),
  blockI.qkv.bias (3W), blockI.proj.weight (W, W), blockI.proj.bias (W),
  blockI.fc1.weight (M, W), blockI.fc1.bias (M), blockI.fc2.weight (W, M),
  blockI.fc2.bias (W)   for I = 0 … depth−1,
  final.adaln.weight (2W, W), final.adaln.bias (2W), final.linear.weight (P, W),
  final.linear.bias (P), skip.weight (D, D), skip.bias (D) (learned skip only).
It cuts each channels-first image into row-major patches (features ordered
row, column, channel inside a patch), adds the fixed 2-D sin-cos position
table (or pos), conditions every block on c = time2(SiLU(time1(e))) through
adaLN-Zero (SiLU(c) → adaln, chunks shift, scale, gate of attention then of
the MLP; tanh-GELU MLP; LayerNorms without affine, ε = 1e-6), and
unpatchifies final.linear's output; the input skips are the ResMLP's.

The metadata key "paretodiff" holds the network spec, target, schedule,
weights (ema or raw), step, data and weighting as JSON.`
