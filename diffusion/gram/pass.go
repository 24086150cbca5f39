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
// pass, the input rows a and output-gradient rows δ of each of its Linear
// layers and the rows of each LayerNorm (nn.ResMLP does). Pass needs it:
// every parameter it is asked for must belong to one of these layers, or
// to a ParamSite of a ParamSiteNetwork. A LinearSite whose OutGrad is
// absent is the network's output layer; its δ rows are the gradient of
// the loss with respect to the prediction, which the diffusion.Objective
// holds (read as B·Tokens rows of the layer's width).
//
// A layer of a sequence model applied at every token of an example has
// LinearSite.Tokens = T > 1 rows per example, an example's rows
// consecutive; a NormSite's rows may be token rows too, its T being the
// length of its Mean over the batch's B examples. Layers with different T
// may mix in one network. The sites are read once by NewPass, before any
// pass, to check that they cover the selected parameters, and after every
// pass for their rows.
type SiteNetwork interface {
	nn.Network
	LinearSites() []nn.LinearSite
	NormSites() []nn.NormSite
}

// ParamSiteNetwork is a SiteNetwork that also has parameters added to
// every example's activations (a DiT's learned position table), whose
// per-example gradients are the rows of their ParamSite's OutGrad (B,
// Param.Size). Pass uses it when the network implements it; it is
// optional so that a network without such parameters (nn.ResMLP) needs
// nothing more than SiteNetwork.
type ParamSiteNetwork interface {
	SiteNetwork
	ParamSites() []nn.ParamSite
}

// Method says how a Linear layer's share of the per-bin Gram matrix is
// formed by Pass.
type Method int

const (
	// Auto picks, layer by layer, the cheaper of Ghost and
	// Materialize by the cost model of Settings.Gram64Cost.
	Auto Method = iota
	// Ghost forms ⟨g_k, g_l⟩ from the B×B products of input rows and of
	// output-gradient rows ((B·T)×(B·T) for a layer with T rows per
	// example), without forming any per-bin gradient.
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
// multiply-add of Backend.Gemm. On the CPU backend the Gram is one scalar
// float64 dot product per entry, while the packed SGEMM does many float32
// multiply-adds per instruction from cache-blocked panels, so a Gram
// multiply-add costs an order of magnitude more; BenchmarkGramVsGemm
// (diffusion/nn) measures the ratio (bench/RESULTS.md). A GPU's
// Dgemm-based Gram is relatively cheaper, which only moves small layers
// from one method to the other.
const DefaultGram64Cost = 16

// Config configures a Pass. The zero value means: every
// parameter, the unweighted x0-MSE as each bin's task loss, the method
// chosen per layer by cost.
type Config struct {
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
// # The per-example identity ("ghost" norms)
//
// For a Linear layer y = W a + b, example n contributes δ_n a_nᵀ to ∇W and
// δ_n to ∇b, where a_n is its input row and δ_n the gradient of its loss
// with respect to its output row. So for g_k = Σ_{n∈k} (δ_n a_nᵀ, δ_n):
//
//	⟨g_k, g_l⟩ = Σ_{n∈k, m∈l} (δ_n·δ_m)·(a_n·a_m + 1)
//
// (the "+1" is the bias; it is left out when the bias is not selected;
// Goodfellow 2015, "Efficient Per-Example Gradient Computations", for the
// per-example norms). For a LayerNorm the per-example gradients of γ and β
// are δ_n ⊙ x̂_n and δ_n, small (width W) vectors, so their per-bin sums
// are formed directly (Backend.LayerNormBackward over the bin's rows) and
// enter Backend.Gram.
//
// # Sequences: token rows
//
// A layer of a sequence model applied at every token p of an example (a
// DiT's patch embedding, attention and MLP projections and final layer;
// LinearSite.Tokens = T) gives example n the weight gradient
// Σ_p δ_{n,p} a_{n,p}ᵀ and the bias gradient Σ_p δ_{n,p}, so
//
//	⟨g_k, g_l⟩ = Σ_{n∈k, m∈l} Σ_{p,q} (δ_{n,p}·δ_{m,q})·(a_{n,p}·a_{m,q} + 1)
//
// (the ghost norm over sequences of Li et al., ICLR 2022, "Large Language
// Models Can Be Strong Differentially Private Learners", §4, here between
// two bins). This is the identity above over the layer's B·T rows:
// example n's rows are n·T … (n+1)·T − 1 and bin k's rows
// off_k·T … e_k·T − 1, every per-example factor (r_n below) repeated over
// its example's T rows, so the ghost products, their block layouts and
// the materialised per-bin gradients Δ_kᵀA_k are those of a batch of B·T
// rows in bins of n_k·T rows. A LayerNorm over token rows (a NormSite
// whose Mean has B·T rows) sums δ ⊙ x̂ and δ over its bin's token rows
// likewise. A parameter added to every example's activations (a learned
// position table; a ParamSite of a ParamSiteNetwork) has the per-example
// gradient OutGrad_n, so the bin's gradient Σ_{n∈k} r_n·OutGrad_n
// (Backend.RowAxpby and Backend.SumRows) is materialised.
//
// # One backward pass for two losses
//
// The pass backpropagates the training loss Σ_n c_n·mse_n. Every layer of a
// SiteNetwork acts on each example separately: Linear layers, element-wise
// activations, LayerNorm normalising within a row and the time embedding
// act on each row, and the steps that couple rows couple only the rows of
// one example (attention mixes an example's tokens, adaLN applies an
// example's modulation to its tokens, a position table is added to each
// example). So there is no coupling between the examples of a batch, each
// step's backward pass is linear in its output gradient (softmax's
// included, its forward output fixed), and backpropagation is linear in
// each example's output gradient: the δ rows of every layer for the
// coefficients c, all of example n's token rows, are
// c_n·∂mse_n/∂(layer output). The task loss of bin k has coefficients
// τ_n = u_n/n_k, so its δ rows are r_n·δ_n with r_n = τ_n/c_n, a
// per-example scalar. Pass rescales the rows by r_n (Backend.RowAxpby)
// where it forms per-bin gradients, and gives the ghost products their
// factor r_n·r_m in the column sums (below) without copying any rows. This
// needs c_n ≠ 0 wherever τ_n ≠ 0; with c nil the pass uses c = τ and no
// rescaling. TestPassLinearity and TestPassSequenceLinearity check this
// reasoning on the float64 backend.
//
// # Cost and method
//
// With rows grouped by bin (bin k is rows off_k … e_k − 1, n_k rows; for a
// layer with T rows per example read B·T, n_k·T and e_k·T throughout), the
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
// cheaper per layer, comparing
//
//	ghost:       (In + Out)·T²·Σ_k n_k·e_k   (square: (In + Out)·(B·T)²)
//	materialise: B·T·In·Out + Gram64Cost·K(K+1)/2·In·Out
//
// (useGhost): the ghost products for wide layers at moderate B·T, the
// materialised gradients for thin ones (the 2-D input and output layers of
// a toy model) and for token layers of many rows. The ghost products grow
// as T², the materialised gradients as T, so with B = 128, K = 8 and
// 49 tokens a DiT's token-wise layers (patch, qkv, proj, fc1, fc2,
// final.linear) are materialised, while its per-example layers (time1,
// time2, every adaLN, width 64 and up) take the ghost products: for an
// In = Out = W layer with T rows per example, ghost wins when
// W > 2·T²·Σ_k n_k·e_k/(B·T + Gram64Cost·K(K+1)/2), W > 26 at T = 1 and
// W > 6460 at T = 49 for these B and K. The ghost products' scratch is
// 2·(B·T)² float32s, which forcing Ghost on a large token layer makes
// large. LayerNorm parameters, ParamSites and biases selected without
// their weight are always materialised (they are vectors).
//
// BenchmarkGramVsStep* measures, for a width-256, depth-3 ResMLP and K = 8
// on toy data and MNIST, the time of a probe giving the training gradient
// and the Gram over all parameters relative to a plain training step of
// the same batch size, at B = 128 and 256, with the automatic choice and
// the ragged lower block triangle, the full square products, one GEMM per
// bin, and every Linear layer materialised; bench/RESULTS.md holds its
// figures. The ghost products grow as B², a step as B, so the probe's
// relative cost grows with B. BenchmarkGramVsStepDiTSmall* measures the
// same for the DiT small preset on MNIST at B = 128, K = 8, where the
// probe's extra cost is mostly the per-bin gradients of the materialised
// token-wise layers, about one more weight-gradient GEMM per layer.
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
	set  Config
	sel  map[string]bool // selected parameter names
	be   nn.Backend
	bufs map[string]nn.Tensor
}

// NewPass prepares per-bin Gram passes of the objective's network,
// which must be a SiteNetwork whose layers hold every selected parameter.
func NewPass(o *diffusion.Objective, s Config) (*Pass, error) {
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
	for _, p := range g.paramSites() {
		covered[p.Param.Name] = true
	}
	for name := range g.sel {
		if !covered[name] {
			return nil, fmt.Errorf("gram: per-bin Gram: parameter %q is in no Linear or LayerNorm layer or parameter site of the network", name)
		}
	}
	return g, nil
}

// paramSites returns the network's ParamSites (none unless it is a
// ParamSiteNetwork).
func (g *Pass) paramSites() []nn.ParamSite {
	if pn, ok := g.net.(ParamSiteNetwork); ok {
		return pn.ParamSites()
	}
	return nil
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

// Run makes one forward and one backward pass over b, whose B rows are
// grouped into K = len(counts) bins (bin k is the next counts[k] rows; a
// bin may be empty), and returns the Gram matrix of the bins' task-loss
// gradients over the selected parameters. c holds the per-example training
// coefficients (length B, like diffusion.Objective.Loss's): the network's gradient
// buffer is zeroed and then holds ∇θ Σ_n c_n·mse_n. With c nil the pass
// uses τ_n = u_n/n_k, so the gradient buffer holds Σ_k ∇L_k.
//
// Run panics if counts is empty, has a negative count or does not add up
// to B, or if c is neither nil nor of length B. It returns an error when a
// site's rows do not fit the batch (a network whose sites are inconsistent
// with its pass).
func (g *Pass) Run(b diffusion.Batch, counts []int, c []float64) (Result, error) {
	r := g.newRun(b, counts, c)
	if err := r.coefficients(b, c); err != nil {
		return Result{}, err
	}
	res := r.pass(b, c)
	if err := r.plan(); err != nil {
		return Result{}, err
	}
	res.Ghost, res.Materialized = r.nGhost, r.nMat
	var packed, V nn.Tensor
	if r.pm > 0 {
		packed = r.materialized()
	}
	if r.nGhost > 0 {
		V = r.ghostSums()
	}
	r.assemble(&res, packed, V)
	if err := g.be.Sync(); err != nil {
		return Result{}, fmt.Errorf("gram: per-bin Gram: %w", err)
	}
	return res, nil
}

// passRun is the state of one Pass.Run: the bins, the coefficients, and
// the plan of how each layer enters the Gram.
type passRun struct {
	*Pass
	binRows
	// tau holds τ_n = u_n/n_k, the coefficients of the task losses.
	tau []float64
	// ratio holds r_n = τ_n/c_n with c_n as the kernels see it
	// (float32); nil when c is nil (the pass uses c = τ, r_n = 1).
	ratio []float32
	// layouts holds the row layout of each number of rows per example
	// the sites use (tokens), with the factors r_n on the backend.
	layouts map[int]*tokenRows

	lin    []linearPlan
	norms  []normPlan
	params []paramPlan
	pm     int // columns of the packed (K, pm) materialised gradients
	nGhost int // Linear layers by ghost products
	nMat   int // Linear layers whose weight gradient is materialised

	// The ghost products' layout (ghostSums): square is the (K, rows)
	// layout of each ghost layer's column sums, with ragged set when the
	// lower block triangle is formed by ragged GEMMs; vLen is the length
	// of all ghost layers' column sums and maxRows the most rows of one.
	square        bool
	ragged        nn.RaggedGemmer
	vLen, maxRows int
}

// linearPlan is how one Linear layer enters the Gram.
type linearPlan struct {
	site       nn.LinearSite
	in, out    int
	rows       *tokenRows // its rows: T = site.Tokens per example
	w, b       bool       // weight, bias selected
	ghost      bool       // the weight (and the bias with it) by ghost products
	offW, offB int        // offsets in the packed row (materialised)
	vOff       int        // offset of its column sums in V (ghost)
	delta      nn.Tensor  // δ rows (B·T, out) as the pass left them
}

// normPlan is how one LayerNorm enters the Gram: its rows and the offsets
// of its γ and β in the packed row, −1 for one not selected.
type normPlan struct {
	site       nn.NormSite
	rows       *tokenRows
	offG, offB int
}

// paramPlan is how one ParamSite enters the Gram: materialised at offset
// off of the packed row.
type paramPlan struct {
	site nn.ParamSite
	off  int
}

// newRun checks the bins and the coefficients' length against the batch
// (panicking, as for a programming error) and lays out the bins' rows.
func (g *Pass) newRun(b diffusion.Batch, counts []int, c []float64) *passRun {
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
	rows := binRows{B: B, K: K, counts: counts, off: make([]int, K+1), binOf: make([]int, B)}
	for k, n := range counts {
		rows.off[k+1] = rows.off[k] + n
		rows.maxN = max(rows.maxN, n)
		for r := rows.off[k]; r < rows.off[k+1]; r++ {
			rows.binOf[r] = k
		}
	}
	return &passRun{Pass: g, binRows: rows, layouts: map[int]*tokenRows{}}
}

// coefficients forms the task coefficients τ_n = u_n/n_k and, when the
// training coefficients c are given, the ratios r_n = τ_n/c_n that turn
// the pass's δ rows into the task losses' (they need c_n ≠ 0 wherever
// τ_n ≠ 0).
func (r *passRun) coefficients(b diffusion.Batch, c []float64) error {
	o := r.obj
	r.tau = make([]float64, r.B)
	for n, t := range b.T {
		r.tau[n] = weighting.Weight(r.set.Task, o.Target, o.Schedule.SNR(t)) / float64(r.counts[r.binOf[n]])
	}
	if c == nil {
		return nil
	}
	r.ratio = make([]float32, r.B)
	for n := range c {
		// The kernels see float32(c_n); divide by what they saw.
		cn := float64(float32(c[n]))
		switch {
		case cn != 0:
			r.ratio[n] = float32(r.tau[n] / cn)
		case r.tau[n] != 0:
			return fmt.Errorf("gram: per-bin Gram: row %d has training coefficient 0 but task weight %g: its task gradient cannot be recovered from the pass", n, r.tau[n])
		}
	}
	return nil
}

// pass zeroes the gradient buffer and makes the forward and backward pass
// of the training loss Σ_n c_n·mse_n (c = τ when c is nil) through
// diffusion.Objective.Loss, and returns the Result with the losses filled
// in: mse_n, the training loss and the task losses L_k = Σ_{n∈k} τ_n·mse_n
// (NaN for an empty bin).
func (r *passRun) pass(b diffusion.Batch, c []float64) Result {
	coef := r.tau
	if c != nil {
		coef = c
	}
	r.net.Params().ZeroGrad(r.be)
	res := Result{K: r.K, MSE: make([]float64, r.B), BinLoss: make([]float64, r.K), Gram: make([]float64, r.K*r.K)}
	res.Loss = r.obj.Loss(b, coef, res.MSE, true)
	for k, n := range r.counts {
		if n == 0 {
			res.BinLoss[k] = math.NaN()
		}
	}
	for n := range b.T {
		res.BinLoss[r.binOf[n]] += r.tau[n] * res.MSE[n]
	}
	return res
}

// plan decides, after the pass (whose rows the sites hold), how each
// selected Linear layer enters the Gram (ghost products or materialised
// per-bin gradients, by Settings.Method and the cost model) and lays out
// the packed (K, pm) row of the materialised parts: the materialised
// Linear weights and biases, then the selected LayerNorm γ and β, then the
// selected ParamSites; and the column sums of the ghost layers (ghostLayout).
func (r *passRun) plan() error {
	for _, site := range r.net.LinearSites() {
		if err := r.planLinear(site); err != nil {
			return err
		}
	}
	for _, site := range r.net.NormSites() {
		if err := r.planNorm(site); err != nil {
			return err
		}
	}
	for _, site := range r.paramSites() {
		if !r.sel[site.Param.Name] {
			continue
		}
		if site.OutGrad.Len() < r.B*site.Param.Size {
			return fmt.Errorf("gram: per-bin Gram: parameter site %q has %d gradient elements for %d examples of %d", site.Param.Name, site.OutGrad.Len(), r.B, site.Param.Size)
		}
		r.params = append(r.params, paramPlan{site: site, off: r.pm})
		r.pm += site.Param.Size
	}
	r.ghostLayout()
	return nil
}

// planLinear plans one Linear layer (see plan): its rows, its δ rows (the
// objective's output gradient for the output layer) and its method.
func (r *passRun) planLinear(site nn.LinearSite) error {
	l := site.Layer
	p := linearPlan{site: site, in: l.In, out: l.Out, w: r.sel[l.W.Name], b: r.sel[l.B.Name]}
	if !p.w && !p.b {
		return nil
	}
	p.rows = r.tokens(max(site.Tokens, 1))
	R := p.rows.rows
	p.delta = site.OutGrad
	if p.delta.IsZero() {
		p.delta = r.obj.OutputGrad() // the output layer: ∂L/∂pred
	}
	if site.In.Len() < R*l.In || p.delta.Len() < R*l.Out {
		return fmt.Errorf("gram: per-bin Gram: Linear layer %q has %d input and %d output-gradient elements for %d rows of %d→%d",
			l.Name, site.In.Len(), p.delta.Len(), R, l.In, l.Out)
	}
	p.delta = p.delta.View(0, R*l.Out)
	p.ghost = p.w && r.useGhost(l.In, l.Out, p.rows.T)
	switch {
	case p.ghost:
		r.nGhost++
	default:
		if p.w {
			p.offW, r.pm = r.pm, r.pm+l.In*l.Out
			r.nMat++
		}
		if p.b {
			p.offB, r.pm = r.pm, r.pm+l.Out
		}
	}
	r.lin = append(r.lin, p)
	return nil
}

// planNorm plans one LayerNorm (see plan); its rows per example are the
// length of its Mean over the B examples.
func (r *passRun) planNorm(site nn.NormSite) error {
	p := normPlan{site: site, offG: -1, offB: -1}
	if r.sel[site.Layer.Gamma.Name] {
		p.offG, r.pm = r.pm, r.pm+site.Layer.Dim
	}
	if r.sel[site.Layer.Beta.Name] {
		p.offB, r.pm = r.pm, r.pm+site.Layer.Dim
	}
	if p.offG < 0 && p.offB < 0 {
		return nil
	}
	R := site.Mean.Len()
	if R == 0 || R%r.B != 0 || site.X.Len() < R*site.Layer.Dim || site.OutGrad.Len() < R*site.Layer.Dim || site.Rstd.Len() < R {
		return fmt.Errorf("gram: per-bin Gram: LayerNorm %q has %d rows of statistics, not a multiple of the batch's %d examples, or too few rows", site.Layer.Name, R, r.B)
	}
	p.rows = r.tokens(R / r.B)
	r.norms = append(r.norms, p)
	return nil
}

// useGhost reports whether the weight of an in→out Linear layer with T
// rows per example enters by ghost products: always with Ghost, never
// with Materialize, and with Auto when they cost fewer multiply-adds,
// (in + out)·Σ_k (n_k·T)(e_k·T) for the lower block triangle or
// (in + out)·(B·T)² for the square, than the per-bin gradients and their
// Gram, B·T·in·out + Gram64Cost·K(K+1)/2·in·out.
func (r *passRun) useGhost(in, out, T int) bool {
	switch r.set.Method {
	case Ghost:
		return true
	case Materialize:
		return false
	}
	var sumNE float64 // Σ_k n_k·e_k
	for k := 0; k < r.K; k++ {
		sumNE += float64(r.counts[k]) * float64(r.off[k+1])
	}
	t, io := float64(T), float64(in)*float64(out)
	ghostCost := float64(in+out) * sumNE * t * t
	if r.set.Blocks == SquareBlocks {
		ghostCost = float64(in+out) * float64(r.B) * float64(r.B) * t * t
	}
	matCost := float64(r.B)*t*io + r.set.Gram64Cost*float64(r.K*(r.K+1)/2)*io
	return ghostCost < matCost
}

// materialized forms the packed (K, pm) tensor whose row k is bin k's
// gradient of the materialised parts: the selected LayerNorm γ and β
// (normParts), the materialised Linear weights and biases (linearParts)
// and the selected ParamSites (paramParts), from the δ rows rescaled by
// r_n.
func (r *passRun) materialized() nn.Tensor {
	packed := r.filled("packed", r.K*r.pm, 0)
	r.normParts(packed)
	for i := range r.lin {
		if !r.lin[i].ghost {
			r.linearParts(&r.lin[i], packed)
		}
	}
	r.paramParts(packed)
	return packed
}

// normParts accumulates into packed, for every bin, the gradients of the
// selected LayerNorm parameters over the bin's rows (its examples' token
// rows), Σ_{n∈k} r_n·Σ_p δ_{n,p} ⊙ x̂_{n,p} for γ and Σ_{n∈k} r_n·Σ_p δ_{n,p}
// for β (Backend.LayerNormBackward; an unselected one goes to a scratch
// tensor).
func (r *passRun) normParts(packed nn.Tensor) {
	be := r.be
	for _, p := range r.norms {
		W, off := p.site.Layer.Dim, p.rows.off
		junk := r.buf("junk", W)
		d := r.rescaled("dnorm", p.site.OutGrad, p.rows, W)
		for k, n := range p.rows.cnt {
			if n == 0 {
				continue
			}
			dg, db := junk, junk
			if p.offG >= 0 {
				dg = packed.View(k*r.pm+p.offG, W)
			}
			if p.offB >= 0 {
				db = packed.View(k*r.pm+p.offB, W)
			}
			be.LayerNormBackward(nn.Tensor{}, dg, db, d.Rows(off[k], off[k+1], W), p.site.X.Rows(off[k], off[k+1], W),
				p.site.Mean.View(off[k], n), p.site.Rstd.View(off[k], n), p.site.Layer.Gamma.Value, n, W)
		}
	}
}

// linearParts writes into packed, for every bin k, the materialised
// gradients of a Linear layer over the bin's rows (its examples' token
// rows): Δ_kᵀA_k for the weight (one GEMM) and the column sums of Δ_k for
// the bias (Backend.SumRows), with Δ_k the bin's δ rows rescaled by their
// examples' r_n.
func (r *passRun) linearParts(p *linearPlan, packed nn.Tensor) {
	I, O, A, off := p.in, p.out, p.site.In, p.rows.off
	d := r.rescaled("dlinear", p.delta, p.rows, O)
	for k, n := range p.rows.cnt {
		if n == 0 {
			continue
		}
		dk := d.Rows(off[k], off[k+1], O)
		if p.w {
			r.be.Gemm(true, false, O, I, n, 1, dk, O, A.Rows(off[k], off[k+1], I), I, 0, packed.View(k*r.pm+p.offW, O*I), I)
		}
		if p.b {
			r.be.SumRows(packed.View(k*r.pm+p.offB, O), dk, n, O)
		}
	}
}

// paramParts writes into packed, for every bin k, the gradient of each
// selected ParamSite over the bin's examples, Σ_{n∈k} r_n·OutGrad_n
// (Backend.SumRows of the rows rescaled by r_n).
func (r *passRun) paramParts(packed nn.Tensor) {
	ex := r.tokens(1)
	for _, p := range r.params {
		S := p.site.Param.Size
		d := r.rescaled("dparam", p.site.OutGrad.View(0, r.B*S), ex, S)
		for k, n := range r.counts {
			if n > 0 {
				r.be.SumRows(packed.View(k*r.pm+p.off, S), d.Rows(r.off[k], r.off[k+1], S), n, S)
			}
		}
	}
}

// assemble adds into res.Gram the float64 Gram of the packed materialised
// gradients (Backend.Gram) and the ghost layers' share, which it forms on
// the host from the column sums V (ghostGram), G_kl and G_lk alike.
func (r *passRun) assemble(res *Result, packed, V nn.Tensor) {
	if r.pm > 0 {
		gm := make([]float64, r.K*r.K)
		r.be.Gram(gm, packed, r.K, r.pm)
		for i, v := range gm {
			res.Gram[i] += v
		}
	}
	if r.nGhost == 0 {
		return
	}
	host := make([]float32, V.Len())
	r.be.Download(host, V)
	K := r.K
	for k := 0; k < K; k++ {
		for l := 0; l <= k; l++ {
			sum := r.ghostGram(host, k, l)
			res.Gram[k*K+l] += sum
			if l != k {
				res.Gram[l*K+k] += sum
			}
		}
	}
}
