package learned

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/diffusion"
)

// Learned is the learned uncertainty weighting as a training weighting
// (diffusion.ParamPass). Each step, on the step's batch with timesteps
// t_b, it trains the network and u together on
//
//	J = (1/B)·Σ_b [ L_b·e^{−u(t_b)} + u(t_b) ],
//
// where L_b is, by default, the example's loss on the model's own target,
// ‖target_b − pred_b‖²/D (the ε-, v- or x0-MSE): the loss EDM2's u divides
// is the one its network trains on. Why not the x0-MSE, on which the
// toolkit states every weighting: for an ε- or v-model the x0-MSE of the
// high timesteps is that loss times 1/SNR, up to 10⁴ on the cosine
// schedule, so starting from u = 0 the first steps train on an inverse-SNR
// weighting, and u's gradient is dominated by those few examples; on toy
// data this costs sample quality (README, "Learned uncertainty
// weighting"). Config.Base = constant gives that variant, and any closed
// form w makes L_b = w(t_b)·‖x0_b − x̂0_b‖²/D.
//
// The weights are stated on the x0 scale all the same: with ‖target −
// pred‖² = c·‖x0 − x̂0‖², c = weighting.Target.LossScale, the effective
// weight on the x0 loss is c(t)·e^{−u(t)}: SNR·e^{−u} for ε, (SNR + 1)·e^{−u}
// for v and e^{−u} for x0 (with a base w: w·e^{−u}; Config.X0Weight). That
// is what Compare puts next to the closed forms' X0Weight and the Pareto
// weights, which weigh the bins' x0-MSEs. At the fixed point e^{u(t)} =
// E[L | t] (per bin: the bin's mean loss), every timestep's weighted loss
// is 1: the learned weighting equalises the timesteps' losses, as EDM2's
// does, and the effective x0 weight is c(t)/E[c·x0-MSE].
//
// The network's gradient is that of Σ_b e^{−u_b}·L_b/B (the pass of
// Objective.Loss with coefficients c_b·e^{−u_b}); u's is ∂J/∂u_b = (1 −
// L_b·e^{−u_b})/B through the model (Model.AddGrad), and u takes an Adam
// step (its own, lr Config.LR) inside the pass, after the network's
// gradient is formed with the u of the step's start. The training loss
// the pass returns, which metrics record, is Σ_b e^{−u_b}·L_b/B, without
// the Σu/B term. A batch whose losses are not finite stops training
// before u changes; a non-finite network gradient, which the trainer
// refuses after the pass, finds u stepped already, but training stops
// there all the same and no checkpoint holds that u.
//
// Learned is deterministic from the run's seed (u starts at 0, and the
// Fourier features come from StreamFourier), and its state (u and Adam's
// moments) is in every checkpoint (PassState), so a resumed run is
// bit-identical to an uninterrupted one. Not safe for concurrent use.
type Learned struct {
	cfg   Config
	tr    *diffusion.Trainer
	model Model
	opt   adam
	x0    []float64 // L_b/mse_b of each timestep: X0Scale times the base's weight
	base  []float64 // the base's weight of each timestep on the x0 loss
	u, g  []float64 // per example of the batch
	grad  []float64 // of the model's parameters
}

// newLearned binds a new weighting with model m to the trainer.
func newLearned(cfg Config, tr *diffusion.Trainer, m Model) *Learned {
	if cfg.LR == 0 {
		cfg.LR = DefaultLR
	}
	n := len(m.Params())
	T := tr.Config().Schedule.T()
	l := &Learned{cfg: cfg, tr: tr, model: m, opt: newAdam(n), x0: make([]float64, T), base: make([]float64, T), grad: make([]float64, n)}
	for t := range l.x0 {
		l.base[t] = cfg.BaseWeight(tr.Config().Target, tr.Config().Schedule.SNR(t))
		l.x0[t] = tr.Objective().X0Scale(t) * l.base[t]
	}
	return l
}

// Config returns the configuration.
func (l *Learned) Config() Config { return l.cfg }

// String returns the configuration's spec.
func (l *Learned) String() string { return l.cfg.String() }

// Model returns the model of u, live: its U is the current u.
func (l *Learned) Model() Model { return l.model }

// Pass is the trainer's StepPass: the network's pass with every example's
// coefficient times e^{−u(t_b)}, then u's Adam step (see Learned).
func (l *Learned) Pass(step int, b diffusion.Batch, c, mse []float64) (float64, error) {
	B := b.Len()
	if len(l.u) != B {
		l.u, l.g = make([]float64, B), make([]float64, B)
	}
	for i, t := range b.T {
		l.u[i] = l.model.U(t)
		c[i] *= l.base[t] * math.Exp(-l.u[i])
	}
	loss := l.tr.Objective().Loss(b, c, mse, true)
	for i, t := range b.T {
		L := mse[i] * l.x0[t]
		if math.IsNaN(L) || math.IsInf(L, 0) {
			return 0, fmt.Errorf("learned: step %d: the loss of example %d is %v", step, i, L)
		}
		_, d := UncertaintyLoss(L, l.u[i])
		l.g[i] = d / float64(B)
	}
	clear(l.grad)
	l.model.AddGrad(l.grad, b.T, l.g)
	l.opt.update(l.model.Params(), l.grad, l.cfg.LR)
	return loss, nil
}

// PassParams returns a copy of u's parameters (diffusion.ParamPass): the
// K values of u for bins, the H feature weights and the bias for the
// Fourier model.
func (l *Learned) PassParams() []float64 { return append([]float64(nil), l.model.Params()...) }

// passState is what PassState writes: JSON numbers round-trip float64
// exactly.
type passState struct {
	Weighting string    `json:"weighting"`
	Params    []float64 `json:"params"`
	M         []float64 `json:"m"`
	V         []float64 `json:"v"`
	Step      int       `json:"step"`
}

// PassState returns u's parameters and Adam's state as JSON
// (diffusion.ParamPass).
func (l *Learned) PassState() json.RawMessage {
	b, err := json.Marshal(passState{Weighting: l.cfg.String(), Params: l.model.Params(), M: l.opt.M, V: l.opt.V, Step: l.opt.Step})
	if err != nil {
		panic(err) // finite float64s: Pass refuses non-finite losses before u changes
	}
	return b
}

// SetPassState sets u's parameters and Adam's state to a PassState's
// (diffusion.ParamPass); a state of another configuration, or none (nil),
// is an error.
func (l *Learned) SetPassState(raw json.RawMessage) error {
	if raw == nil {
		return errors.New("learned: the checkpoint holds no state of u")
	}
	var s passState
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("learned: state: %w", err)
	}
	n := len(l.model.Params())
	switch {
	case s.Weighting != l.cfg.String():
		return fmt.Errorf("learned: state of %q, not %q", s.Weighting, l.cfg.String())
	case len(s.Params) != n || len(s.M) != n || len(s.V) != n:
		return fmt.Errorf("learned: state of %d, %d and %d values for %d parameters", len(s.Params), len(s.M), len(s.V), n)
	case s.Step < 0:
		return errors.New("learned: state with a negative step")
	}
	copy(l.model.Params(), s.Params)
	copy(l.opt.M, s.M)
	copy(l.opt.V, s.V)
	l.opt.Step = s.Step
	return nil
}

var _ diffusion.ParamPass = (*Learned)(nil)
