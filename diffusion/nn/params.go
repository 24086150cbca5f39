package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

var (
	_ Backend = (*CPU[float32])(nil)
	_ Backend = (*CPU[float64])(nil)
)

// Init says how a parameter's initial values are drawn.
type Init struct {
	// Kind is "uniform" (U(−Bound, Bound)), "const" (every value Value),
	// "normal" (N(0, Std²)) or "values" (a copy of Values, drawing nothing).
	Kind string
	// Bound is the uniform initialiser's half-width, Value the constant and
	// Std the normal initialiser's standard deviation.
	Bound, Value, Std float64
	// Values are the initial values of a "values" initialiser, one per
	// element of the parameter.
	Values []float64
}

// Uniform is the initialiser U(−bound, bound); PyTorch's nn.Linear uses
// bound = 1/√fan_in for both weight and bias.
func Uniform(bound float64) Init { return Init{Kind: "uniform", Bound: bound} }

// Const is the initialiser that sets every value to v.
func Const(v float64) Init { return Init{Kind: "const", Value: v} }

// Normal is the initialiser N(0, std²), drawn with the PCG's NormFloat64
// (DiT initialises its timestep MLP with std = 0.02).
func Normal(std float64) Init { return Init{Kind: "normal", Std: std} }

// Values is the initialiser that copies v, one value per element (the DiT's
// learned position table starts as the fixed sin-cos table). It draws
// nothing from the generator.
func Values(v []float64) Init { return Init{Kind: "values", Values: v} }

// XavierUniform is Glorot & Bengio's (2010) uniform initialiser
// U(±√(6/(fanIn + fanOut))), PyTorch's nn.init.xavier_uniform_.
func XavierUniform(fanIn, fanOut int) Init {
	return Uniform(math.Sqrt(6 / float64(fanIn+fanOut)))
}

// Param is one named parameter tensor of a network: a view into the flat
// parameter buffer and the same view into the flat gradient buffer.
type Param struct {
	// Name is unique within its ParamSet, such as "block0.fc1.weight".
	Name string
	// Size is the number of elements; Shape documents their layout.
	Size  int
	Shape []int // row-major dimensions, such as (Out, In)
	// Decay reports whether AdamW's weight decay applies (weights: yes;
	// biases and normalisation gains: no).
	Decay bool
	// Offset is the parameter's first element in the flat buffers.
	Offset int
	// Value and Grad are the views; they are absent until the set is built.
	Value, Grad Tensor
	init        Init
}

// ParamSet collects the parameters of a network and then allocates them in
// one flat buffer, and their gradients in a second flat buffer of the same
// layout. Layout (the invariant every flat buffer shares: parameters,
// gradients, AdamW moments, EMA): parameters in the order they were added,
// except that all Decay parameters come first, so that [0, DecayLen) is the
// part weight decay applies to.
type ParamSet struct {
	params   []*Param
	byName   map[string]*Param
	built    bool
	total    int
	decayLen int
	// Flat holds all parameters (Len()), Grad their gradients, same layout.
	Flat, Grad Tensor
}

// Add registers a parameter and returns it; its tensors are set by Build.
// It panics on a duplicate name, a non-positive size or after Build.
func (s *ParamSet) Add(name string, shape []int, decay bool, init Init) *Param {
	if s.built {
		panic("nn: ParamSet.Add after Build")
	}
	if s.byName == nil {
		s.byName = map[string]*Param{}
	}
	if _, dup := s.byName[name]; dup {
		panic(fmt.Sprintf("nn: duplicate parameter %q", name))
	}
	size := 1
	for _, d := range shape {
		size *= d
	}
	if size <= 0 {
		panic(fmt.Sprintf("nn: parameter %q has shape %v", name, shape))
	}
	p := &Param{Name: name, Size: size, Shape: append([]int(nil), shape...), Decay: decay, init: init}
	s.params = append(s.params, p)
	s.byName[name] = p
	return p
}

// Build lays the parameters out, allocates the flat parameter and gradient
// buffers on be and binds every Param's views. Values are zero until Init.
func (s *ParamSet) Build(be Backend) {
	if s.built {
		panic("nn: ParamSet.Build called twice")
	}
	s.built = true
	s.layOut()
	s.Flat, s.Grad = be.Alloc(s.total), be.Alloc(s.total)
	for _, p := range s.params {
		p.Value, p.Grad = s.View(s.Flat, p), s.View(s.Grad, p)
	}
}

// layOut sets every parameter's offset, the decay length and the total.
func (s *ParamSet) layOut() {
	off := 0
	for _, decay := range []bool{true, false} {
		for _, p := range s.params {
			if p.Decay == decay {
				p.Offset = off
				off += p.Size
			}
		}
		if decay {
			s.decayLen = off
		}
	}
	s.total = off
}

// Len returns P, the total number of parameters.
func (s *ParamSet) Len() int { return s.total }

// DecayLen returns the number of leading elements weight decay applies to.
func (s *ParamSet) DecayLen() int { return s.decayLen }

// Params returns the parameters in the order they were added.
func (s *ParamSet) Params() []*Param { return s.params }

// Lookup returns the parameter with the given name, or nil.
func (s *ParamSet) Lookup(name string) *Param { return s.byName[name] }

// View returns p's part of flat, any P-element buffer with the set's layout
// (parameters, gradients, optimiser moments, EMA weights).
func (s *ParamSet) View(flat Tensor, p *Param) Tensor {
	if flat.Len() != s.total {
		panic(fmt.Sprintf("nn: View of %q in a buffer of %d elements, the set has %d", p.Name, flat.Len(), s.total))
	}
	return flat.View(p.Offset, p.Size)
}

// Init draws every parameter's initial values on the host from rng, in the
// order the parameters were added, and uploads them. The same rng state
// gives the same values on every backend.
func (s *ParamSet) Init(be Backend, rng *rand.Rand) {
	host := make([]float32, s.total)
	for _, p := range s.params {
		v := host[p.Offset : p.Offset+p.Size]
		switch p.init.Kind {
		case "uniform":
			for i := range v {
				v[i] = float32(p.init.Bound * (2*rng.Float64() - 1))
			}
		case "const":
			for i := range v {
				v[i] = float32(p.init.Value)
			}
		case "normal":
			for i := range v {
				v[i] = float32(p.init.Std * rng.NormFloat64())
			}
		case "values":
			if len(p.init.Values) != p.Size {
				panic(fmt.Sprintf("nn: parameter %q of %d elements has %d initial values", p.Name, p.Size, len(p.init.Values)))
			}
			for i, x := range p.init.Values {
				v[i] = float32(x)
			}
		default:
			panic(fmt.Sprintf("nn: parameter %q has unknown init %q", p.Name, p.init.Kind))
		}
	}
	be.Upload(s.Flat, host)
}

// ZeroGrad sets every gradient to zero.
func (s *ParamSet) ZeroGrad(be Backend) { be.Fill(s.Grad, 0) }

// Layout describes one parameter of a set for files and other programs.
type Layout struct {
	Name   string `json:"name"`   // the parameter's name
	Offset int    `json:"offset"` // first element in the flat buffers
	Shape  []int  `json:"shape"`  // row-major dimensions
	Decay  bool   `json:"decay"`  // whether weight decay applies
}

// Layout returns every parameter's name, offset, shape and decay flag.
func (s *ParamSet) Layout() []Layout {
	out := make([]Layout, len(s.params))
	for i, p := range s.params {
		out[i] = Layout{Name: p.Name, Offset: p.Offset, Shape: p.Shape, Decay: p.Decay}
	}
	return out
}

// linearBound is PyTorch's default nn.Linear bound 1/√fan_in.
func linearBound(fanIn int) float64 { return 1 / math.Sqrt(float64(fanIn)) }
