"""PyTorch twins of paretodiff's networks.

`paretodiff export --checkpoint DIR --format safetensors` writes a trained model's
weights under the names of the Go engine (diffusion/nn) with its spec in the file's
metadata; `from_safetensors(path)` builds the same network in PyTorch (ResMLPTwin for
a ResMLP, DiTTwin for a DiT), loads the weights and predicts what the Go model predicts
(to float32 rounding), input skips and time embedding included:

    from paretodiff_torch.twins import from_safetensors
    net = from_safetensors("runs/toy/model.safetensors")
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

__all__ = ["read_safetensors", "timestep_embedding", "sincos_pos_table", "ResMLPTwin", "DiTTwin", "from_safetensors"]

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


def _skip_gains(net, t):
    """The input skips' gains (c, g) of net at integer timesteps t, float64 (B) each
    (diffusion.SkipGains): c = b·σ_t/(α_t²σ_d² + σ_t²) when sigma_data > 0 (else 0) and
    g = b/σ_t − c, b = 1 for eps and flow, α_t for v, 0 for x0."""
    alpha = net.schedule_alpha[t.long()]
    sigma = net.schedule_sigma[t.long()]
    b = {"eps": torch.ones_like(alpha), "flow": torch.ones_like(alpha), "v": alpha, "x0": torch.zeros_like(alpha)}[net.target]
    if net.sigma_data > 0:
        c = b * sigma / (alpha * alpha * net.sigma_data * net.sigma_data + sigma * sigma)
    else:
        c = torch.zeros_like(alpha)
    return c, b / sigma - c


def _add_skips(net, out, x, t):
    """out + c·x [+ g·skip(x)] for a network with input skips, out otherwise."""
    if not net.preconditioned:
        return out
    c, g = _skip_gains(net, t)
    # The engine rounds the gains to float32 before applying them.
    c, g = c.to(torch.float32).to(x.dtype), g.to(torch.float32).to(x.dtype)
    if net.sigma_data > 0:
        out = out + c[:, None] * x
    if net.skip is not None:
        out = out + g[:, None] * net.skip(x)
    return out


def _schedule_buffers(net, alpha, sigma):
    """Register the schedule's α_t and σ_t (float64) that the input skips' gains need."""
    if net.preconditioned and (alpha is None or sigma is None):
        raise ValueError("a network with input skips needs the schedule's alpha and sigma")
    a = torch.as_tensor(np.asarray(alpha if alpha is not None else [], dtype=np.float64))
    s = torch.as_tensor(np.asarray(sigma if sigma is not None else [], dtype=np.float64))
    net.register_buffer("schedule_alpha", a, persistent=False)
    net.register_buffer("schedule_sigma", s, persistent=False)


def _check_target(target):
    if target not in ("eps", "x0", "v", "flow"):
        raise ValueError("unknown target %r (want eps, x0, v or flow)" % target)


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
        _check_target(target)
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
        _schedule_buffers(self, alpha, sigma)
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
        return _skip_gains(self, t)

    def forward(self, x, t):
        """The prediction of the target for x_t (B, dim) at integer timesteps t (B)."""
        e = timestep_embedding(t, self.time_dim, self.max_period).to(x.dtype)
        h = getattr(self, "in")(x) + self.time2(self.act(self.time1(e)))
        for i in range(self.depth):
            b = getattr(self, "block%d" % i)
            h = h + b.fc2(self.act(b.fc1(b.norm(h))))
        out = self.out(self.act(self.norm_out(h)))
        return _add_skips(self, out, x, t)

    @classmethod
    def from_safetensors(cls, path, device=None):
        """Build the twin of the model exported to path and load its weights."""
        tensors, spec = _read_export(path, "resmlp")
        c = spec["resmlp"]
        net = cls(c["dim"], c["width"], c["depth"], c["hidden"], c["time_dim"], c["act"], c["max_period"],
                  c.get("sigma_data", 0.0), c.get("skip", False), spec["target"],
                  tensors.pop("schedule.alpha"), tensors.pop("schedule.sigma"), spec.get("layer_norm_eps", 1e-5))
        return _load(net, tensors, spec, device)


def sincos_pos_table(width, grid):
    """DiT's fixed 2-D sin-cos position table (get_2d_sincos_pos_embed), (grid², width) float32.

    Token l = r·grid + c (row-major patches); its first width/2 features embed the column
    c and the last width/2 the row r, each as [sin(pos·ω_i), cos(pos·ω_i)], ω_i =
    1/10000^(i/(width/4)), i < width/4; computed in float64.
    """
    if width % 4 != 0:
        raise ValueError("the sin-cos position table needs a width divisible by 4, got %d" % width)
    quarter = width // 4
    omega = 1.0 / 10000.0 ** (np.arange(quarter, dtype=np.float64) / quarter)
    rows, cols = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")

    def half(pos):
        out = pos.reshape(-1)[:, None] * omega[None]
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return torch.from_numpy(np.concatenate([half(cols), half(rows)], axis=1).astype(np.float32))


class _DiTBlock(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.adaln = nn.Linear(width, 6 * width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)


class _DiTFinal(nn.Module):
    def __init__(self, width, patch_dim):
        super().__init__()
        self.adaln = nn.Linear(width, 2 * width)
        self.linear = nn.Linear(width, patch_dim)


class DiTTwin(nn.Module):
    """The PyTorch twin of paretodiff's DiT (diffusion/nn.DiT; Peebles & Xie 2023).

        tok  = patchify(x_t)        (B, L, P): L = (S/p)² patches, row-major, features (i, j, c)
        h    = patch(tok) + pos     pos fixed (sincos_pos_table) or the parameter "pos" (L, W)
        sc   = SiLU(time2(SiLU(time1(timestep_embedding(t, freq_dim)))))
        per block (adaLN-Zero; chunks shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp of adaln(sc)):
          h += gate_msa · proj(attention(LN(h)·(1 + scale_msa) + shift_msa))
          h += gate_mlp · fc2(GELU_tanh(fc1(LN(h)·(1 + scale_mlp) + shift_mlp)))
        pred = unpatchify(final.linear(LN(h)·(1 + scale) + shift)) [+ c·x_t] [+ g·skip(x_t)]

    with (shift, scale) the chunks of final.adaln(sc), LN a LayerNorm without affine of ε
    1e-6, attention timm's (qkv's three W-column chunks, head h on columns h·dh … of each,
    dh = W/heads, softmax(q kᵀ/√dh) v) and the input skips as ResMLPTwin's. Parameters
    carry the Go names (patch.weight, pos, time1.weight, block0.adaln.weight,
    block0.qkv.weight, final.linear.bias, skip.weight, ...).

    from_safetensors loads trained weights; reset_parameters gives the untrained DiT's
    initialisation (what bench/torch_dit.py trains from). fused_attention=True computes
    the attention with PyTorch's scaled_dot_product_attention (torch ≥ 2.0; the same
    function, its sums in another order): the benchmark's choice, off by default so that
    the twin's arithmetic stays the one checked against the Go model.
    """

    def __init__(self, channels, side, patch=4, width=64, depth=4, heads=4, mlp_ratio=4.0, freq_dim=256,
                 max_period=10000.0, learned_pos=False, sigma_data=0.0, skip=False, target="eps",
                 alpha=None, sigma=None, layer_norm_eps=1e-6, fused_attention=False):
        super().__init__()
        if side % patch != 0 or width % heads != 0:
            raise ValueError("a DiT needs a patch that divides the side and heads that divide the width, got side %d, patch %d, width %d, heads %d"
                             % (side, patch, width, heads))
        _check_target(target)
        self.channels, self.side, self.patch_side, self.width, self.heads = channels, side, patch, width, heads
        self.grid = side // patch
        self.dim = channels * side * side
        self.freq_dim, self.max_period, self.eps = freq_dim, max_period, layer_norm_eps
        self.sigma_data, self.target = float(sigma_data), target
        patch_dim = patch * patch * channels
        self.patch = nn.Linear(patch_dim, width)
        table = sincos_pos_table(width, self.grid)
        if learned_pos:
            self.pos = nn.Parameter(table)
        else:
            self.pos = None
            self.register_buffer("pos_table", table, persistent=False)
        self.time1 = nn.Linear(freq_dim, width)
        self.time2 = nn.Linear(width, width)
        self.depth = depth
        hidden = int(mlp_ratio * width)
        for i in range(depth):
            self.add_module("block%d" % i, _DiTBlock(width, hidden))
        self.final = _DiTFinal(width, patch_dim)
        self.skip = nn.Linear(self.dim, self.dim) if skip else None
        _schedule_buffers(self, alpha, sigma)
        self.fused_attention = bool(fused_attention) and hasattr(F, "scaled_dot_product_attention")
        self.meta = {}

    @property
    def preconditioned(self):
        """Whether the output has input skips (sigma_data > 0 or the learned skip)."""
        return self.sigma_data > 0 or self.skip is not None

    def blocks(self):
        """The transformer blocks block0 … block{depth−1}, in order."""
        return [getattr(self, "block%d" % i) for i in range(self.depth)]

    @torch.no_grad()
    def reset_parameters(self):
        """DiT's initialize_weights (Peebles & Xie 2023, adaLN-Zero), as diffusion/nn's DiT.

        Every Linear weight xavier-uniform with zero bias; time1 and time2 weights
        N(0, 0.02²); every adaln Linear, final.linear and the skip zero, so that the
        network starts at the output 0 (plus c·x_t); a learned pos starts from the
        sin-cos table. Draws from torch's global generator in module order; returns the twin.
        """
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for lin in (self.time1, self.time2):
            nn.init.normal_(lin.weight, std=0.02)
        zero = [self.final.adaln, self.final.linear] + [b.adaln for b in self.blocks()]
        if self.skip is not None:
            zero.append(self.skip)
        for lin in zero:
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        if self.pos is not None:
            self.pos.copy_(sincos_pos_table(self.width, self.grid))
        return self

    def patchify(self, x):
        """(B, C·S·S) channels-first images → (B, L, p·p·C) tokens, features (i, j, c)."""
        B, C, g, p = x.shape[0], self.channels, self.grid, self.patch_side
        return x.reshape(B, C, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(B, g * g, p * p * C)

    def unpatchify(self, y):
        """patchify's inverse: (B, L, p·p·C) → (B, C·S·S)."""
        B, C, g, p = y.shape[0], self.channels, self.grid, self.patch_side
        return y.reshape(B, g, g, p, p, C).permute(0, 5, 1, 3, 2, 4).reshape(B, self.dim)

    def norm(self, h):
        return F.layer_norm(h, (self.width,), eps=self.eps)

    def attention(self, u, qkv):
        B, L, W = u.shape
        H, dh = self.heads, W // self.heads
        q, k, v = qkv(u).reshape(B, L, 3, H, dh).permute(2, 0, 3, 1, 4)  # each (B, H, L, dh)
        if self.fused_attention:
            a = F.scaled_dot_product_attention(q, k, v)
        else:
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1) @ v
        return a.transpose(1, 2).reshape(B, L, W)

    def forward(self, x, t):
        """The prediction of the target for x_t (B, dim) at integer timesteps t (B)."""
        pos = self.pos if self.pos is not None else self.pos_table.to(x.dtype)
        h = self.patch(self.patchify(x)) + pos[None]
        e = timestep_embedding(t, self.freq_dim, self.max_period).to(x.dtype)
        sc = F.silu(self.time2(F.silu(self.time1(e))))
        for i in range(self.depth):
            b = getattr(self, "block%d" % i)
            sh1, sc1, g1, sh2, sc2, g2 = b.adaln(sc)[:, None].chunk(6, dim=-1)
            h = h + g1 * b.proj(self.attention(self.norm(h) * (1 + sc1) + sh1, b.qkv))
            h = h + g2 * b.fc2(F.gelu(b.fc1(self.norm(h) * (1 + sc2) + sh2), approximate="tanh"))
        shift, scale = self.final.adaln(sc)[:, None].chunk(2, dim=-1)
        out = self.unpatchify(self.final.linear(self.norm(h) * (1 + scale) + shift))
        return _add_skips(self, out, x, t)

    @classmethod
    def from_safetensors(cls, path, device=None):
        """Build the twin of the DiT exported to path and load its weights."""
        tensors, spec = _read_export(path, "dit")
        c = spec["dit"]
        net = cls(c["channels"], c["side"], c["patch"], c["width"], c["depth"], c["heads"], c["mlp_ratio"],
                  c["freq_dim"], c["max_period"], c.get("learned_pos", False), c.get("sigma_data", 0.0),
                  c.get("skip", False), spec["target"], tensors.pop("schedule.alpha"), tensors.pop("schedule.sigma"),
                  spec.get("layer_norm_eps", 1e-6))
        return _load(net, tensors, spec, device)


def _read_export(path, kind):
    """The tensors and the JSON spec of a file paretodiff exported for a network of kind."""
    tensors, meta = read_safetensors(path)
    if META_KEY not in meta:
        raise ValueError("%s: no %r metadata: not written by paretodiff export" % (path, META_KEY))
    spec = json.loads(meta[META_KEY])
    if spec.get("kind") != kind:
        raise ValueError("%s: network kind %r: this twin is the %s's" % (path, spec.get("kind"), kind))
    return tensors, spec


def _load(net, tensors, spec, device):
    """Load the exported parameters into the twin (strictly: the same names and shapes)."""
    net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    net.meta = spec
    if device is not None:
        net = net.to(device)
    return net.eval()


_TWINS = {"resmlp": ResMLPTwin, "dit": DiTTwin}


def from_safetensors(path, device=None):
    """The twin of the model exported to path, of the class its network kind names."""
    _, meta = read_safetensors(path)
    kind = json.loads(meta.get(META_KEY, "{}")).get("kind")
    if kind not in _TWINS:
        raise ValueError("%s: network kind %r has no twin (want %s)" % (path, kind, " or ".join(sorted(_TWINS))))
    return _TWINS[kind].from_safetensors(path, device)
