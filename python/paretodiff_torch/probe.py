"""GramProbe: the K x K Gram of per-bin gradients of any torch model in one backward pass.

G[k, l] = <g_k, g_l>, g_k = grad_theta L_k, L_k = (1/N_k) sum_{n in k} loss_n: the input
of paretodiff's Pareto weighting problem (Eq. 11 of Hang et al., ICCV 2023, with the
timestep bins as tasks), as diffusion/gram's Pass forms it for paretodiff's own
networks.

How one pass gives it. The pass backpropagates sum_n c_n loss_n (c_n = 1, or the
training weights of ``train_weights``), so a layer's output gradient row for
example n is c_n d loss_n / d y_n. The probe scales it by r_n = 1/(N_k c_n) for n in
bin k, so that a weight's per-bin gradient is the plain sum of the scaled
per-example gradients of its bin, and forms each parameter's share of G by one of
four paths (sites.py has the identities and the cost model):

  * ghost: the B x B Gram of per-example gradients from the layer's input and output
    rows, M = sum_{p,q} (delta.delta)(a.a), then G += Z^T M Z (Z: the bins'
    indicator, the bin-mean matrix S of the issue being diag(r) folded into delta);
  * per-bin: the K per-bin gradients themselves (one weight-gradient GEMM per bin,
    summed over the bin's rows), then G += g g^T;
  * replay, for any other parameter (nn.MultiheadAttention's, a bare nn.Parameter, a
    weight tied between two modules, a table looked up once for the whole batch):
    the smallest module holding all its uses is re-run on each bin's rows of its
    recorded arguments and differentiated with the recorded output gradients
    (replay.py): one more forward and backward of that module over the batch;
  * autograd, where a replay would not be exact (dropout active in the module, its
    arguments modified in place) or for the parameters named in ``autograd``: one
    torch.autograd.grad call per non-empty bin on L_k for just those parameters, K
    extra partial backward passes from the loss down to the deepest one.

Distributed (torch.distributed initialised, world size > 1): the global per-bin
gradient is g_k = sum_ranks (1/N_k) sum_{n in k on the rank} grad loss_n with N_k the
global count. The cross-rank terms <g_k^r, g_l^s> of its Gram need either the other
ranks' factors or their gradients, so every path is per-bin there: each rank forms
its local share of g_k (with the global N_k, one all-reduce of K counts), the ranks
sum the K gradients of every parameter with one all-reduce each (K x P floats in
all: K times the gradient all-reduce of a DDP step), and every rank forms the same
G. The bins' losses are summed the same way.

Cost. With ``train_weights`` the pass is the training step's own backward (every
parameter's .grad), plus the per-bin work of each opened weight (about one more
weight-gradient GEMM, or the ghost products), the replays and the autograd path's
passes; without
it the same backward runs with torch.autograd.grad on the opened parameters, leaving
.grad alone (under DDP, whose reducer expects a backward after each forward, probe
with ``train_weights`` or run the forward inside ``ddp.no_sync()``). Gradient
checkpointing re-runs forwards during the backward, which the hooks would record:
the probe does not support it.

Invariants:
  * the model treats the batch's examples independently (no BatchNorm in training
    mode: the probe refuses it); dim ``batch_dim`` of every opened Linear, Embedding
    and LayerNorm input is the batch, dim 0 for convolutions and the other norms;
  * every parameter is used only inside forward calls of the module that holds it
    (a weight used elsewhere, e.g. F.linear(x, emb.weight) in another module, must be
    named in ``autograd``); a replayed module's forward is deterministic (checked);
  * one forward pass per gram() call, inside the ``with`` block; gram() forgets it;
  * an empty bin (N_k = 0) has a zero row and column in G and a NaN loss, as in
    diffusion/gram;
  * G is float64 on the CPU and exactly symmetric; bin_loss is float64 on the CPU.
"""

import math

import torch
import torch.distributed as dist

from .replay import Replay
from .sites import site_for, work_dtype

#: Coverage paths (probe.coverage()).
PATHS = ("ghost", "per-bin", "replay", "autograd")


class _Bins:
    """The batch's bins for one gram() call: index (B,), indicator Z (B, K) float64, members."""

    def __init__(self, bin_index, K, distributed):
        self.index, self.K, self.B = bin_index, K, bin_index.numel()
        self.distributed = distributed
        self.indicator = torch.zeros(self.B, K, dtype=torch.float64, device=bin_index.device)
        self.indicator[torch.arange(self.B, device=bin_index.device), bin_index] = 1
        self.local = torch.bincount(bin_index, minlength=K).tolist()
        self._members = [(k, (bin_index == k).nonzero().view(-1)) for k in range(K) if self.local[k] > 0]
        # The batch ordered by bin: bin k is rows [lo, hi) of perm.
        self.perm = torch.argsort(bin_index, stable=True)
        ends = [0]
        for n in self.local:
            ends.append(ends[-1] + n)
        self._slices = [(k, ends[k], ends[k + 1]) for k in range(K) if self.local[k] > 0]

    def members(self):
        """(k, indices of the batch rows in bin k) for every locally non-empty bin."""
        return self._members

    def slices(self):
        """(k, lo, hi) for every locally non-empty bin: its rows are perm[lo:hi]."""
        return self._slices


class GramProbe:
    """Context manager that opens a model's layers to form per-bin gradient Grams.

    ``params``: None for every parameter of ``model`` that requires grad, or an
    iterable of (name, parameter) pairs. ``batch_dim``: the batch dimension of the
    inputs of Linear, Embedding and LayerNorm modules (1 for a sequence-first
    transformer). ``path``: None for the cost model, or "ghost" / "per-bin" to force
    one path on every weight that has both (tests). ``autograd``: names of parameters
    to put on the autograd path whatever their module (e.g. a module applied to a
    tensor that is shared by the batch yet happens to have B rows, which the probe
    cannot tell from a batch, or a module whose forward draws random numbers).
    ``distributed``: None to sum over the ranks when torch.distributed is initialised
    with more than one rank; ``group`` its process group.
    """

    def __init__(self, model, params=None, *, batch_dim=0, path=None, autograd=(), distributed=None, group=None):
        if path not in (None, "ghost", "per-bin"):
            raise ValueError(f"paretodiff_torch: path {path!r}: want None, 'ghost' or 'per-bin'")
        self.model, self.batch_dim, self.force, self.group = model, batch_dim, path, group
        if distributed is None:
            distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1
        self.distributed = distributed
        self.params = self._select(model, params)
        self.forced = set(autograd)
        self.sites, self.autograd = self._plan(model, self.forced)
        self.replays, self.candidates = self._plan_replays(model)
        self._handles, self._capture, self._recording, self._bn_training = [], True, True, []
        self._coverage = {name: ("ghost-or-per-bin" if self._site_of(name) else "autograd") for name in self.params}

    @staticmethod
    def _select(model, params):
        named = list(model.named_parameters()) if params is None else list(params)
        out, seen = {}, set()
        for name, p in named:
            if params is None and not p.requires_grad:
                continue
            if not p.requires_grad:
                raise ValueError(f"paretodiff_torch: parameter {name} does not require grad")
            if id(p) not in seen:
                out[name] = p
                seen.add(id(p))
        if not out:
            raise ValueError("paretodiff_torch: no parameter to probe")
        return out

    def _plan(self, model, forced):
        by_id = {id(p): n for n, p in self.params.items()}
        owners = {}
        for mname, m in model.named_modules():
            for role, p in m.named_parameters(recurse=False):
                if id(p) in by_id:
                    owners.setdefault(id(p), []).append((mname, m, role))
        sites, claimed = [], set()
        for mname, m in model.named_modules():
            cls = site_for(m)
            if cls is None:
                continue
            selected = {}
            for role, p in m.named_parameters(recurse=False):
                if id(p) in by_id and len(owners[id(p)]) == 1 and by_id[id(p)] not in forced:
                    selected[role] = by_id[id(p)]
            if selected:
                sites.append(cls(mname, m, selected, self.batch_dim))
                claimed.update(selected.values())
        autograd = [n for n in self.params if n not in claimed]
        return sites, autograd

    def _plan_replays(self, model):
        """For each parameter no site opens, the modules whose replay could give its
        per-bin gradients, smallest first: the lowest common ancestor of the modules
        holding it, then its ancestors (replay.py)."""
        wrappers = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
        modules = dict(model.named_modules())
        owners = {}
        for mname, m in modules.items():
            for _, p in m.named_parameters(recurse=False):
                owners.setdefault(id(p), []).append(mname)
        replays, candidates = {}, {}
        for n in self.params:
            if n in self.forced or id(self.params[n]) not in owners:
                continue
            paths = [o.split(".") if o else [] for o in owners[id(self.params[n])]]
            common = []
            for parts in zip(*paths):
                if len(set(parts)) != 1:
                    break
                common.append(parts[0])
            chain = [".".join(common[:i]) for i in range(len(common), -1, -1)]
            chain = [c for c in chain if not isinstance(modules[c], wrappers)]
            for c in chain:
                replays.setdefault(c, Replay(c, modules[c], self.batch_dim))
            candidates[n] = chain
        return replays, candidates

    def _site_of(self, name):
        return any(name in s.selected.values() for s in self.sites)

    # Hooks.

    def __enter__(self):
        for site in self.sites:
            self._handles.append(site.module.register_forward_hook(self._hook(site)))
        for r in self.replays.values():
            r.install(lambda: self._recording, lambda: self._capture)
        for m in self.model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                self._handles.append(m.register_forward_hook(self._bn_hook))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        for r in self.replays.values():
            r.uninstall()
        self._handles = []
        self._forget()
        return False

    def _hook(self, site):
        def hook(module, inputs, output):
            if self._recording and torch.is_grad_enabled() and torch.is_tensor(output) and output.requires_grad:
                site.record(inputs[0], output, lambda: self._capture)

        return hook

    def _bn_hook(self, module, inputs, output):
        if module.training or module.running_mean is None:
            self._bn_training.append(module)

    def _forget(self):
        for s in self.sites:
            s.clear()
        for r in self.replays.values():
            r.clear()
        self._bn_training = []

    def coverage(self):
        """{parameter name: path}: "ghost", "per-bin", "replay" or "autograd" in the last gram() call
        ("ghost-or-per-bin" for an opened weight before the first call)."""
        return dict(self._coverage)

    # The Gram.

    def gram(self, loss, bin_index, num_bins, train_weights=None):
        """The K x K float64 Gram G of the per-bin gradients and the bins' losses L_k.

        ``loss``: the (B,) per-example losses of the forward pass made inside the block.
        ``bin_index``: (B,) ints in [0, num_bins). ``train_weights``: None, or (B,)
        non-zero coefficients c: the same backward pass then accumulates the gradient
        of sum_n c_n loss_n into the parameters' .grad, as loss.backward() would (c =
        w / B for a weighted mean; under DDP, .grad is then averaged over the ranks).
        Returns (G, bin_loss), both float64 CPU tensors.
        """
        try:
            return self._gram(loss, bin_index, int(num_bins), train_weights)
        finally:
            self._forget()

    def _gram(self, loss, bin_index, K, train_weights):
        bins, N, c = self._check(loss, bin_index, K, train_weights)
        if self._bn_training:
            raise ValueError(
                "paretodiff_torch: a BatchNorm ran in training mode (batch statistics): the examples' gradients are not separable; "
                "put it in eval mode for the probe"
            )
        bin_loss = self._bin_loss(loss, bins, N)
        scale = torch.tensor([1.0 / (N[k] * float(ck)) if N[k] > 0 else 0.0 for k, ck in zip(bins.index.tolist(), c.tolist())],
                             dtype=torch.float64, device=loss.device)
        G = torch.zeros(K, K, dtype=torch.float64, device=loss.device)
        # Opened modules that did not run, or ran on a tensor without the batch
        # dimension (a positional table looked up once for the whole batch),
        # take the autograd path this time.
        idle = [s for s in self.sites if not s.calls or not s.batched(bins.B)]
        for s in idle:
            s.clear()
        others = self.autograd + [n for s in idle for n in s.selected.values()]
        replayed, autograd = self._assign_replays(others, bins.B)
        G += self._autograd_share(loss, bins, N, autograd)
        self._backward(loss, c, train_weights is not None, [self.params[n] for ns in replayed.values() for n in ns])
        with torch.no_grad():
            for site in self.sites:
                if site.calls:
                    G += self._site_share(site, bins, scale)
        G += self._replay_share(replayed, bins, scale)
        for n in autograd:
            self._coverage[n] = "autograd"
        G = G.detach().cpu()
        return (G + G.t()) / 2, bin_loss

    def _check(self, loss, bin_index, K, train_weights):
        if not torch.is_tensor(loss) or loss.dim() != 1:
            raise ValueError(f"paretodiff_torch: loss must be a (B,) tensor of per-example losses, got shape {tuple(getattr(loss, 'shape', ()))}")
        B = loss.numel()
        if B == 0:
            raise ValueError("paretodiff_torch: an empty batch")
        bin_index = torch.as_tensor(bin_index, device=loss.device).long().view(-1)
        if bin_index.numel() != B:
            raise ValueError(f"paretodiff_torch: {bin_index.numel()} bin indices for {B} losses")
        if K < 1:
            raise ValueError(f"paretodiff_torch: num_bins {K} < 1")
        if B and (int(bin_index.min()) < 0 or int(bin_index.max()) >= K):
            raise ValueError(f"paretodiff_torch: bin indices must lie in [0, {K})")
        if train_weights is None:
            c = torch.ones(B, dtype=torch.float64)
        else:
            c = torch.as_tensor(train_weights).detach().double().view(-1).cpu()
            if c.numel() != B or not bool(torch.isfinite(c).all()) or bool((c == 0).any()):
                raise ValueError(f"paretodiff_torch: train_weights must be {B} finite non-zero values")
        bins = _Bins(bin_index, K, self.distributed)
        counts = torch.tensor(bins.local, dtype=torch.float64, device=loss.device)
        if self.distributed:
            dist.all_reduce(counts, group=self.group)
        return bins, [int(v) for v in counts.tolist()], c

    def _bin_loss(self, loss, bins, N):
        sums = torch.zeros(bins.K, dtype=torch.float64, device=loss.device).index_add_(0, bins.index, loss.detach().double())
        if self.distributed:
            dist.all_reduce(sums, group=self.group)
        return torch.tensor([s / n if n > 0 else math.nan for s, n in zip(sums.tolist(), N)], dtype=torch.float64)

    def _autograd_share(self, loss, bins, N, names):
        """The Gram share of the parameters on the autograd path: one grad call per bin."""
        K = bins.K
        G = torch.zeros(K, K, dtype=torch.float64, device=loss.device)
        if not names:
            return G
        params = [self.params[n] for n in names]
        grads = [p.new_zeros((K,) + tuple(p.shape), dtype=work_dtype(p)) for p in params]
        self._capture = False
        try:
            for k, idx in bins.members():
                gs = torch.autograd.grad(loss[idx].sum() / N[k], params, retain_graph=True, allow_unused=True)
                for acc, g in zip(grads, gs):
                    if g is not None:
                        acc[k] = g.to_dense() if g.is_sparse else g
        finally:
            self._capture = True
        for g in grads:
            G += self._gram_of(g)
        return G

    def _assign_replays(self, names, B):
        """{module name: [parameter names]} for the replay path, and the rest (autograd)."""
        replayed, autograd = {}, []
        for n in names:
            chosen = next((m for m in self.candidates.get(n, ()) if self.replays[m].unusable(B) is None), None)
            if chosen is None:
                autograd.append(n)
            else:
                replayed.setdefault(chosen, []).append(n)
        return replayed, autograd

    def _replay_share(self, replayed, bins, scale):
        G = torch.zeros(bins.K, bins.K, dtype=torch.float64, device=scale.device)
        self._recording, self._capture = False, False
        try:
            for m, names in replayed.items():
                for n, g in zip(names, self.replays[m].per_bin([self.params[n] for n in names], bins, scale)):
                    self._coverage[n] = "replay"
                    G += self._gram_of(g)
        finally:
            self._recording, self._capture = True, True
        return G

    def _backward(self, loss, c, accumulate, replayed):
        """The one pass: accumulate sum c_n loss_n into .grad, or only run it for the hooks."""
        total = (loss * c.to(device=loss.device, dtype=loss.dtype)).sum()
        if accumulate:
            total.backward()
            return
        inputs = [self.params[n] for s in self.sites if s.calls for n in s.selected.values()] + replayed
        if inputs:
            torch.autograd.grad(total, inputs, allow_unused=True)

    def _site_share(self, site, bins, scale):
        path = site.weight_path(bins, "per-bin" if self.distributed else self.force)
        G = torch.zeros(bins.K, bins.K, dtype=torch.float64, device=scale.device)
        for name, kind, value in site.contributions(bins, path, scale):
            self._coverage[name] = kind
            G += _ghost_bins(value, bins) if kind == "ghost" else self._gram_of(value)
        return G

    def _gram_of(self, grads):
        """g g^T in float64 for the (K, ...) per-bin gradients, summed over the ranks first."""
        if self.distributed:
            dist.all_reduce(grads, group=self.group)
        flat = grads.reshape(grads.shape[0], -1).to(torch.float64)
        return flat @ flat.t()


def _ghost_bins(M, bins):
    Z = bins.indicator
    return Z.t() @ M.to(torch.float64) @ Z
