package classifier

import (
	"fmt"
	"math/rand/v2"

	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// Arch is the architecture of an MLP classifier. Zero fields take the
// documented defaults (WithDefaults).
type Arch struct {
	// In is the length of an input row (default 784, MNIST).
	In int `json:"in"`
	// Hidden are the widths of the hidden layers (default {256, 128}); the
	// activations of the last one are the features.
	Hidden []int `json:"hidden"`
	// Classes is the number of classes K (default 10).
	Classes int `json:"classes"`
	// Act is the nonlinearity after every hidden layer (the zero value is
	// SiLU).
	Act nn.Activation `json:"act"`
}

// WithDefaults returns a with zero fields set to their defaults.
func (a Arch) WithDefaults() Arch {
	if a.In == 0 {
		a.In = 784
	}
	if len(a.Hidden) == 0 {
		a.Hidden = []int{256, 128}
	} else {
		a.Hidden = append([]int(nil), a.Hidden...)
	}
	if a.Classes == 0 {
		a.Classes = 10
	}
	return a
}

// maxWidth bounds every width of an Arch, so that sizes computed from a
// file's header cannot overflow.
const maxWidth = 1 << 20

func (a Arch) validate() error {
	if a.In < 1 || a.Classes < 2 || a.In > maxWidth || a.Classes > maxWidth {
		return fmt.Errorf("classifier: need 1 ≤ in ≤ 2^20 and 2 ≤ classes ≤ 2^20, got %d and %d", a.In, a.Classes)
	}
	if len(a.Hidden) > 64 {
		return fmt.Errorf("classifier: %d hidden layers, at most 64", len(a.Hidden))
	}
	for _, h := range a.Hidden {
		if h < 1 || h > maxWidth {
			return fmt.Errorf("classifier: hidden widths must be in 1..2^20, got %v", a.Hidden)
		}
	}
	if a.Act != nn.SiLU && a.Act != nn.GELU {
		return fmt.Errorf("classifier: invalid activation %d", int(a.Act))
	}
	return nil
}

// params returns the number of parameters of the network.
func (a Arch) params() int {
	n, in := 0, a.In
	for _, h := range a.Hidden {
		n += in*h + h
		in = h
	}
	return n + in*a.Classes + a.Classes
}

// Features returns F, the width of the feature layer (the last hidden one).
func (a Arch) Features() int { return a.Hidden[len(a.Hidden)-1] }

// MLP is a multilayer perceptron in the explicit-layer style of package nn:
//
//	u₀ = fc0(x),  aᵢ = f(uᵢ),  uᵢ₊₁ = fcᵢ₊₁(aᵢ)  for the hidden layers,
//	logits = out(a_last)
//
// with every fcᵢ and out an nn.Linear (parameters "fc0.weight", "fc0.bias",
// …, "out.weight", "out.bias") and f the activation. a_last (rows, F) is
// the feature layer. Forward keeps every activation in its own buffer for
// Backward, which accumulates into Params().Grad.
type MLP struct {
	arch   Arch
	be     nn.Backend
	ps     *nn.ParamSet
	hidden []*nn.Linear
	out    *nn.Linear

	capRows int
	x       nn.Tensor   // the last Forward's input (the caller's)
	rows    int         // rows of the last Forward
	u, a    []nn.Tensor // per hidden layer: pre-activation and activation (cap, Hᵢ)
	du      []nn.Tensor // per hidden layer: gradient of uᵢ (cap, Hᵢ)
}

// NewMLP builds an MLP on be with zeroed parameters; call
// Params().Init(be, rng) or InitMLP to draw initial values.
func NewMLP(be nn.Backend, arch Arch) (*MLP, error) {
	arch = arch.WithDefaults()
	if err := arch.validate(); err != nil {
		return nil, err
	}
	m := &MLP{arch: arch, be: be, ps: &nn.ParamSet{}}
	in := arch.In
	for i, h := range arch.Hidden {
		m.hidden = append(m.hidden, nn.NewLinear(be, m.ps, fmt.Sprintf("fc%d", i), in, h))
		in = h
	}
	m.out = nn.NewLinear(be, m.ps, "out", in, arch.Classes)
	m.ps.Build(be)
	return m, nil
}

// InitMLP builds an MLP and draws its initial parameters (PyTorch's
// nn.Linear initialisation, U(±1/√fan_in)) from rand.NewPCG(seed, 0).
func InitMLP(be nn.Backend, arch Arch, seed uint64) (*MLP, error) {
	m, err := NewMLP(be, arch)
	if err != nil {
		return nil, err
	}
	m.ps.Init(be, rand.New(rand.NewPCG(seed, 0)))
	return m, nil
}

// Arch returns the architecture with defaults filled in.
func (m *MLP) Arch() Arch { return m.arch }

// Backend returns the backend the network lives on.
func (m *MLP) Backend() nn.Backend { return m.be }

// Params returns the network's parameters.
func (m *MLP) Params() *nn.ParamSet { return m.ps }

// reserve makes the activation buffers hold at least rows rows.
func (m *MLP) reserve(rows int) {
	if rows <= m.capRows {
		return
	}
	for _, ts := range [][]nn.Tensor{m.u, m.a, m.du} {
		for _, t := range ts {
			m.be.Free(t)
		}
	}
	m.u, m.a, m.du = nil, nil, nil
	for _, h := range m.arch.Hidden {
		m.u = append(m.u, m.be.Alloc(rows*h))
		m.a = append(m.a, m.be.Alloc(rows*h))
		m.du = append(m.du, m.be.Alloc(rows*h))
	}
	m.capRows = rows
}

// Forward computes logits (rows, K) from x (rows, In) and keeps the
// activations (and a reference to x, which must stay unchanged until
// Backward).
func (m *MLP) Forward(logits, x nn.Tensor, rows int) {
	m.reserve(rows)
	if x.Len() < rows*m.arch.In || logits.Len() < rows*m.arch.Classes {
		panic(fmt.Sprintf("classifier: MLP.Forward of %d rows with x of %d and logits of %d elements", rows, x.Len(), logits.Len()))
	}
	m.x, m.rows = x, rows
	in := x
	for i, l := range m.hidden {
		n := rows * l.Out
		l.Forward(m.u[i], in, rows)
		m.be.Activate(m.arch.Act, m.a[i].View(0, n), m.u[i].View(0, n))
		in = m.a[i]
	}
	m.out.Forward(logits, in, rows)
}

// Features returns the feature rows of the last Forward, (rows, F): a view
// of the network's buffer, overwritten by the next Forward.
func (m *MLP) Features() nn.Tensor {
	L := len(m.hidden) - 1
	return m.a[L].View(0, m.rows*m.arch.Hidden[L])
}

// Backward accumulates the gradient of the loss into Params().Grad, given
// dlogits (rows, K), the gradient with respect to the logits of the last
// Forward, which must have had the same rows.
func (m *MLP) Backward(dlogits nn.Tensor, rows int) {
	if rows != m.rows {
		panic(fmt.Sprintf("classifier: MLP.Backward with %d rows after a Forward of %d", rows, m.rows))
	}
	L := len(m.hidden) - 1
	// dout → gradient of a_L, written into du[L] and turned into the
	// gradient of u_L in place.
	m.out.Backward(m.du[L], dlogits, m.a[L], rows)
	for i := L; i >= 0; i-- {
		n := rows * m.arch.Hidden[i]
		du := m.du[i].View(0, n)
		m.be.ActivateBackward(m.arch.Act, du, m.u[i].View(0, n), du)
		in := m.x
		var dIn nn.Tensor // absent for the first layer: no input gradient
		if i > 0 {
			in, dIn = m.a[i-1], m.du[i-1]
		}
		m.hidden[i].Backward(dIn, m.du[i], in, rows)
	}
}
