package plots

import (
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
)

// MissingGlyphs returns the runes of s that the figures' font (gonum/plot's
// default, Liberation Serif) has no glyph for, in order, each once: text
// with them would be drawn with gaps (‖∇L‖ reads ‖L‖). Write such text
// another way.
func MissingGlyphs(s string) []rune {
	face := font.DefaultCache.Lookup(plot.DefaultFont, 12)
	var out []rune
	seen := map[rune]bool{}
	for _, r := range s {
		if seen[r] || r == '\n' {
			continue
		}
		seen[r] = true
		// A nil buffer is valid (sfnt allocates one).
		if i, err := face.Face.GlyphIndex(nil, r); err != nil || i == 0 {
			out = append(out, r)
		}
	}
	return out
}
