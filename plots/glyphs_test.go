package plots

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMissingGlyphs(t *testing.T) {
	require.Equal(t, []rune{'∇'}, MissingGlyphs("‖∇L_k‖ ∇"), "Liberation has ‖ but no ∇")
	require.Empty(t, MissingGlyphs("λ γ σ ε ᾱ ≥ × − ± √ ρ ᵀ ‖ θ Σ"))
}

// texts returns every text the grid draws: titles, axis labels, tick
// labels and legend entries.
func (g Grid) texts() []string {
	out := []string{g.Title}
	for _, p := range g.Panels {
		if p == nil {
			continue
		}
		out = append(out, p.Title.Text, p.X.Label.Text, p.Y.Label.Text)
		for _, tk := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
			out = append(out, tk.Label)
		}
		for _, tk := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
			out = append(out, tk.Label)
		}
		for _, e := range p.entries {
			out = append(out, e.name)
		}
	}
	return out
}

// checkTexts fails if the grid draws a rune the font lacks.
func checkTexts(t *testing.T, g Grid) {
	t.Helper()
	for _, s := range g.texts() {
		require.Empty(t, MissingGlyphs(s), "%q", s)
	}
}
