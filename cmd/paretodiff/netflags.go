package main

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/run"
	"github.com/spf13/pflag"
)

// netOptions are the flags that choose and size the network (train's and
// conflict's): --model and the sizes of its kind.
type netOptions struct {
	model, act                         string
	width, depth, hidden, patch, heads int
	mlpRatio                           float64
	learnedPos                         bool
}

// modelsHelp lists the --model names for flag texts.
const modelsHelp = "resmlp (a residual MLP), dit (a small DiT for MNIST on the CPU: patch 4, width 64, depth 4, heads 4, mlp ratio 4) or dit-s (DiT-S/2's transformer: patch 2, width 384, depth 12, heads 6; for a GPU); a DiT needs image data (mnist)"

// kindFlags are the network flags that only one kind takes; the others
// (--width, --depth, --skip, --sigma-data) size every kind.
var kindFlags = map[string]string{
	"hidden": "resmlp", "act": "resmlp",
	"patch": "dit", "heads": "dit", "mlp-ratio": "dit", "learned-pos": "dit",
}

// addFlags registers the network flags. --width and --depth default to 0,
// the model's own default (256 and 3 for resmlp, the preset's for dit).
func (o *netOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.model, "model", "resmlp", "network: "+modelsHelp)
	f.IntVar(&o.width, "width", 0, "trunk width (resmlp; default 256) or token width (dit; default the preset's)")
	f.IntVar(&o.depth, "depth", 0, "residual blocks (resmlp; default 3) or transformer blocks (dit; default the preset's)")
	f.IntVar(&o.hidden, "hidden", 0, "ResMLP block inner width (0: 2×width)")
	f.StringVar(&o.act, "act", "silu", "ResMLP activation: silu or gelu")
	f.IntVar(&o.patch, "patch", 0, "DiT patch side, a divisor of the image side (default the preset's)")
	f.IntVar(&o.heads, "heads", 0, "DiT attention heads, a divisor of --width (default the preset's)")
	f.Float64Var(&o.mlpRatio, "mlp-ratio", 0, "DiT MLP inner width as a multiple of --width (default the preset's)")
	f.BoolVar(&o.learnedPos, "learned-pos", false, "DiT: learn the position table, starting from the fixed 2-D sin-cos table")
}

// kind returns the network kind of --model.
func (o *netOptions) kind() (string, error) {
	net, err := o.preset()
	return net.Kind, err
}

// preset is --model's network (run.ModelNet): the ResMLP or a DiT preset.
func (o *netOptions) preset() (nn.Spec, error) {
	net, err := run.ModelNet(o.model)
	if err != nil {
		return nn.Spec{}, usagef("--model %q: want %s", o.model, strings.Join(run.Models, ", "))
	}
	return net, nil
}

// spec is the network the flags describe, not yet normalised (run.Spec
// fills in the data's shape and the defaults): --model's kind, started
// from base where it is of that kind (a resumed run's network, so that a
// flag given is checked against the run's other sizes) or else from the
// model's preset, with every flag given (changed) applied, and the input
// skips sigmaData and skip. A flag of another kind is a usage error.
func (o *netOptions) spec(changed func(string) bool, base *nn.Spec, sigmaData float64, skip bool) (nn.Spec, error) {
	kind, err := o.kind()
	if err != nil {
		return nn.Spec{}, err
	}
	for _, name := range sortedKeys(kindFlags) {
		if k := kindFlags[name]; changed(name) && k != kind {
			return nn.Spec{}, usagef("--%s: only --model %s takes it, not %s", name, k, o.model)
		}
	}
	if (changed("width") && o.width < 1) || (changed("depth") && o.depth < 1) || o.hidden < 0 {
		return nn.Spec{}, usagef("--width and --depth must be ≥ 1 and --hidden ≥ 0")
	}
	if kind == "dit" {
		c, err := o.dit(changed, base)
		if err != nil {
			return nn.Spec{}, err
		}
		c.SigmaData, c.Skip = sigmaData, skip
		return nn.Spec{Kind: kind, DiT: &c}, nil
	}
	act, err := nn.ParseActivation(o.act)
	if err != nil {
		return nn.Spec{}, usagef("--act: %v", err)
	}
	c := nn.ResMLPConfig{}
	if base != nil && base.Kind == kind && base.ResMLP != nil {
		c = *base.ResMLP
	}
	set(changed, "width", &c.Width, o.width)
	set(changed, "depth", &c.Depth, o.depth)
	set(changed, "hidden", &c.Hidden, o.hidden)
	set(changed, "act", &c.Act, act)
	c.SigmaData, c.Skip = sigmaData, skip
	return nn.Spec{Kind: kind, ResMLP: &c}, nil
}

// dit is the DiT configuration of the flags: base's or --model's preset,
// with the flags given.
func (o *netOptions) dit(changed func(string) bool, base *nn.Spec) (nn.DiTConfig, error) {
	var c nn.DiTConfig
	if base != nil && base.Kind == "dit" && base.DiT != nil {
		c = *base.DiT
	} else {
		net, err := o.preset()
		if err != nil {
			return c, err
		}
		c = *net.DiT
	}
	if (changed("patch") && o.patch < 1) || (changed("heads") && o.heads < 1) {
		return c, usagef("--patch and --heads must be ≥ 1")
	}
	if changed("mlp-ratio") && (!(o.mlpRatio > 0) || math.IsInf(o.mlpRatio, 0)) {
		return c, usagef("--mlp-ratio must be a finite number > 0, got %g", o.mlpRatio)
	}
	set(changed, "width", &c.Width, o.width)
	set(changed, "depth", &c.Depth, o.depth)
	set(changed, "patch", &c.Patch, o.patch)
	set(changed, "heads", &c.Heads, o.heads)
	set(changed, "mlp-ratio", &c.MLPRatio, o.mlpRatio)
	set(changed, "learned-pos", &c.LearnedPos, o.learnedPos)
	return c, nil
}

// set stores v in *field if the flag was given.
func set[T any](changed func(string) bool, flag string, field *T, v T) {
	if changed(flag) {
		*field = v
	}
}

// sortedKeys returns a map's keys in order (stable messages).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// modelOf is the --model name of a stored network for a resumed run: its
// kind (a DiT's sizes come from the run, whichever preset it started
// from).
func modelOf(s nn.Spec) string {
	if s.Kind == "" {
		return "resmlp"
	}
	return s.Kind
}

// netField is a trajectory flag's field in the network's configuration of
// either kind (nil for a kind without it).
func netField(resmlp func(*nn.ResMLPConfig) any, dit func(*nn.DiTConfig) any) func(*run.Spec) any {
	return func(s *run.Spec) any {
		switch {
		case s.Net.Kind == "dit" && s.Net.DiT != nil && dit != nil:
			return dit(s.Net.DiT)
		case s.Net.Kind != "dit" && s.Net.ResMLP != nil && resmlp != nil:
			return resmlp(s.Net.ResMLP)
		}
		return nil
	}
}

// copyNet returns s with its configuration copied (a spec to change
// without changing the one it came from).
func copyNet(s nn.Spec) nn.Spec {
	if s.ResMLP != nil {
		c := *s.ResMLP
		s.ResMLP = &c
	}
	if s.DiT != nil {
		c := *s.DiT
		s.DiT = &c
	}
	return s
}

// describeNet names a network's architecture in one phrase for messages.
func describeNet(s nn.Spec) string {
	if s.Kind == "dit" && s.DiT != nil {
		c := s.DiT
		return fmt.Sprintf("DiT, patch %d, width %d, depth %d, heads %d", c.Patch, c.Width, c.Depth, c.Heads)
	}
	if s.ResMLP != nil {
		return fmt.Sprintf("ResMLP, width %d, depth %d", s.ResMLP.Width, s.ResMLP.Depth)
	}
	return s.Kind
}
