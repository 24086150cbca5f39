"""PyTorch twins of paretodiff's networks.

`paretodiff export --checkpoint DIR --format safetensors` writes a trained model's
weights under the names of the Go engine (diffusion/nn) with its spec in the file's
metadata; `ResMLPTwin.from_safetensors(path)` builds the same network in PyTorch, loads
the weights and predicts what the Go model predicts (to float32 rounding), input skips
and time embedding included:

    from paretodiff_torch.twins import ResMLPTwin
    net = ResMLPTwin.from_safetensors("runs/toy/model.safetensors")
    pred = net(x_t, t)        # x_t (B, dim) float32, t (B) integer timesteps 0..T-1

The file is read with struct + numpy (read_safetensors), without the safetensors
package. Depends on torch >= 1.13 and numpy only.
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["read_safetensors", "timestep_embedding", "ResMLPTwin"]

# safetensors dtypes this reader knows, as little-endian numpy dtypes.
_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1"}

# The metadata key of paretodiff's JSON spec (export.MetaKey).
META_KEY = "paretodiff"


def read_safetensors(path):
    """Read a safetensors file: ({name: numpy array}, {metadata key: string}).

    The format: an unsigned 64-bit little-endian header length N, N bytes of JSON
    mapping each tensor's name to its dtype, shape and data_offsets [begin, end)
    (into the data after the header) and "__metadata__" to string metadata, then
    the raw little-endian data.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: not a safetensors file (shorter than 8 bytes)" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError("%s: header of %d bytes in a file of %d" % (path, n, len(raw)))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, e in header.items():
        if e["dtype"] not in _DTYPES:
            raise ValueError("%s: tensor %s has the unsupported dtype %s" % (path, name, e["dtype"]))
        lo, hi = e["data_offsets"]
        dt = np.dtype(_DTYPES[e["dtype"]])
        count = int(np.prod(e["shape"], dtype=np.int64))
        if not (0 <= lo <= hi <= len(data)) or hi - lo != count * dt.itemsize:
            raise ValueError("%s: tensor %s: data_offsets %s do not hold shape %s of %s" % (path, name, [lo, hi], e["shape"], e["dtype"]))
        out[name] = np.frombuffer(data[lo:hi], dtype=dt).reshape(e["shape"]).copy()
    return out, meta


def timestep_embedding(t, dim, max_period=10000.0):
    """The ResMLP's sinusoidal embedding [cos(t·f_i), sin(t·f_i)], (B, dim) float32.

    f_i = exp(-ln(max_period)·i/(dim/2)), i < dim/2, computed in float64 and rounded
    to float32 as the Go engine does (float32 arguments t·f_i would lose 1e-4 at
    t ≈ 1000); max_period is first rounded to float32, as the engine holds it.
    """
    half = dim // 2
    lp = math.log(float(np.float32(max_period)))
    i = torch.arange(half, dtype=torch.float64, device=t.device)
    freqs = torch.exp(-lp * i / half)
    args = t.to(torch.float32).to(torch.float64)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1).to(torch.float32)


class _Block(nn.Module):
    def __init__(self, width, hidden, eps):
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=eps)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)


class ResMLPTwin(nn.Module):
    """The PyTorch twin of paretodiff's ResMLP (diffusion/nn.ResMLP).

        e    = timestep_embedding(t)
        h    = in(x_t) + time2(act(time1(e)))
        h    = h + blockI.fc2(act(blockI.fc1(blockI.norm(h))))    for I < depth
        pred = out(act(norm_out(h))) [+ c·x_t] [+ g·skip(x_t)]

    act is SiLU or tanh-GELU; the input skips' per-row gains (diffusion.SkipGains) are
    c = b·σ_t/(α_t²σ_d² + σ_t²) when sigma_data > 0 and g = b/σ_t − c with the learned
    skip, where b is 1 for eps and flow, α_t for v and 0 for x0; α_t, σ_t come from the
    exported schedule (buffers schedule_alpha, schedule_sigma, float64). Parameters
    carry the Go names (time1.weight, in.weight, block0.fc1.weight, norm_out.bias,
    skip.weight, ...), so state_dict() matches the exported file's tensors.
    """

    def __init__(self, dim, width=256, depth=3, hidden=0, time_dim=0, act="silu", max_period=10000.0,
                 sigma_data=0.0, skip=False, target="eps", alpha=None, sigma=None, layer_norm_eps=1e-5):
        super().__init__()
        hidden = hidden or 2 * width
        time_dim = time_dim or width + width % 2
        if act not in ("silu", "gelu"):
            raise ValueError("unknown activation %r (want silu or gelu)" % act)
        if target not in ("eps", "x0", "v", "flow"):
            raise ValueError("unknown target %r (want eps, x0, v or flow)" % target)
        self.dim, self.time_dim, self.max_period = dim, time_dim, max_period
        self.act_name, self.sigma_data, self.target = act, float(sigma_data), target
        self.time1 = nn.Linear(time_dim, width)
        self.time2 = nn.Linear(width, width)
        self.add_module("in", nn.Linear(dim, width))  # the Go name; "in" is a Python keyword
        self.depth = depth
        for i in range(depth):
            self.add_module("block%d" % i, _Block(width, hidden, layer_norm_eps))
        self.norm_out = nn.LayerNorm(width, eps=layer_norm_eps)
        self.out = nn.Linear(width, dim)
        self.skip = nn.Linear(dim, dim) if skip else None
        if self.preconditioned and (alpha is None or sigma is None):
            raise ValueError("a network with input skips needs the schedule's alpha and sigma")
        a = torch.as_tensor(np.asarray(alpha if alpha is not None else [], dtype=np.float64))
        s = torch.as_tensor(np.asarray(sigma if sigma is not None else [], dtype=np.float64))
        self.register_buffer("schedule_alpha", a, persistent=False)
        self.register_buffer("schedule_sigma", s, persistent=False)
        self.meta = {}

    @property
    def preconditioned(self):
        """Whether the output has input skips (sigma_data > 0 or the learned skip)."""
        return self.sigma_data > 0 or self.skip is not None

    def act(self, x):
        if self.act_name == "silu":
            return F.silu(x)
        return F.gelu(x, approximate="tanh")

    def skip_gains(self, t):
        """The gains (c, g) of the input skips at integer timesteps t, float64 (B) each."""
        alpha = self.schedule_alpha[t.long()]
        sigma = self.schedule_sigma[t.long()]
        b = {"eps": torch.ones_like(alpha), "flow": torch.ones_like(alpha), "v": alpha, "x0": torch.zeros_like(alpha)}[self.target]
        if self.sigma_data > 0:
            c = b * sigma / (alpha * alpha * self.sigma_data * self.sigma_data + sigma * sigma)
        else:
            c = torch.zeros_like(alpha)
        return c, b / sigma - c

    def forward(self, x, t):
        """The prediction of the target for x_t (B, dim) at integer timesteps t (B)."""
        e = timestep_embedding(t, self.time_dim, self.max_period).to(x.dtype)
        h = getattr(self, "in")(x) + self.time2(self.act(self.time1(e)))
        for i in range(self.depth):
            b = getattr(self, "block%d" % i)
            h = h + b.fc2(self.act(b.fc1(b.norm(h))))
        out = self.out(self.act(self.norm_out(h)))
        if self.preconditioned:
            c, g = self.skip_gains(t)
            # The engine rounds the gains to float32 before applying them.
            c, g = c.to(torch.float32).to(x.dtype), g.to(torch.float32).to(x.dtype)
            if self.sigma_data > 0:
                out = out + c[:, None] * x
            if self.skip is not None:
                out = out + g[:, None] * self.skip(x)
        return out

    @classmethod
    def from_safetensors(cls, path, device=None):
        """Build the twin of the model exported to path and load its weights."""
        tensors, meta = read_safetensors(path)
        if META_KEY not in meta:
            raise ValueError("%s: no %r metadata: not written by paretodiff export" % (path, META_KEY))
        spec = json.loads(meta[META_KEY])
        if spec.get("kind") != "resmlp":
            raise ValueError("%s: network kind %r: this twin is the ResMLP's" % (path, spec.get("kind")))
        c = spec["resmlp"]
        net = cls(c["dim"], c["width"], c["depth"], c["hidden"], c["time_dim"], c["act"], c["max_period"],
                  c.get("sigma_data", 0.0), c.get("skip", False), spec["target"],
                  tensors.pop("schedule.alpha"), tensors.pop("schedule.sigma"), spec.get("layer_norm_eps", 1e-5))
        net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
        net.meta = spec
        if device is not None:
            net = net.to(device)
        return net.eval()
