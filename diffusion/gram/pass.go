package gram

import (
	"errors"
	"fmt"
	"math"

	"github.com/paretodiff/paretodiff/diffusion"
	"github.com/paretodiff/paretodiff/diffusion/nn"
	"github.com/paretodiff/paretodiff/weighting"
)

// SiteNetwork is a network that exposes, after a forward and a backward
// pass, the input rows a_n and output-gradient rows δ_n of each of its
// Linear layers and the rows of each LayerNorm (nn.ResMLP does). Pass
// needs it: every parameter it is asked for must belong to one of these
// layers. A LinearSite whose OutGrad is absent is the network's output
// layer; its δ rows are the gradient of the loss with respect to the
// prediction, which the diffusion.Objective holds.
type SiteNetwork interface {
	nn.Network
	LinearSites() []nn.LinearSite
	NormSites() []nn.NormSite
}

// Method says how a Linear layer's share of the per-bin Gram matrix is
// formed by Pass.
type Method int

const (
	// Auto picks, layer by layer, the cheaper of Ghost and
	// Materialize by the cost model of Settings.Gram64Cost.
	Auto Method = iota
	// Ghost forms ⟨g_k, g_l⟩ from the B×B products of input rows and of
	// output-gradient rows, without forming any per-bin gradient.
	Ghost
	// Materialize forms each bin's gradient of the layer (one GEMM per
	// bin) and their float64 Gram with Backend.Gram.
	Materialize
)

// String returns "auto", "ghost" or "materialize".
func (m Method) String() string {
	switch m {
	case Auto:
		return "auto"
	case Ghost:
		return "ghost"
	case Materialize:
		return "materialize"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// Blocks says which B×B products the ghost method forms.
type Blocks int

const (
	// AutoBlocks is TriangleBlocks on a backend that implements
	// nn.RaggedGemmer (the CPU backends) and SquareBlocks on any other (a
	// GPU, where the number of kernel launches matters more than the number
	// of multiply-adds).
	AutoBlocks Blocks = iota
	// TriangleBlocks forms only the blocks (k, l ≤ k) of the lower block
	// triangle, ≈ B²(K+1)/(2K) row products per operand: with an
	// nn.RaggedGemmer one ragged GEMM per operand and one column sum per
	// bin, otherwise, for each bin k, one GEMM of the rows of bins 0…k
	// against bin k's rows per operand and one column sum per block.
	TriangleBlocks
	// SquareBlocks forms the whole B×B products with one GEMM per operand
	// and one column sum per bin: B² row products per operand in far fewer
	// calls.
	SquareBlocks
)

// DefaultGram64Cost is the default of Settings.Gram64Cost: the cost
// of one float64 multiply-add of Backend.Gram in units of one float32
// multiply-add of Backend.Gemm. On the CPU backend the Gram is a serial
// float64 loop (≈1.5 G/s here) and the packed SGEMM runs ≈40 G/s on 2
// cores; a GPU's Dgemm-based Gram is relatively cheaper, which only moves
// small layers from one method to the other.
const DefaultGram64Cost = 16

// Settings configures a Pass. The zero value means: every
// parameter, the unweighted x0-MSE as each bin's task loss, the method
// chosen per layer by cost.
type Settings struct {
	// Params selects the parameters, by name ("block2.fc1.weight"), whose
	// gradients enter the Gram; nil selects all.
	Params func(name string) bool
	// Task weighs each example in its bin's task loss: the task loss of bin
	// k is L_k = (1/n_k)·Σ_{n∈k} u_n·mse_n with
	// u_n = weighting.Weight(Task, target, SNR(t_n)); nil means
	// weighting.Constant{}, so that L_k is the unweighted x0-MSE of the
	// model's x0 prediction whatever the target (the paper's per-task loss,
	// and BinGradients' default).
	Task weighting.Strategy
	// Method chooses how Linear layers are handled (default Auto).
	Method Method
	// Gram64Cost is the relative cost of a float64 Gram multiply-add in the
	// cost model (0: DefaultGram64Cost).
	Gram64Cost float64
	// Blocks chooses the ghost method's products (default AutoBlocks).
	Blocks Blocks
}

// Result is what one Pass.Run returns.
type Result struct {
	// K is the number of bins.
	K int
	// Gram is the K×K matrix G_kl = ⟨∇L_k, ∇L_l⟩ over the selected
	// parameters, row-major, symmetric, accumulated in float64.
	Gram []float64
	// BinLoss holds the task losses L_k (NaN for an empty bin).
	BinLoss []float64
	// Loss is the training loss Σ_n c_n·mse_n whose gradient the pass left
	// in the network's gradient buffer.
	Loss float64
	// MSE holds mse_n, the per-example mean squared error of the target.
	MSE []float64
	// Ghost and Materialized count the Linear layers handled each way.
	Ghost, Materialized int
}

// Pass computes, with ONE forward and ONE backward pass over a batch
// whose rows are grouped into K timestep bins, both the training gradient
// and the exact K×K Gram matrix G_kl = ⟨g_k, g_l⟩ of the per-bin task-loss
// gradients g_k = ∇θ L_k, the quantity BinGradients computes with K passes.
//
// # The per-example identity (DESIGN.md, "ghost" norms)
//
// For a Linear layer y = W a + b, example n contributes δ_n a_nᵀ to ∇W and
// δ_n to ∇b, where a_n is its input row and δ_n the gradient of its loss
// with respect to its output row. So for g_k = Σ_{n∈k} (δ_n a_nᵀ, δ_n):
//
//	⟨g_k, g_l⟩ = Σ_{n∈k, m∈l} (δ_n·δ_m)·(a_n·a_m + 1)
//
// (the "+1" is the bias; it is left out when the bias is not selected). For
// a LayerNorm the per-example gradients of γ and β are δ_n ⊙ x̂_n and δ_n,
// small (width W) vectors, so their per-bin sums are formed directly
// (Backend.LayerNormBackward over the bin's rows) and enter Backend.Gram.
//
// # One backward pass for two losses
//
// The pass backpropagates the training loss Σ_n c_n·mse_n. Every layer of a
// SiteNetwork acts on each row separately (Linear layers, element-wise
// activations, LayerNorm normalising within a row, the time embedding), so
// there is no coupling between the examples of a batch and backpropagation
// is linear in each example's output gradient: the δ rows of every layer for
// the coefficients c are c_n·∂mse_n/∂(layer output). The task loss of bin k
// has coefficients τ_n = u_n/n_k, so its δ rows are r_n·δ_n with
// r_n = τ_n/c_n, a per-example scalar. Pass rescales the rows by r_n
// (Backend.RowAxpby) where it forms per-bin gradients, and gives the ghost
// products their factor r_n·r_m in the column sums (below) without
// copying any rows. This needs c_n ≠ 0 wherever
// τ_n ≠ 0; with c nil the pass uses c = τ and no rescaling.
// TestBinGramLinearity checks this reasoning on the float64 backend.
//
// # Cost and method
//
// With rows grouped by bin (bin k is rows off_k … e_k − 1, n_k rows), the
// ghost method forms the row products M_A[n,m] = a_n·a_m (+1 when the bias
// is selected) and M_Δ[n,m] = δ_n·δ_m with float32 GEMMs, and the sums of
// M_Δ ⊙ M_A over each block of rows with Backend.LayerNormBackward, whose
// dγ += Σ_rows dy ⊙ x̂ is exactly that column sum when it is given a zero
// mean and the rows' factors r_n as rstd (x̂ = r_n·M_A; it is the only
// Backend operation that forms an element-wise product). The column sums
// of all ghost layers are downloaded once, multiplied by the columns'
// factors r_m and summed over each block on the host in float64. Two block
// layouts (Blocks): TriangleBlocks computes only the products of the
// lower block triangle of the symmetric G (row n of bin k against the rows
// of bins 0…k), (In + Out)·Σ_k n_k·e_k ≈ B²(In + Out)(K+1)/(2K)
// multiply-adds for a batch of B rows, in 2 ragged GEMMs and K sums per
// layer with an nn.RaggedGemmer, otherwise in 2K GEMMs and K(K+1)/2 sums;
// SquareBlocks computes the full B×B products, B²(In + Out) multiply-adds
// in 2 GEMMs and K sums. The materialize method forms each
// bin's gradient Δ_kᵀA_k (B·In·Out multiply-adds in all, the size of the
// layer's weight-gradient GEMM) and their Gram in float64 with Backend.Gram
// (K(K+1)/2·In·Out multiply-adds at Gram64Cost each). Auto picks the
// cheaper per layer: the ghost products for wide layers at moderate B, the
// materialised gradients for thin ones (the 2-D input and output layers of
// a toy model). LayerNorm parameters and biases selected without their
// weight are always materialised (they are vectors of width W).
//
// Measured on 2 CPU cores with BenchmarkGramVsStep*, for a width-256,
// depth-3 ResMLP and K = 8: a probe giving the training gradient and the
// Gram over all parameters costs 1.15–1.18× a plain training step of the
// same batch size on MNIST at B = 128, 1.15–1.20× on toy data at B = 128
// and 1.32–1.36× at B = 256 (the ghost products grow as B², a step as B);
// the full square products cost 1.40–1.44× at B = 256, one GEMM per bin
// instead of the ragged ones 1.58×, and materialising every Linear layer's
// per-bin gradients 2.2–2.5×.
//
// Precision: the materialised parts are float32 per-bin gradients (like
// BinGradients') with a float64 Gram. The ghost parts are float32 GEMMs and
// float32 column sums over one bin's rows, then float64 sums; their error is
// of the order of float32 rounding times Σ|δ_n||δ_m||a_n||a_m| over the bin
// pair, which is larger than the brute force's only when the examples of a
// bin cancel strongly.
//
// A Pass keeps scratch buffers on the network's backend for the largest
// batch it has seen and is not safe for concurrent use.
type Pass struct {
	obj  *diffusion.Objective
	net  SiteNetwork
	set  Settings
	sel  map[string]bool // selected parameter names
	be   nn.Backend
	bufs map[string]nn.Tensor
}

// NewPass prepares per-bin Gram passes of the objective's network,
// which must be a SiteNetwork whose layers hold every selected parameter.
func NewPass(o *diffusion.Objective, s Settings) (*Pass, error) {
	net, ok := o.Net.(SiteNetwork)
	if !ok {
		return nil, fmt.Errorf("gram: per-bin Gram: a %T does not expose its layers' rows (LinearSites, NormSites)", o.Net)
	}
	if s.Method < Auto || s.Method > Materialize {
		return nil, fmt.Errorf("gram: per-bin Gram: invalid method %d", int(s.Method))
	}
	if s.Blocks < AutoBlocks || s.Blocks > SquareBlocks {
		return nil, fmt.Errorf("gram: per-bin Gram: invalid ghost blocks %d", int(s.Blocks))
	}
	if s.Blocks == AutoBlocks {
		s.Blocks = SquareBlocks
		if _, ok := o.Net.Backend().(nn.RaggedGemmer); ok {
			s.Blocks = TriangleBlocks
		}
	}
	if s.Gram64Cost < 0 || math.IsNaN(s.Gram64Cost) {
		return nil, fmt.Errorf("gram: per-bin Gram: Gram64Cost must be ≥ 0, got %g", s.Gram64Cost)
	}
	if s.Gram64Cost == 0 {
		s.Gram64Cost = DefaultGram64Cost
	}
	if s.Task == nil {
		s.Task = weighting.Constant{}
	}
	g := &Pass{obj: o, net: net, set: s, sel: map[string]bool{}, be: o.Net.Backend(), bufs: map[string]nn.Tensor{}}
	for _, p := range net.Params().Params() {
		if s.Params == nil || s.Params(p.Name) {
			g.sel[p.Name] = true
		}
	}
	if len(g.sel) == 0 {
		return nil, errors.New("gram: per-bin Gram: the parameter selection matches no parameter")
	}
	covered := map[string]bool{}
	for _, l := range net.LinearSites() {
		covered[l.Layer.W.Name], covered[l.Layer.B.Name] = true, true
	}
	for _, n := range net.NormSites() {
		covered[n.Layer.Gamma.Name], covered[n.Layer.Beta.Name] = true, true
	}
	for name := range g.sel {
		if !covered[name] {
			return nil, fmt.Errorf("gram: per-bin Gram: parameter %q is in no Linear or LayerNorm layer of the network", name)
		}
	}
	return g, nil
}

// Selected returns the number of selected parameters (elements).
func (g *Pass) Selected() int {
	n := 0
	for _, p := range g.net.Params().Params() {
		if g.sel[p.Name] {
			n += p.Size
		}
	}
	return n
}

// buf returns the named scratch tensor with at least n elements.
func (g *Pass) buf(name string, n int) nn.Tensor {
	t, ok := g.bufs[name]
	if !ok || t.Len() < n {
		if ok {
			g.be.Free(t)
		}
		t = g.be.Alloc(max(n, 1))
		g.bufs[name] = t
	}
	return t.View(0, n)
}

// filled returns the named scratch tensor of n elements, all set to v.
func (g *Pass) filled(name string, n int, v float32) nn.Tensor {
	t := g.buf(name, n)
	g.be.Fill(t, v)
	return t
}

// linearPlan is how one Linear layer enters the Gram.
type linearPlan struct {
	site           nn.LinearSite
	in, out        int
	w, b           bool // weight, bias selected
	ghost          bool
	offW, offB     int // offsets in the packed row (materialised)
	ghostIndex     int
	delta, scaledD nn.Tensor // δ rows (B, out) as the pass left them, and rescaled
}

// Run makes one forward and one backward pass over b, whose B rows are
// grouped into K = len(counts) bins (bin k is the next counts[k] rows; a
// bin may be empty), and returns the Gram matrix of the bins' task-loss
// gradients over the selected parameters. c holds the per-example training
// coefficients (length B, like diffusion.Objective.Loss's): the network's gradient
// buffer is zeroed and then holds ∇θ Σ_n c_n·mse_n. With c nil the pass
// uses τ_n = u_n/n_k, so the gradient buffer holds Σ_k ∇L_k.
func (g *Pass) Run(b diffusion.Batch, counts []int, c []float64) (Result, error) {
	B, K := b.Len(), len(counts)
	if K < 1 {
		panic("gram: Pass.Run: no bins")
	}
	total := 0
	for k, n := range counts {
		if n < 0 {
			panic(fmt.Sprintf("gram: Pass.Run: bin %d has %d rows", k, n))
		}
		total += n
	}
	if total != B || (c != nil && len(c) != B) {
		panic(fmt.Sprintf("gram: Pass.Run: %d rows, bins of %d rows in all, %d coefficients", B, total, len(c)))
	}
	o, be, s := g.obj, g.be, g.obj.Schedule
	off := make([]int, K+1) // bin k is rows off[k] … off[k+1]−1
	for k, n := range counts {
		off[k+1] = off[k] + n
	}
	binOf := make([]int, B)
	for k := 0; k < K; k++ {
		for r := off[k]; r < off[k+1]; r++ {
			binOf[r] = k
		}
	}
	// τ_n = u_n/n_k: the coefficients of the task losses.
	tau := make([]float64, B)
	for r, t := range b.T {
		tau[r] = weighting.Weight(g.set.Task, o.Target, s.SNR(t)) / float64(counts[binOf[r]])
	}
	coef, scale := tau, false
	var ratio []float32
	if c != nil {
		coef, scale = c, true
		ratio = make([]float32, B)
		for r := range c {
			// The kernels see float32(c_n); divide by what they saw.
			cn := float64(float32(c[r]))
			switch {
			case cn != 0:
				ratio[r] = float32(tau[r] / cn)
			case tau[r] != 0:
				return Result{}, fmt.Errorf("gram: per-bin Gram: row %d has training coefficient 0 but task weight %g: its task gradient cannot be recovered from the pass", r, tau[r])
			}
		}
	}

	ps := g.net.Params()
	ps.ZeroGrad(be)
	res := Result{K: K, MSE: make([]float64, B), BinLoss: make([]float64, K), Gram: make([]float64, K*K)}
	res.Loss = o.Loss(b, coef, res.MSE, true)
	for k := 0; k < K; k++ {
		if counts[k] == 0 {
			res.BinLoss[k] = math.NaN()
		}
	}
	for r := range b.T {
		res.BinLoss[binOf[r]] += tau[r] * res.MSE[r]
	}

	var ratioT, zeroT nn.Tensor
	if scale {
		ratioT, zeroT = g.buf("ratio", B), g.filled("zero", B, 0)
		be.Upload(ratioT, ratio)
	}
	rescale := func(name string, d nn.Tensor, cols int) nn.Tensor {
		if !scale {
			return d
		}
		dst := g.buf(name, B*cols)
		be.RowAxpby(dst, ratioT, d, zeroT, d, B, cols)
		return dst
	}

	// Plan the Linear layers and lay out the packed (K, Pm) buffer of
	// materialised per-bin gradients.
	var sumNE float64 // Σ_k n_k·e_k
	for k := 0; k < K; k++ {
		sumNE += float64(counts[k]) * float64(off[k+1])
	}
	var plans []linearPlan
	pm, nGhost := 0, 0
	for _, site := range g.net.LinearSites() {
		l := site.Layer
		p := linearPlan{site: site, in: l.In, out: l.Out, w: g.sel[l.W.Name], b: g.sel[l.B.Name]}
		if !p.w && !p.b {
			continue
		}
		p.delta = site.OutGrad
		if p.delta.IsZero() {
			p.delta = o.OutputGrad().View(0, B*l.Out) // the output layer: ∂L/∂pred
		}
		if p.w {
			io := float64(l.In) * float64(l.Out)
			ghostCost := float64(l.In+l.Out) * sumNE
			if g.set.Blocks == SquareBlocks {
				ghostCost = float64(l.In+l.Out) * float64(B) * float64(B)
			}
			matCost := float64(B)*io + g.set.Gram64Cost*float64(K*(K+1)/2)*io
			switch g.set.Method {
			case Ghost:
				p.ghost = true
			case Auto:
				p.ghost = ghostCost < matCost
			}
		}
		if p.ghost {
			p.ghostIndex = nGhost
			nGhost++
			res.Ghost++
		} else {
			if p.w {
				p.offW = pm
				pm += l.In * l.Out
				res.Materialized++
			}
			if p.b {
				p.offB = pm
				pm += l.Out
			}
		}
		plans = append(plans, p)
	}
	type normPlan struct {
		site       nn.NormSite
		offG, offB int // −1: not selected
	}
	var norms []normPlan
	for _, site := range g.net.NormSites() {
		p := normPlan{site: site, offG: -1, offB: -1}
		if g.sel[site.Layer.Gamma.Name] {
			p.offG, pm = pm, pm+site.Layer.Dim
		}
		if g.sel[site.Layer.Beta.Name] {
			p.offB, pm = pm, pm+site.Layer.Dim
		}
		if p.offG >= 0 || p.offB >= 0 {
			norms = append(norms, p)
		}
	}

	// Materialised parts: row k of packed is bin k's gradient of them.
	var packed nn.Tensor
	if pm > 0 {
		packed = g.filled("packed", K*pm, 0)
		junk := g.buf("junk", 0)
		for _, p := range norms {
			W := p.site.Layer.Dim
			junk = g.buf("junk", W)
			d := rescale("dnorm", p.site.OutGrad, W)
			for k := 0; k < K; k++ {
				n := counts[k]
				if n == 0 {
					continue
				}
				dg, db := junk, junk
				if p.offG >= 0 {
					dg = packed.View(k*pm+p.offG, W)
				}
				if p.offB >= 0 {
					db = packed.View(k*pm+p.offB, W)
				}
				be.LayerNormBackward(nn.Tensor{}, dg, db, d.Rows(off[k], off[k+1], W), p.site.X.Rows(off[k], off[k+1], W),
					p.site.Mean.View(off[k], n), p.site.Rstd.View(off[k], n), p.site.Layer.Gamma.Value, n, W)
			}
		}
	}
	// Ghost parts. SquareBlocks: V is (nGhost, K, B) with
	// V[g, k, m] = Σ_{n∈k} M_Δ[n,m]·M_A[n,m] (then G_kl sums m over bin l).
	// TriangleBlocks: V is (nGhost, K, K, maxN) with
	// V[g, k, l, n] = Σ_{m∈l} M_Δ[m,n]·M_A[m,n] for n ∈ bin k, l ≤ k.
	// With a backend that forms ragged products, TriangleBlocks is one
	// ragged GEMM per operand in the SquareBlocks layout: row n of M is
	// formed in columns [0, e_k) for n ∈ bin k, the lower block triangle.
	square := g.set.Blocks == SquareBlocks
	rg, ragged := be.(nn.RaggedGemmer)
	var ends []int
	if !square && ragged {
		square, ends = true, make([]int, B)
		for r := range ends {
			ends[r] = off[binOf[r]+1]
		}
	}
	gemmNT := func(k int, x nn.Tensor, beta float32, dst nn.Tensor) { // dst = x·xᵀ + β·dst
		if ends != nil {
			rg.GemmRagged(false, true, B, B, k, 1, x, k, x, k, beta, dst, B, ends)
			return
		}
		be.Gemm(false, true, B, B, k, 1, x, k, x, k, beta, dst, B)
	}
	var V nn.Tensor
	maxN := 0
	for _, n := range counts {
		maxN = max(maxN, n)
	}
	if nGhost > 0 {
		V = g.filled("V", nGhost*K*max(B, K*maxN), 0)
	}
	for i := range plans {
		p := &plans[i]
		I, O, A := p.in, p.out, p.site.In
		if !p.ghost {
			d := rescale("dlinear", p.delta, O)
			for k := 0; k < K; k++ {
				n := counts[k]
				if n == 0 {
					continue
				}
				dk := d.Rows(off[k], off[k+1], O)
				if p.w {
					be.Gemm(true, false, O, I, n, 1, dk, O, A.Rows(off[k], off[k+1], I), I, 0, packed.View(k*pm+p.offW, O*I), I)
				}
				if p.b {
					be.SumRows(packed.View(k*pm+p.offB, O), dk, n, O)
				}
			}
			continue
		}
		ma, md := g.buf("ma", B*B), g.buf("md", B*B)
		zeros, ones := g.filled("zeros", B, 0), g.filled("ones", B, 1)
		junk := g.buf("ghostjunk", B)
		// The δ rows stay as the pass left them: the task rows are r_n·δ_n,
		// so M_Δ of the task rows is r_n·r_m·(δ_n·δ_m). The column sums
		// take the factor of their rows through the rstd argument
		// (x̂ = M_A·r) and the host the other when it sums the columns.
		d, rs := p.delta, ones
		if scale {
			rs = ratioT
		}
		var beta float32
		if p.b {
			beta = 1 // a_n·a_m + 1: the bias's share
		}
		if !square {
			for k := 0; k < K; k++ {
				n, e := counts[k], off[k+1]
				if n == 0 {
					continue
				}
				mak, mdk := ma.View(0, n*e), md.View(0, n*e)
				if p.b {
					be.Fill(mak, 1)
				}
				be.Gemm(false, true, e, n, I, 1, A, I, A.Rows(off[k], off[k+1], I), I, beta, mak, n)
				be.Gemm(false, true, e, n, O, 1, d, O, d.Rows(off[k], off[k+1], O), O, 0, mdk, n)
				for l := 0; l <= k; l++ {
					nl := counts[l]
					if nl == 0 {
						continue
					}
					be.LayerNormBackward(nn.Tensor{}, V.View(((p.ghostIndex*K+k)*K+l)*maxN, n), junk.View(0, n),
						mdk.Rows(off[l], off[l+1], n), mak.Rows(off[l], off[l+1], n), zeros.View(0, nl), rs.View(off[l], nl), ones.View(0, n), nl, n)
				}
			}
		} else {
			mak, mdk := ma.View(0, B*B), md.View(0, B*B)
			if p.b {
				be.Fill(mak, 1)
			}
			gemmNT(I, A, beta, mak)
			gemmNT(O, d, 0, mdk)
			for k := 0; k < K; k++ {
				n := counts[k]
				if n == 0 {
					continue
				}
				be.LayerNormBackward(nn.Tensor{}, V.View((p.ghostIndex*K+k)*B, B), junk.View(0, B), mdk.Rows(off[k], off[k+1], B), mak.Rows(off[k], off[k+1], B),
					zeros.View(0, n), rs.View(off[k], n), ones, n, B)
			}
		}
	}

	if pm > 0 {
		gm := make([]float64, K*K)
		be.Gram(gm, packed, K, pm)
		for i, v := range gm {
			res.Gram[i] += v
		}
	}
	if nGhost > 0 {
		host := make([]float32, nGhost*K*max(B, K*maxN))
		rowScale := func(r int) float64 { // r_n, the other factor of M_Δ
			if scale {
				return float64(ratio[r])
			}
			return 1
		}
		be.Download(host, V)
		for k := 0; k < K; k++ {
			for l := 0; l <= k; l++ {
				var sum float64
				for gi := 0; gi < nGhost; gi++ {
					if !square {
						for i, v := range host[((gi*K+k)*K+l)*maxN:][:counts[k]] {
							sum += float64(v) * rowScale(off[k]+i)
						}
						continue
					}
					row := host[(gi*K+k)*B:]
					for m := off[l]; m < off[l+1]; m++ {
						sum += float64(row[m]) * rowScale(m)
					}
				}
				res.Gram[k*K+l] += sum
				if l != k {
					res.Gram[l*K+k] += sum
				}
			}
		}
	}
	if err := be.Sync(); err != nil {
		return Result{}, fmt.Errorf("gram: per-bin Gram: %w", err)
	}
	return res, nil
}
