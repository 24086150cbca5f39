package nn

// The input skips of a preconditioned network (ResMLP and DiT alike): the
// output of the network's last layer gets the fixed skip c_r·x_r and the
// learned skip g_r·skip(x_r), skip a Linear D → D, with per-row gains c
// and g that the caller supplies (see PrecondNetwork).

// addSkips adds the skips to out (rows, D): out += c ⊙ x when fixed is
// set, and out += g ⊙ skip(x) (its output in skipOut) when skip is not
// nil. ones holds at least rows ones.
func addSkips(be Backend, out, x, c, g Tensor, fixed bool, skip *Linear, skipOut, ones Tensor, rows, D int) {
	if !fixed && skip == nil {
		return // ones exists only in a network with skips
	}
	o, one := out.View(0, rows*D), ones.View(0, rows)
	if fixed {
		be.RowAxpby(o, one, o, c, x, rows, D)
	}
	if skip != nil {
		skip.Forward(skipOut, x, rows)
		be.RowAxpby(o, one, o, g, skipOut.View(0, rows*D), rows, D)
	}
}

// skipsBackward accumulates the learned skip's parameter gradients from
// dout (rows, D): its output gradient g ⊙ dout goes to dskip, which the
// per-bin Gram reads as the layer's δ rows. The fixed skip has no
// parameters. zeros holds at least rows zeros.
func skipsBackward(be Backend, skip *Linear, dskip, dout, x, g, zeros Tensor, rows, D int) {
	if skip == nil {
		return
	}
	be.RowAxpby(dskip.View(0, rows*D), g, dout, zeros.View(0, rows), dout, rows, D)
	skip.Backward(Tensor{}, dskip, x, rows)
}
