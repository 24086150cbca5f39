"""The replay path: per-bin gradients of a module's other parameters from its recorded calls.

A parameter that no site opens (nn.MultiheadAttention's in_proj_weight, a bare
nn.Parameter, a weight tied between two modules, a table looked up once for the
whole batch) is used inside the forward of some module M that treats the batch's
examples independently: the smallest module that holds every use of it and runs on
batched tensors (MultiheadAttention for its own weights, the whole model for a bare
parameter of the model). Its per-bin gradient is then a vector-Jacobian product of
M alone,

    g_k = sum_{n in k} r_n (d out_n / d theta)^T delta_n = VJP of M on bin k's rows,

with delta the gradient of M's outputs in the probe's one backward pass (scaled by
r_n as in probe.py). The replay records M's calls (arguments, outputs, their
gradients), re-runs M's forward on each bin's rows of the arguments and takes that
VJP for just those parameters: one more forward and backward of M over the batch in
all, however many bins. It applies where the replay is exact: M ran with batched
arguments, nothing modified them in place since, no dropout is active inside it,
and each bin's replayed outputs equal the recorded rows (checked: a forward that
draws random numbers or mixes the examples fails the check and raises). Where it
does not apply the probe falls back to one autograd.grad call per bin on the whole
graph (probe.py).
"""

import torch
import torch.nn as nn

from .sites import work_dtype

#: Replayed outputs must equal the recorded rows to this fraction of their largest
#: magnitude (a batch split can change a GEMM's rounding, never more).
MATCH = {torch.float64: 1e-9, torch.float32: 1e-3}


def batch_dim_of(t, B, batch_dim):
    """The batch dimension of tensor t (batch_dim, else 0) or None for a shared tensor."""
    if not torch.is_tensor(t):
        return None
    for d in (batch_dim, 0):
        if t.dim() > d and t.shape[d] == B:
            return d
    return None


def _tensors(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _dropout_active(module):
    for m in module.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd) and m.training and m.p > 0:
            return True
        if isinstance(m, nn.MultiheadAttention) and m.training and m.dropout > 0:
            return True
    return False


class _Call:
    """One recorded call: arguments (with their versions), outputs and their gradients."""

    def __init__(self, args, kwargs, out, capture):
        self.args, self.kwargs = args, kwargs
        self.inputs = [t for t in list(args) + list(kwargs.values()) if torch.is_tensor(t)]
        self.versions = [t._version for t in self.inputs]
        self.outs = [o.detach() if torch.is_tensor(o) else None for o in _tensors(out)]
        self.deltas = [None] * len(self.outs)
        for i, o in enumerate(_tensors(out)):
            if torch.is_tensor(o) and o.requires_grad:
                o.register_hook(self._hook(i, capture))

    def _hook(self, i, capture):
        def hook(g):
            if capture():
                self.deltas[i] = g if self.deltas[i] is None else self.deltas[i] + g

        return hook

    def intact(self):
        return all(t._version == v for t, v in zip(self.inputs, self.versions))


class Replay:
    """Records the calls of one module so that its forward can be replayed per bin."""

    def __init__(self, name, module, batch_dim):
        self.name, self.module, self.batch_dim = name, module, batch_dim
        self.calls, self._had_forward = [], "forward" in module.__dict__

    def install(self, recording, capture):
        """Wraps the module's forward (an instance attribute, removed by uninstall)."""
        inner = self.module.forward

        def forward(*args, **kwargs):
            out = inner(*args, **kwargs)
            if recording() and torch.is_grad_enabled():
                call = _Call(args, kwargs, out, capture)
                if not call.intact():  # the forward modified its own arguments
                    call.inputs = None
                self.calls.append(call)
            return out

        self._inner = inner
        self.module.forward = forward

    def uninstall(self):
        if self._had_forward:
            self.module.forward = self._inner
        else:
            del self.module.forward

    def clear(self):
        self.calls = []

    def unusable(self, B):
        """Why the recorded calls cannot be replayed per bin (None when they can)."""
        if not self.calls:
            return "not called"
        if _dropout_active(self.module):
            return "dropout active"
        for c in self.calls:
            if c.inputs is None or not c.intact():
                return "arguments modified in place"
            if not any(batch_dim_of(o, B, self.batch_dim) is not None for o in c.outs if o is not None):
                return "no batched output"
        return None

    def per_bin(self, params, bins, scale):
        """The (K, *shape) per-bin gradients of params, one replay of each bin's rows per call."""
        grads = [p.new_zeros((bins.K,) + tuple(p.shape), dtype=work_dtype(p)) for p in params]
        for c in self.calls:
            for k, idx in bins.members():
                outs, cots = self._replay(c, idx, bins.B, scale)
                if not outs:
                    continue
                gs = torch.autograd.grad(outs, params, cots, allow_unused=True)
                for acc, g in zip(grads, gs):
                    if g is not None:
                        acc[k] += g
        return grads

    def _replay(self, c, idx, B, scale):
        """Re-runs the forward on rows idx; returns the outputs and their scaled gradients."""
        rows = lambda t: t if batch_dim_of(t, B, self.batch_dim) is None else t.detach().index_select(batch_dim_of(t, B, self.batch_dim), idx)  # noqa: E731
        args = [rows(a) for a in c.args]
        kwargs = {k: rows(v) for k, v in c.kwargs.items()}
        with torch.enable_grad():
            out = _tensors(self._inner(*args, **kwargs))
        outs, cots = [], []
        for o, rec, d in zip(out, c.outs, c.deltas):
            if d is None or rec is None:
                continue
            dim = batch_dim_of(rec, B, self.batch_dim)
            want = rec.index_select(dim, idx)
            tol = MATCH.get(rec.dtype, 1e-2) * float(want.abs().max().clamp_min(1e-30))
            if o.shape != want.shape or float((o.detach() - want).abs().max()) > tol:
                raise RuntimeError(
                    f"paretodiff_torch: replaying {self.name or 'the model'} ({type(self.module).__name__}) on one bin's rows does not "
                    "give the recorded outputs (random numbers in its forward, or examples that interact): put it in eval mode "
                    "or name its parameters in GramProbe(autograd=...)"
                )
            shape = [1] * d.dim()
            shape[dim] = -1
            cots.append(d.index_select(dim, idx) * scale.index_select(0, idx).view(shape).to(d.dtype))
            outs.append(o)
        return outs, cots
