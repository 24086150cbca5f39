"""DiTTwin (paretodiff_torch.twins) against brute-force references of the DiT contract.

The patch order, the patch embedding as a Conv2d, the position table, the parameter
names and shapes, reset_parameters' adaLN-Zero start, a whole forward pass (against
per-token, per-head loops in float64 over the same weights) and the fused attention,
on tiny CPU-cheap configurations. test_twins.py checks the twin against the Go model;
bench/torch_dit.py times this network.

Run: /usr/bin/python3 -m unittest discover python/tests
"""

import math
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from paretodiff_torch.twins import DiTTwin, sincos_pos_table, timestep_embedding
    HAVE_TORCH = True
except ImportError:  # the reason is printed by the skip
    HAVE_TORCH = False

# FORWARD_TOL: the model in float64 against the loops in float64 (the same
# products summed in other orders): rounding of 1e-16 relative through a few
# layers, far below what a wrong layout or a missing term moves (O(1)).
FORWARD_TOL = 1e-10
# T: the length of the test schedule the input skips' gains read.
T = 1000


def schedule():
    """A variance-preserving schedule of T steps: α_t = cos(π/2·s), σ_t = sin(π/2·s), s = (t+1)/(T+1)."""
    s = np.arange(1, T + 1, dtype=np.float64) / (T + 1)
    return np.cos(0.5 * np.pi * s), np.sin(0.5 * np.pi * s)


def twin(**kw):
    """A DiTTwin with the test schedule (needed by the input skips)."""
    alpha, sigma = schedule()
    return DiTTwin(alpha=alpha, sigma=sigma, **kw)


@unittest.skipUnless(HAVE_TORCH, "torch or numpy is not installed for this Python")
class DiTTwinContractTest(unittest.TestCase):
    def test_patch_order(self):
        # Token r*g + q, feature (i*p + j)*C + c is pixel (c, r*p + i, q*p + j).
        C, S, p = 2, 6, 3
        g = S // p
        net = twin(channels=C, side=S, patch=p, width=4, depth=1, heads=1)
        x = torch.arange(2 * C * S * S, dtype=torch.float64).reshape(2, C * S * S)
        tok = net.patchify(x)
        self.assertEqual(tuple(tok.shape), (2, g * g, p * p * C))
        img = x.reshape(2, C, S, S)
        for b in range(2):
            for r in range(g):
                for q in range(g):
                    for i in range(p):
                        for j in range(p):
                            for c in range(C):
                                self.assertEqual(tok[b, r * g + q, (i * p + j) * C + c], img[b, c, r * p + i, q * p + j])
        self.assertTrue(torch.equal(net.unpatchify(tok), x))

    def test_patch_embedding_is_conv(self):
        # Linear "patch" is the Conv2d(C, W, p, stride p) whose weight (W, C, p, p)
        # maps to it by permute(0, 2, 3, 1).reshape(W, P).
        torch.manual_seed(2)
        C, S, p, W = 3, 4, 2, 8
        conv = torch.nn.Conv2d(C, W, p, stride=p).double()
        x = torch.randn(2, C * S * S, dtype=torch.float64)
        want = conv(x.reshape(2, C, S, S)).flatten(2).transpose(1, 2)  # (B, L, W), row-major patches
        net = twin(channels=C, side=S, patch=p, width=W, depth=1, heads=2).double()
        with torch.no_grad():
            net.patch.weight.copy_(conv.weight.permute(0, 2, 3, 1).reshape(W, p * p * C))
            net.patch.bias.copy_(conv.bias)
            got = net.patch(net.patchify(x))
        self.assertLess((got - want).abs().max().item(), FORWARD_TOL)

    def test_position_table(self):
        # DiT's get_2d_sincos_pos_embed, transcribed: meshgrid(grid_w, grid_h),
        # emb_h from grid[0], emb_w from grid[1], each [sin, cos].
        W, G = 8, 3
        grid = np.stack(np.meshgrid(np.arange(G, dtype=np.float32), np.arange(G, dtype=np.float32)), axis=0).reshape(2, 1, G, G)

        def one_d(d, pos):
            omega = np.arange(d // 2, dtype=np.float64) / (d / 2.0)
            omega = 1.0 / 10000 ** omega
            out = np.einsum("m,d->md", pos.reshape(-1), omega)
            return np.concatenate([np.sin(out), np.cos(out)], axis=1)

        want = np.concatenate([one_d(W // 2, grid[0]), one_d(W // 2, grid[1])], axis=1)
        got = sincos_pos_table(W, G).numpy()
        self.assertEqual(got.shape, (G * G, W))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)  # float32 rounding of values <= 1
        with self.assertRaises(ValueError):
            sincos_pos_table(6, G)

    def test_names_and_shapes(self):
        m = twin(channels=2, side=4, patch=2, width=8, depth=2, heads=2, mlp_ratio=3, learned_pos=True, skip=True)
        P, L, W, M = 8, 4, 8, 24
        want = {"patch.weight": (W, P), "patch.bias": (W,), "pos": (L, W),
                "time1.weight": (W, 256), "time1.bias": (W,), "time2.weight": (W, W), "time2.bias": (W,),
                "final.adaln.weight": (2 * W, W), "final.adaln.bias": (2 * W,),
                "final.linear.weight": (P, W), "final.linear.bias": (P,),
                "skip.weight": (32, 32), "skip.bias": (32,)}
        for i in range(2):
            for name, shape in (("adaln", (6 * W, W)), ("qkv", (3 * W, W)), ("proj", (W, W)), ("fc1", (M, W)), ("fc2", (W, M))):
                want["block%d.%s.weight" % (i, name)] = shape
                want["block%d.%s.bias" % (i, name)] = shape[:1]
        got = {k: tuple(v.shape) for k, v in m.named_parameters()}
        self.assertEqual(got, want)
        self.assertEqual(set(m.state_dict()), set(want))  # the schedule and the fixed table are not saved
        np.testing.assert_array_equal(m.pos.detach().numpy(), sincos_pos_table(W, 2).numpy())
        fixed = DiTTwin(2, 4, patch=2, width=8, depth=1, heads=2)
        self.assertNotIn("pos", dict(fixed.named_parameters()))
        self.assertNotIn("skip.weight", dict(fixed.named_parameters()))
        base = dict(channels=2, side=4, patch=2, width=8, depth=1, heads=2)
        for bad in (dict(patch=3), dict(heads=3), dict(target="score")):
            with self.assertRaises(ValueError):
                DiTTwin(**dict(base, **bad))
        with self.assertRaises(ValueError):  # input skips without the schedule's gains
            DiTTwin(**dict(base, skip=True))

    def test_reset_parameters_is_adaln_zero(self):
        torch.manual_seed(4)
        m = twin(channels=1, side=8, patch=4, width=8, depth=2, heads=2, learned_pos=True, skip=True)
        with torch.no_grad():
            for prm in m.parameters():  # away from any start, the table too
                prm.copy_(torch.randn_like(prm))
        self.assertIs(m.reset_parameters(), m)
        for name, p in m.named_parameters():
            zero = name.endswith(".bias") or ".adaln." in name or name.startswith(("final.linear", "skip"))
            if name == "pos":
                np.testing.assert_array_equal(p.detach().numpy(), sincos_pos_table(8, 2).numpy())
                continue
            self.assertEqual(bool((p == 0).all()), zero, name)
        self.assertLess(m.time1.weight.std().item(), 0.03)  # N(0, 0.02^2), 2048 draws
        self.assertGreater(m.time1.weight.std().item(), 0.01)
        bound = math.sqrt(6 / (8 + 8 * 3))  # xavier-uniform of qkv (3W x W)
        self.assertLessEqual(m.block0.qkv.weight.abs().max().item(), bound)
        self.assertGreater(m.block0.qkv.weight.abs().max().item(), 0.9 * bound)
        bare = DiTTwin(1, 8, patch=4, width=8, depth=2, heads=2).reset_parameters()
        x, t = torch.randn(3, 64), torch.tensor([0, 500, 999])
        self.assertEqual(bare(x, t).abs().max().item(), 0.0)  # adaLN-Zero: the output starts at zero

    def test_forward_against_loops(self):
        torch.manual_seed(5)
        C, S, p, W, H = 2, 4, 2, 8, 2
        m = twin(channels=C, side=S, patch=p, width=W, depth=2, heads=H, mlp_ratio=2,
                 learned_pos=True, sigma_data=0.5, skip=True, target="v").double()
        with torch.no_grad():
            for prm in m.parameters():  # every parameter non-zero, the zero-initialised too
                prm.copy_(0.3 * torch.randn_like(prm))
        x = torch.randn(3, C * S * S, dtype=torch.float64)
        t = torch.tensor([3, 410, 977])
        with torch.no_grad():
            got = m(x, t)
            want = self.loops(m, x, t, C, S, p, W, H)
        self.assertLess((got - want).abs().max().item(), FORWARD_TOL * max(1.0, want.abs().max().item()))

    @staticmethod
    def gains(t, sigma_data):
        """The input skips' gains for target v (b = α_t): c = b·σ/(α²σ_d² + σ²), g = b/σ − c,
        rounded to float32 as the engine applies them."""
        alpha, sigma = schedule()
        a, s = alpha[t.numpy()], sigma[t.numpy()]
        c = a * s / (a * a * sigma_data ** 2 + s * s)
        g = a / s - c
        return (torch.from_numpy(v.astype(np.float32).astype(np.float64)) for v in (c, g))

    @classmethod
    def loops(cls, m, x, t, C, S, p, W, H):
        """The contract written out per example, token and head, in float64."""
        g, dh = S // p, W // H
        lin = lambda layer, v: layer.weight @ v + layer.bias
        silu = lambda v: v / (1 + torch.exp(-v))
        gelu = lambda v: 0.5 * v * (1 + torch.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))

        def ln(v):
            mu = v.mean()
            return (v - mu) / torch.sqrt(((v - mu) ** 2).mean() + 1e-6)

        e = timestep_embedding(t, 256, 10000.0).double()
        cg, gg = cls.gains(t, m.sigma_data)
        out = torch.zeros_like(x)
        for b in range(x.shape[0]):
            img = x[b].reshape(C, S, S)
            h = []
            for r in range(g):
                for q in range(g):
                    feat = torch.stack([img[c, r * p + i, q * p + j] for i in range(p) for j in range(p) for c in range(C)])
                    h.append(lin(m.patch, feat) + m.pos[r * g + q])
            sc = silu(lin(m.time2, silu(lin(m.time1, e[b]))))
            for blk in m.blocks():
                mod = lin(blk.adaln, sc)
                sh1, sc1, g1, sh2, sc2, g2 = (mod[k * W:(k + 1) * W] for k in range(6))
                qkv = [lin(blk.qkv, ln(v) * (1 + sc1) + sh1) for v in h]
                att = []
                for n in range(len(h)):
                    heads = []
                    for hd in range(H):
                        cols = slice(hd * dh, (hd + 1) * dh)
                        q = qkv[n][:W][cols]
                        s = torch.stack([q @ qkv[k][W:2 * W][cols] / math.sqrt(dh) for k in range(len(h))])
                        w = torch.exp(s - s.max())
                        w = w / w.sum()
                        heads.append(sum(w[k] * qkv[k][2 * W:][cols] for k in range(len(h))))
                    att.append(torch.cat(heads))
                h = [h[n] + g1 * lin(blk.proj, att[n]) for n in range(len(h))]
                h = [v + g2 * lin(blk.fc2, gelu(lin(blk.fc1, ln(v) * (1 + sc2) + sh2))) for v in h]
            mod = lin(m.final.adaln, sc)
            y = [lin(m.final.linear, ln(v) * (1 + mod[W:]) + mod[:W]) for v in h]
            res = torch.zeros(C, S, S, dtype=x.dtype)
            for r in range(g):
                for q in range(g):
                    for i in range(p):
                        for j in range(p):
                            for c in range(C):
                                res[c, r * p + i, q * p + j] = y[r * g + q][(i * p + j) * C + c]
            out[b] = res.reshape(-1) + cg[b] * x[b] + gg[b] * lin(m.skip, x[b])
        return out

    @unittest.skipUnless(HAVE_TORCH and hasattr(F, "scaled_dot_product_attention"), "torch < 2.0: no fused attention")
    def test_fused_attention(self):
        # The fused kernel computes the same function as the twin's softmax(q kᵀ/√dh) v.
        torch.manual_seed(7)
        kw = dict(channels=1, side=8, patch=2, width=8, depth=2, heads=2)
        plain, fused = DiTTwin(**kw).double(), DiTTwin(fused_attention=True, **kw).double()
        self.assertTrue(fused.fused_attention)
        with torch.no_grad():
            for prm in plain.parameters():
                prm.copy_(0.3 * torch.randn_like(prm))
            fused.load_state_dict(plain.state_dict())
            x, t = torch.randn(3, 64, dtype=torch.float64), torch.tensor([1, 400, 999])
            want, got = plain(x, t), fused(x, t)
        self.assertLess((got - want).abs().max().item(), FORWARD_TOL * max(1.0, want.abs().max().item()))

    def test_backward_runs(self):
        # The gradient reaches every parameter once adaLN-Zero's zeros are left
        # behind: step 1 moves final.linear (the only path to the output), step 2
        # the adaln layers behind it, step 3's gradient reaches time1 through them.
        torch.manual_seed(6)
        m = DiTTwin(1, 8, patch=4, width=8, depth=1, heads=2).reset_parameters()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
        x, t = torch.randn(4, 64), torch.tensor([1, 2, 500, 900])
        for _ in range(3):
            opt.zero_grad()
            ((m(x, t) - x) ** 2).mean().backward()
            opt.step()
        for name, prm in m.named_parameters():
            self.assertTrue(prm.grad is not None and bool(torch.isfinite(prm.grad).all()), name)
            self.assertGreater(prm.grad.abs().max().item(), 0, name)


if __name__ == "__main__":
    unittest.main()
