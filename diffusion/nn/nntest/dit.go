package nntest

import (
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/diffusion/nn"
	G "gorgonia.org/gorgonia"
)

// PlainLayerNorm is (x − mean)/√(var + eps) per row with the biased
// variance and no gain or shift (the DiT's LayerNorms).
func (g *Graph) PlainLayerNorm(x *G.Node, eps float64) *G.Node {
	mean := must(G.Mean(x, 1))
	xc := must(G.BroadcastSub(x, mean, nil, []byte{1}))
	v := must(G.Mean(must(G.Square(xc)), 1))
	rstd := must(G.Inverse(must(G.Sqrt(must(G.Add(v, scalar(eps)))))))
	return must(G.BroadcastHadamardProd(xc, rstd, nil, []byte{1}))
}

// DiTInputs are the host-side inputs of DiT: the patch tokens and the
// timestep embedding, which are fixed maps of the data (tested on their
// own), and the skip gains.
type DiTInputs struct {
	// Z is the images' patch tokens (rows·L, P), in nn.Backend.Patchify's
	// order; X the images themselves (rows, D), for the learned skip.
	Z, X []float64
	// E is the timestep embedding (rows, FreqDim), see TimeEmbedding.
	E []float64
	// Pos is the fixed position table (L, W), used without LearnedPos.
	Pos []float64
	// Gain is the learned skip's per-row gain g (rows), with Skip.
	Gain []float64
}

// DiT builds the DiT of cfg (defaults applied) from the formulas in nn.DiT's
// documentation, example by example and head by head with 2-D operations
// (gorgonia's SoftMax for the attention weights), with parameters read from
// flat in the given layout. It returns the output tokens (rows·L, P) before
// the inverse Patchify, the learned skip's term g ⊙ skip(x) (rows, D; nil
// without Skip; the fixed skip c ⊙ x has no parameters and is left out),
// and one node per parameter, in layout order.
func (g *Graph) DiT(cfg nn.DiTConfig, layout []nn.Layout, flat []float64, in DiTInputs, rows int) (tokens, skip *G.Node, params []*G.Node) {
	cfg = cfg.WithDefaults()
	L, W, P, H := cfg.Tokens(), cfg.Width, cfg.PatchDim(), cfg.Heads
	nodes, params := g.paramNodes(layout, flat)
	lin := func(name string, x *G.Node) *G.Node { return g.Linear(x, nodes[name+".weight"], nodes[name+".bias"]) }
	sc := g.Act(nn.SiLU, lin("time2", g.Act(nn.SiLU, lin("time1", g.Matrix("e", rows, cfg.FreqDim, in.E)))))
	pos := nodes["pos"]
	if pos == nil {
		pos = g.Matrix("pos_fixed", L, W, in.Pos)
	}
	z := g.Matrix("z", rows*L, P, in.Z)
	mods := make([]*G.Node, cfg.Depth)
	for i := range mods {
		mods[i] = lin(fmt.Sprintf("block%d.adaln", i), sc)
	}
	modF := lin("final.adaln", sc)
	outs := make([]*G.Node, rows)
	for b := 0; b < rows; b++ {
		chunk := func(mod *G.Node, j int) *G.Node { return must(G.Slice(mod, G.S(b), G.S(j*W, (j+1)*W))) }
		modulate := func(x, shift, scale *G.Node) *G.Node {
			y := must(G.BroadcastHadamardProd(x, must(G.Add(scalar(1), scale)), nil, []byte{0}))
			return must(G.BroadcastAdd(y, shift, nil, []byte{0}))
		}
		gate := func(x, gt *G.Node) *G.Node { return must(G.BroadcastHadamardProd(x, gt, nil, []byte{0})) }
		h := must(G.Add(lin("patch", must(G.Slice(z, G.S(b*L, (b+1)*L)))), pos))
		for i, mod := range mods {
			p := fmt.Sprintf("block%d.", i)
			u := modulate(g.PlainLayerNorm(h, 1e-6), chunk(mod, 0), chunk(mod, 1))
			a := g.attention(lin(p+"qkv", u), W, H)
			h = must(G.Add(h, gate(lin(p+"proj", a), chunk(mod, 2))))
			u = modulate(g.PlainLayerNorm(h, 1e-6), chunk(mod, 3), chunk(mod, 4))
			h = must(G.Add(h, gate(lin(p+"fc2", g.Act(nn.GELU, lin(p+"fc1", u))), chunk(mod, 5))))
		}
		outs[b] = lin("final.linear", modulate(g.PlainLayerNorm(h, 1e-6), chunk(modF, 0), chunk(modF, 1)))
	}
	tokens = outs[0]
	if rows > 1 {
		tokens = must(G.Concat(0, outs...))
	}
	if cfg.Skip {
		xn := g.Matrix("x", rows, cfg.Dim(), in.X)
		skip = must(G.BroadcastHadamardProd(lin("skip", xn), g.Vector("skip_g", in.Gain), nil, []byte{1}))
	}
	return tokens, skip, params
}

// attention is softmax(q kᵀ/√dh) v per head of one example's qkv (L, 3W),
// heads concatenated (L, W).
func (g *Graph) attention(qkv *G.Node, W, H int) *G.Node {
	dh := W / H
	heads := make([]*G.Node, H)
	for h := range heads {
		col := func(chunk int) *G.Node {
			return must(G.Slice(qkv, nil, G.S(chunk*W+h*dh, chunk*W+(h+1)*dh)))
		}
		s := must(G.Mul(must(G.Mul(col(0), must(G.Transpose(col(1))))), scalar(1/math.Sqrt(float64(dh)))))
		heads[h] = must(G.Mul(must(G.SoftMax(s)), col(2)))
	}
	if H == 1 {
		return heads[0]
	}
	return must(G.Concat(1, heads...))
}

// paramNodes adds one input node per parameter of layout, holding its
// values in flat: a matrix for two dimensions, a vector otherwise.
func (g *Graph) paramNodes(layout []nn.Layout, flat []float64) (map[string]*G.Node, []*G.Node) {
	nodes := map[string]*G.Node{}
	params := make([]*G.Node, len(layout))
	for i, l := range layout {
		n := 1
		for _, d := range l.Shape {
			n *= d
		}
		v := flat[l.Offset : l.Offset+n]
		if len(l.Shape) == 2 {
			params[i] = g.Matrix(l.Name, l.Shape[0], l.Shape[1], v)
		} else {
			params[i] = g.Vector(l.Name, v)
		}
		nodes[l.Name] = params[i]
	}
	return nodes, params
}
