"""The layers whose per-example gradients the probe forms from one backward pass.

A *site* is one module of a supported type whose parameters the probe
covers. During the forward pass it records, for every call, the module's
input ``a`` (detached: autograd keeps it alive anyway) and, through a tensor
hook on the output ``y``, the output gradient ``delta`` of the backward pass.
With the batch as the first dimension, a weight applied at positions p
(tokens, conv patches, looked-up indices) has the per-example gradient

    g_n = sum_p delta[n, p] a[n, p]^T,

so for two examples

    <g_n, g_m> = sum_{p, q} (delta[n, p] . delta[m, q]) (a[n, p] . a[m, q])

(the ghost identity; diffusion/gram's Pass uses it with one position). With
``delta`` rows already scaled by r_n = 1/(N_k c_n) (see probe.py), a site
returns either

  * ``("ghost", M)``: M[n, m] = <g~_n, g~_m>, the B x B per-example Gram of
    the scaled rows, whose bin sums Z^T M Z give the site's share of G; or
  * ``("per-bin", grads)``: the K per-bin gradients g_k = sum_{n in k} g~_n,
    a (K, *param.shape) tensor per parameter, whose Gram is g g^T.

Cost model (multiply-adds, per weight, B examples, P positions per example
summed over calls, d_in x d_out the weight's matrix shape per group):

  * ghost:   (B P)^2 (d_in + d_out + 1), memory 2 (B P)^2;
  * per-bin: B P d_in d_out (one weight-gradient GEMM, the same as autograd's
    own) + K^2 d_in d_out (the Gram of the K gradients), memory K d_in d_out.

The probe takes the smaller, and per-bin where (B P)^2 exceeds GHOST_LIMIT.
Biases and norm affine parameters are always per-bin: their per-example
gradients are sums of ``delta`` (times x^ for a norm's weight), B P C work.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

#: The largest (B P)^2 the ghost path forms (entries of one B P x B P product).
GHOST_LIMIT = 1 << 26


def _plain(module, base):
    """Whether module is base or a subclass that keeps base's forward."""
    return isinstance(module, base) and type(module).forward is base.forward


def site_for(module):
    """The Site class for a module, or None for a module the probe does not open."""
    if _plain(module, nn.Linear):
        return LinearSite
    if _plain(module, nn.Conv1d) or _plain(module, nn.Conv2d):
        return ConvSite
    if _plain(module, nn.Embedding):
        return None if module.scale_grad_by_freq else EmbeddingSite
    if _plain(module, nn.LayerNorm) or _plain(module, nn.GroupNorm):
        return NormSite
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and type(module).forward in (
        nn.BatchNorm1d.forward, nn.BatchNorm2d.forward, nn.BatchNorm3d.forward
    ):
        return NormSite
    return None


def work_dtype(p):
    """The dtype the probe computes a parameter's share in: float32 for 16-bit floats."""
    return torch.float32 if p.dtype in (torch.float16, torch.bfloat16) else p.dtype


def bin_sum(rows, bins):
    """The per-bin sums (K, ...) of per-example rows (B, ...); bins is a Bins plan."""
    out = rows.new_zeros((bins.K,) + tuple(rows.shape[1:]))
    return out.index_add_(0, bins.index, rows)


def ghost_gram(A, D):
    """M[n, m] = sum_{p,q} (D[n,p].D[m,q]) (A[n,p].A[m,q]) for A (B,P,di), D (B,P,do)."""
    B, P = A.shape[0], A.shape[1]
    Af, Df = A.reshape(B * P, -1), D.reshape(B * P, -1)
    prod = (Af @ Af.t()) * (Df @ Df.t())
    if P == 1:
        return prod
    return prod.to(torch.float64).reshape(B, P, B, P).sum((1, 3))


class Site:
    """One module's recorded calls and how its parameters' gradients are formed.

    Subclasses implement ``contributions(bins, path, scale)`` yielding
    ``(param_name, kind, value)`` for the selected parameters (kind "ghost": a
    B x B per-example Gram; "per-bin": K per-bin gradients), and ``ghost_cost(K)``
    returning the two costs of the weight and B P (the cost model above).
    ``batch_dim`` applies to layouts with positions before the features (Linear,
    Embedding, LayerNorm); convolutions and the other norms have the batch first.
    """

    positional = False  # whether batch_dim applies to the module's layout

    def __init__(self, name, module, selected, batch_dim):
        self.name, self.module = name, module
        self.selected = selected  # {"weight": full_name, "bias": full_name}
        self.batch_dim = batch_dim if self.positional or isinstance(module, nn.LayerNorm) else 0
        self.calls = []  # [a, delta-or-None] per call

    def record(self, a, y, capture):
        call = [a.detach(), None]
        self.calls.append(call)

        def hook(g):
            if capture():
                call[1] = g if call[1] is None else call[1] + g

        y.register_hook(hook)

    def clear(self):
        self.calls = []

    def batched(self, B):
        """Whether every call's input has the batch of B examples in its batch dimension."""
        return all(a.dim() > self.batch_dim and a.shape[self.batch_dim] == B for a, _ in self.calls)

    def weight_path(self, bins, force):
        """'ghost' or 'per-bin' for the weight, by force or the cost model."""
        if "weight" not in self.selected:
            return None
        if force is not None:
            return force
        g, p, bp = self.ghost_cost(bins.K)
        return "ghost" if g < p and bp * bp <= GHOST_LIMIT else "per-bin"


def _batch_first(t, batch_dim):
    return t if batch_dim == 0 else t.movedim(batch_dim, 0)


class LinearSite(Site):
    """nn.Linear: a (B, ..., d_in), y (B, ..., d_out); positions are the middle dims."""

    positional = True

    def _factors(self, B):
        W = self.module.weight
        As, Ds = [], []
        for a, d in self.calls:
            a = _batch_first(a, self.batch_dim)
            _check_batch(self, a, B)
            wd = work_dtype(W)
            A = a.reshape(B, -1, W.shape[1]).to(wd)
            D = torch.zeros(A.shape[:2] + (W.shape[0],), dtype=wd, device=A.device) if d is None else _batch_first(d, self.batch_dim).reshape(B, -1, W.shape[0]).to(wd)
            As.append(A)
            Ds.append(D)
        return torch.cat(As, 1), torch.cat(Ds, 1)

    def ghost_cost(self, K):
        W = self.module.weight
        B, P = self._positions()
        bp = B * P
        di, do = W.shape[1], W.shape[0]
        return bp * bp * (di + do + 1), bp * di * do + K * K * di * do, bp

    def _positions(self):
        W = self.module.weight
        P = 0
        for a, _ in self.calls:
            a = _batch_first(a, self.batch_dim)
            P += a.numel() // (a.shape[0] * W.shape[1])
        return self.calls[0][0].shape[self.batch_dim], P

    def contributions(self, bins, path, scale):
        A, D = self._factors(bins.B)
        if path == "per-bin":
            # Rows in bin order, so that each bin's rows are one slice.
            A, D, scale, order = A[bins.perm], D[bins.perm], scale[bins.perm], bins.perm
        D = D * scale.view(-1, 1, 1).to(D.dtype)
        if path == "ghost":
            yield self.selected["weight"], "ghost", ghost_gram(A, D)
        elif path == "per-bin":
            g = A.new_zeros((bins.K,) + tuple(self.module.weight.shape))
            for k, lo, hi in bins.slices():
                torch.mm(D[lo:hi].reshape(-1, D.shape[2]).t(), A[lo:hi].reshape(-1, A.shape[2]), out=g[k])
            yield self.selected["weight"], "per-bin", g
        if "bias" in self.selected:
            rows = D.sum(1)
            if path == "per-bin":
                rows = torch.empty_like(rows).index_copy_(0, order, rows)
            yield self.selected["bias"], "per-bin", bin_sum(rows, bins)


def _check_batch(site, t, B):
    if t.dim() == 0 or t.shape[0] != B:
        raise ValueError(
            f"paretodiff_torch: {site.name} ({type(site.module).__name__}) got an input of shape {tuple(t.shape)} "
            f"whose dimension {site.batch_dim} is not the batch of {B} examples (set GramProbe's batch_dim)"
        )


class ConvSite(Site):
    """nn.Conv1d / nn.Conv2d (any stride, padding, dilation, groups, padding mode)."""

    def _geometry(self):
        m = self.module
        two_d = isinstance(m, nn.Conv2d)
        k = tuple(m.kernel_size) if two_d else (1,) + tuple(m.kernel_size)
        s = tuple(m.stride) if two_d else (1,) + tuple(m.stride)
        dl = tuple(m.dilation) if two_d else (1,) + tuple(m.dilation)
        return two_d, k, s, dl

    def _padded(self, a):
        """The input as the convolution sees it, padded explicitly, as (B, C, H, W)."""
        m = self.module
        two_d, k, _, dl = self._geometry()
        if m.padding_mode != "zeros":  # padded in the module's own dims, as its forward does
            a = F.pad(a, m._reversed_padding_repeated_twice, mode=m.padding_mode)
            return a if two_d else a.unsqueeze(2)
        if not two_d:
            a = a.unsqueeze(2)
        if isinstance(m.padding, str):
            if m.padding == "same":
                pads = []
                for kk, dd in zip(reversed(k), reversed(dl)):
                    total = dd * (kk - 1)
                    pads += [total // 2, total - total // 2]
                a = F.pad(a, pads)
        else:
            pad = tuple(m.padding) if two_d else (0,) + tuple(m.padding)
            a = F.pad(a, (pad[1], pad[1], pad[0], pad[0]))
        return a

    def _delta(self, d):
        return d if isinstance(self.module, nn.Conv2d) else d.unsqueeze(2)

    def ghost_cost(self, K):
        m = self.module
        G = m.groups
        di = m.weight[0].numel()
        do = m.out_channels // G
        B = self.calls[0][0].shape[0]
        P = 0
        for a, d in self.calls:
            P += (d[0, 0].numel() if d is not None else 0)
        bp = B * P
        return G * bp * bp * (di + do + 1) + bp * di * G, G * (bp * di * do + K * K * di * do), bp

    def contributions(self, bins, path, scale):
        m = self.module
        _, k, s, dl = self._geometry()
        G, W = m.groups, m.weight
        do = m.out_channels // G
        ghost = torch.zeros(bins.B, bins.B, dtype=torch.float64, device=W.device) if path == "ghost" else None
        wd = work_dtype(W)
        per_bin = W.new_zeros((bins.K,) + tuple(W.shape), dtype=wd) if path == "per-bin" else None
        bias = W.new_zeros(bins.K, m.out_channels, dtype=wd) if "bias" in self.selected else None
        for a, d in self.calls:
            _check_batch(self, a, bins.B)
            if d is None:
                continue
            x = self._padded(a.to(wd))
            d = self._delta(d.to(wd)) * scale.view(-1, 1, 1, 1).to(wd)
            if bias is not None:
                bias += bin_sum(d.sum((2, 3)), bins)
            if per_bin is not None:
                w4 = (W if W.dim() == 4 else W.unsqueeze(2)).detach().to(wd)
                for kk, idx in bins.members():
                    gw = torch.ops.aten.convolution_backward(
                        d[idx], x[idx], w4, None, list(s), [0, 0], list(dl), False, [0, 0], G, (False, True, False)
                    )[1]
                    per_bin[kk] += gw.reshape(W.shape)
            if ghost is not None:
                cols = F.unfold(x, k, dilation=dl, padding=0, stride=s)  # (B, C_in k, P)
                B, P = cols.shape[0], cols.shape[2]
                cols = cols.transpose(1, 2).reshape(B, P, G, -1)
                D = d.flatten(2).transpose(1, 2).reshape(B, P, G, do)
                for g in range(G):
                    ghost += ghost_gram(cols[:, :, g], D[:, :, g]).to(torch.float64)
        if ghost is not None:
            yield self.selected["weight"], "ghost", ghost
        if per_bin is not None:
            yield self.selected["weight"], "per-bin", per_bin
        if bias is not None:
            yield self.selected["bias"], "per-bin", bias


class EmbeddingSite(Site):
    """nn.Embedding: indices (B, ...), y (B, ..., d); a row's gradient is a scatter of delta."""

    positional = True

    def _factors(self, B):
        m = self.module
        Is, Ds = [], []
        for a, d in self.calls:
            a = _batch_first(a, self.batch_dim)
            _check_batch(self, a, B)
            idx = a.reshape(B, -1)
            wd = work_dtype(m.weight)
            D = torch.zeros(idx.shape + (m.embedding_dim,), dtype=wd, device=idx.device) if d is None else _batch_first(d, self.batch_dim).reshape(B, -1, m.embedding_dim).to(wd)
            if m.padding_idx is not None:
                D = D * (idx != m.padding_idx).unsqueeze(-1).to(D.dtype)
            Is.append(idx)
            Ds.append(D)
        return torch.cat(Is, 1), torch.cat(Ds, 1)

    def ghost_cost(self, K):
        m = self.module
        B = self.calls[0][0].shape[self.batch_dim]
        P = sum(_batch_first(a, self.batch_dim).numel() // B for a, _ in self.calls)
        bp = B * P
        used = min(bp, m.num_embeddings)
        return bp * bp * (m.embedding_dim + 2), bp * m.embedding_dim + K * K * used * m.embedding_dim, bp

    def contributions(self, bins, path, scale):
        idx, D = self._factors(bins.B)
        D = D * scale.view(-1, 1, 1).to(D.dtype)
        B, P = idx.shape
        if path == "ghost":
            flat = idx.reshape(-1)
            same = (flat.view(-1, 1) == flat.view(1, -1)).to(D.dtype)
            Df = D.reshape(B * P, -1)
            prod = same * (Df @ Df.t())
            yield self.selected["weight"], "ghost", prod.to(torch.float64).reshape(B, P, B, P).sum((1, 3))
            return
        # Per-bin over the rows the batch touches only (the others are zero),
        # or every row when the ranks' gradients are summed (distributed).
        if bins.distributed:
            rows, inverse = None, idx
            g = D.new_zeros((bins.K,) + tuple(self.module.weight.shape))
        else:
            rows, inverse = torch.unique(idx.reshape(-1), return_inverse=True)
            inverse = inverse.view(B, P)
            g = D.new_zeros(bins.K, rows.numel(), D.shape[2])
        for k, members in bins.members():
            g[k].index_add_(0, inverse[members].reshape(-1), D[members].reshape(-1, D.shape[2]))
        yield self.selected["weight"], "per-bin", g


class NormSite(Site):
    """LayerNorm, GroupNorm and BatchNorm in eval: y = x^ * weight + bias per channel."""

    def _normalized(self, a):
        m = self.module
        if isinstance(m, nn.LayerNorm):
            return F.layer_norm(a, m.normalized_shape, None, None, m.eps)
        if isinstance(m, nn.GroupNorm):
            return F.group_norm(a, m.num_groups, None, None, m.eps)
        return F.batch_norm(a, m.running_mean, m.running_var, None, None, False, 0.0, m.eps)

    def contributions(self, bins, path, scale):
        m = self.module
        layer = isinstance(m, nn.LayerNorm)
        shape_param = m.weight if m.weight is not None else m.bias
        shape = shape_param.shape
        dtype = work_dtype(shape_param)
        gw = shape_param.new_zeros((bins.K,) + tuple(shape), dtype=dtype) if "weight" in self.selected else None
        gb = shape_param.new_zeros((bins.K,) + tuple(shape), dtype=dtype) if "bias" in self.selected else None
        for a, d in self.calls:
            if d is None:
                continue
            if layer:
                a, d = _batch_first(a, self.batch_dim), _batch_first(d, self.batch_dim)
            _check_batch(self, a, bins.B)
            a, d = a.to(dtype), d.to(dtype) * scale.view((-1,) + (1,) * (d.dim() - 1)).to(dtype)
            if layer:
                dims = tuple(range(1, d.dim() - len(shape)))
            else:
                dims = tuple(range(2, d.dim()))
            if gw is not None:
                xh = self._normalized(a)
                prod = d * xh
                gw += bin_sum(prod.sum(dims) if dims else prod, bins)
            if gb is not None:
                gb += bin_sum(d.sum(dims) if dims else d, bins)
        if gw is not None:
            yield self.selected["weight"], "per-bin", gw
        if gb is not None:
            yield self.selected["bias"], "per-bin", gb

    def ghost_cost(self, K):  # never asked: norm weights are per-bin
        return 1, 0, 0

    def weight_path(self, bins, force):
        return "per-bin" if "weight" in self.selected else None
