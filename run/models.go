package run

import (
	"fmt"
	"strings"

	"github.com/paretodiff/paretodiff/diffusion/nn"
)

// Models are the network names that the command line's --model takes (and
// reproduce's): the ResMLP and the DiT presets.
var Models = []string{"resmlp", "dit", "dit-s"}

// ModelNet returns the network a model name of Models names, before the
// data's shape and the defaults (Normalize fills them in): "resmlp" the
// ResMLP of default sizes, "dit" a DiT of nn.DiTPreset("small") and
// "dit-s" one of nn.DiTPreset("s") (DiT-S/2's transformer).
func ModelNet(name string) (nn.Spec, error) {
	preset := ""
	switch name {
	case "resmlp":
		return nn.Spec{Kind: "resmlp", ResMLP: &nn.ResMLPConfig{}}, nil
	case "dit":
		preset = "small"
	case "dit-s":
		preset = "s"
	default:
		return nn.Spec{}, fmt.Errorf("unknown model %q (want %s)", name, strings.Join(Models, ", "))
	}
	c, err := nn.DiTPreset(preset)
	if err != nil {
		return nn.Spec{}, err
	}
	return nn.Spec{Kind: "dit", DiT: &c}, nil
}
