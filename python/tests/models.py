"""Small models for the probe's tests, one per path of the probe (float64 in the tests)."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    """Linear layers with a time embedding (nn.Embedding) and a LayerNorm."""

    def __init__(self, d=6, h=10, T=20):
        super().__init__()
        self.temb = nn.Embedding(T, h)
        self.fc1, self.fc2, self.fc3 = nn.Linear(d, h), nn.Linear(h, h), nn.Linear(h, d)
        self.norm = nn.LayerNorm(h)

    def forward(self, x, t):
        h = F.silu(self.fc1(x) + self.temb(t))
        h = self.norm(F.silu(self.fc2(h)))
        return self.fc3(h)


class ConvNet(nn.Module):
    """Conv2d (stride, dilation, groups, reflect and "same" padding), GroupNorm, a Conv1d (dilation,
    groups, circular padding) and a BatchNorm in eval."""

    def __init__(self, c=4, T=20):
        super().__init__()
        self.inp = nn.Conv2d(2, c, 3, padding=1)
        self.gn = nn.GroupNorm(2, c)
        self.down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, groups=2, padding_mode="reflect")
        self.dil = nn.Conv2d(2 * c, 2 * c, 3, padding="same", dilation=2, bias=False)
        self.bn = nn.BatchNorm2d(2 * c)
        self.line = nn.Conv1d(2 * c, c, 3, padding=2, dilation=2, groups=2, padding_mode="circular")
        self.temb = nn.Linear(1, c)
        self.out = nn.Conv2d(c, 2, 1)

    def forward(self, x, t):
        h = F.silu(self.gn(self.inp(x) + self.temb(t.double().view(-1, 1) / 20).view(x.shape[0], -1, 1, 1)))
        h = self.bn(F.silu(self.down(h)))
        h = F.silu(self.dil(h))
        b, c, hh, ww = h.shape
        h = self.line(h.flatten(2)).view(b, -1, hh, ww)
        h = F.interpolate(h, scale_factor=2)
        return self.out(F.silu(h))


class Block(nn.Module):
    """A transformer block from nn.Linear: every weight acts at every token."""

    def __init__(self, d=8, heads=2, tokens=5, T=20):
        super().__init__()
        self.heads = heads
        self.pos = nn.Embedding(tokens, d)
        self.temb = nn.Embedding(T, d)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.up, self.down = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def attention(self, h):
        B, P, d = h.shape
        q, k, v = self.qkv(h).view(B, P, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), -1) @ v
        return self.proj(a.transpose(1, 2).reshape(B, P, d))

    def forward(self, x, t):
        h = x + self.pos(torch.arange(x.shape[1], device=x.device)).unsqueeze(0) + self.temb(t).unsqueeze(1)
        h = h + self.attention(self.ln1(h))
        return h + self.down(F.gelu(self.up(self.ln2(h))))


class MHABlock(nn.Module):
    """nn.MultiheadAttention (its in_proj and out_proj take the autograd path) and a Linear MLP."""

    def __init__(self, d=8, heads=2, T=20):
        super().__init__()
        self.temb = nn.Embedding(T, d)
        self.ln = nn.LayerNorm(d)
        self.mha = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Linear(d, d)

    def forward(self, x, t):
        h = x + self.temb(t).unsqueeze(1)
        y = self.ln(h)
        h = h + self.mha(y, y, y, need_weights=False)[0]
        return h + self.mlp(F.silu(h))


class Mixed(nn.Module):
    """Every path: Linear at tokens, Conv1d, Embedding with padding_idx, LayerNorm, GroupNorm,
    MultiheadAttention, a bare nn.Parameter, a Linear called twice and one tied to another module."""

    def __init__(self, d=8, T=20):
        super().__init__()
        self.temb = nn.Embedding(T, d, padding_idx=0)
        self.conv = nn.Conv1d(d, d, 3, padding=1)
        self.gn = nn.GroupNorm(2, d)
        self.ln = nn.LayerNorm(d)
        self.mha = nn.MultiheadAttention(d, 2, batch_first=True)
        self.twice = nn.Linear(d, d)
        self.a, self.b = nn.Linear(d, d), nn.Linear(d, d)
        self.b.weight = self.a.weight  # tied: autograd path
        self.gain = nn.Parameter(torch.linspace(0.5, 1.5, d))

    def forward(self, x, t):
        h = x + self.temb(t).unsqueeze(1)
        h = h + self.gn(self.conv(h.transpose(1, 2))).transpose(1, 2)
        y = self.ln(h)
        h = h + self.mha(y, y, y, need_weights=False)[0]
        h = self.twice(F.silu(self.twice(h)))
        return self.b(F.silu(self.a(h))) * self.gain


def data(model_name, B, seed=0, T=20):
    """Inputs (x, t) and a target for a model of the tests, float64."""
    g = torch.Generator().manual_seed(seed)
    shape = {"mlp": (B, 6), "conv": (B, 2, 8, 8), "block": (B, 5, 8), "mha": (B, 5, 8), "mixed": (B, 5, 8)}[model_name]
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    t = torch.randint(0, T, (B,), generator=g)
    target = torch.randn(shape, generator=g, dtype=torch.float64)
    return x, t, target


def build(model_name, seed=0):
    """The named test model in float64 (BatchNorm in eval with non-trivial running statistics)."""
    torch.manual_seed(seed)
    m = {"mlp": MLP, "conv": ConvNet, "block": Block, "mha": MHABlock, "mixed": Mixed}[model_name]().double()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.eval()
        if isinstance(mod, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)) and mod.weight is not None:
            with torch.no_grad():
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.5, 0.5)
    return m


def per_example_loss(out, target):
    return ((out - target) ** 2).flatten(1).mean(1)


def reference_gram(model, params, x, t, target, bin_index, K):
    """G from K separate torch.autograd.grad calls on L_k, and L_k (NaN for an empty bin)."""
    loss = per_example_loss(model(x, t), target)
    grads, losses = [], []
    for k in range(K):
        idx = (bin_index == k).nonzero().view(-1)
        if idx.numel() == 0:
            grads.append(torch.zeros(sum(p.numel() for p in params), dtype=torch.float64))
            losses.append(float("nan"))
            continue
        Lk = loss[idx].mean()
        gs = torch.autograd.grad(Lk, params, retain_graph=True, allow_unused=True)
        grads.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gs, params)]))
        losses.append(float(Lk))
    g = torch.stack(grads)
    return g @ g.t(), torch.tensor(losses, dtype=torch.float64)
