"""GramProbe against K separate torch.autograd.grad calls, in float64.

Tolerance: every entry of G within REL of the reference entry, relative to
|R_ij| (plus FLOOR of sqrt(R_ii R_jj) for entries that cancel to ~0); an empty
bin's row and column exactly 0 and its loss NaN.
"""

import math
import os
import sys
import unittest

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import models  # noqa: E402
import paretodiff_torch as pdt  # noqa: E402

REL, FLOOR = 1e-6, 1e-12
#: nn.MultiheadAttention's parameters: its forward uses out_proj's without calling it.
MHA = ("mha.in_proj_weight", "mha.in_proj_bias", "mha.out_proj.weight", "mha.out_proj.bias")
#: Unequal bins, one of a single example and one empty (bin 2), shuffled.
BINS = torch.tensor([3, 0, 1, 0, 3, 0, 3, 4, 0, 3, 1, 3, 0])
K = 5


def max_rel_error(G, R):
    """max |G - R| / |R| over the entries with R != 0 (0 when there are none)."""
    nz = R != 0
    return float(((G - R).abs()[nz] / R.abs()[nz]).max()) if bool(nz.any()) else 0.0


class ProbeCase(unittest.TestCase):
    def assertGram(self, G, R):
        self.assertEqual(G.dtype, torch.float64)
        self.assertEqual(tuple(G.shape), tuple(R.shape))
        self.assertTrue(torch.equal(G, G.t()), "G is exactly symmetric")
        d = R.diagonal().clamp_min(0).sqrt()
        tol = REL * R.abs() + FLOOR * torch.outer(d, d)
        bad = (G - R).abs() > tol
        self.assertFalse(bool(bad.any()), f"entries off by more than {REL} relative:\nG={G}\nR={R}")

    def assertLosses(self, L, RL):
        for a, b in zip(L.tolist(), RL.tolist()):
            if math.isnan(b):
                self.assertTrue(math.isnan(a))
            else:
                self.assertAlmostEqual(a, b, delta=1e-12 * abs(b))

    def probe(self, name, path=None, train_weights=None, device="cpu", bins=BINS, seed=0, autograd=()):
        m = models.build(name, seed).to(device)
        x, t, target = (v.to(device) for v in models.data(name, bins.numel(), seed))
        params = list(m.parameters())
        R, RL = models.reference_gram(m, params, x, t, target, bins.to(device), K)
        with pdt.GramProbe(m, path=path, autograd=autograd) as probe:
            loss = models.per_example_loss(m(x, t), target)
            G, L = probe.gram(loss, bins.to(device), K, train_weights=train_weights)
        return m, probe, G, L, R.cpu(), RL


class TestAgainstAutograd(ProbeCase):
    """Every model of models.py, every path, unequal and empty bins."""

    def check(self, name, others=()):
        """Every path; the parameters no site opens (others) by replay, then forced to
        one autograd.grad call per bin."""
        for path, forced in ((None, ()), ("ghost", ()), ("per-bin", ()), (None, others)):
            with self.subTest(path=path, forced=forced):
                _, probe, G, L, R, RL = self.probe(name, path, autograd=forced)
                self.assertGram(G, R)
                self.assertLosses(L, RL)
                self.assertTrue(bool((G[2] == 0).all()) and bool((G[:, 2] == 0).all()), "empty bin: zero row and column")
                cov = probe.coverage()
                for n in others:
                    self.assertEqual(cov[n], "autograd" if forced else "replay", n)
                if path is not None:
                    opened = {v for k, v in cov.items() if k not in others}
                    self.assertTrue(opened <= {path, "per-bin"}, opened)
        return cov

    def test_mlp(self):
        cov = self.check("mlp")
        self.assertNotIn("autograd", cov.values())

    def test_conv_groupnorm(self):
        cov = self.check("conv")
        self.assertNotIn("autograd", cov.values())
        self.assertEqual(cov["gn.weight"], "per-bin")

    def test_transformer_block_from_linear(self):
        # The positional table is looked up once for the whole batch: autograd.
        self.check("block", others=("pos.weight",))

    def test_multihead_attention(self):
        self.check("mha", others=MHA)

    def test_mixed(self):
        # MultiheadAttention, the weight tied between a and b, the bare gain.
        cov = self.check("mixed", others=MHA + ("a.weight", "gain"))
        self.assertIn(cov["twice.weight"], ("ghost", "per-bin"))
        self.assertEqual(cov["temb.weight"] in ("ghost", "per-bin"), True)

    def test_each_parameter_alone(self):
        # A share of G lost or doubled in one parameter could hide below REL of the whole.
        for name in ("conv", "mixed", "block"):
            m = models.build(name)
            x, t, target = models.data(name, BINS.numel())
            for pname, p in m.named_parameters():
                R, _ = models.reference_gram(m, [p], x, t, target, BINS, K)
                for path in ("ghost", "per-bin"):
                    with self.subTest(model=name, param=pname, path=path):
                        with pdt.GramProbe(m, params=[(pname, p)], path=path) as probe:
                            G, _ = probe.gram(models.per_example_loss(m(x, t), target), BINS, K)
                        self.assertGram(G, R)
                        self.assertEqual(list(probe.coverage()), [pname])

    def test_every_bin_empty_but_one(self):
        bins = torch.zeros(7, dtype=torch.long) + 1
        _, _, G, L, R, RL = self.probe("mixed", bins=bins)
        self.assertGram(G, R)
        self.assertLosses(L, RL)


class TestFloat32(ProbeCase):
    """16- and 32-bit models against the float64 reference of the same weights: their rounding."""

    F32 = 1e-4  # of sqrt(R_kk R_ll): float32 products summed in float64
    BF16 = 2e-2  # bfloat16 activations and output gradients (5e-3 measured), shares formed in float32

    def test_mixed_in_float32(self):
        ref = models.build("mixed")
        x, t, target = models.data("mixed", BINS.numel())
        R, RL = models.reference_gram(ref, list(ref.parameters()), x, t, target, BINS, K)
        for path in (None, "ghost", "per-bin"):
            m = models.build("mixed").float()
            with pdt.GramProbe(m, path=path) as probe:
                G, L = probe.gram(models.per_example_loss(m(x.float(), t), target.float()), BINS, K)
            self.assertEqual(G.dtype, torch.float64)
            d = R.diagonal().sqrt()
            self.assertLessEqual(float(((G - R).abs() / torch.outer(d, d).clamp_min(1e-300))[R != 0].max()), self.F32, path)


    def test_mlp_in_bfloat16(self):
        # bfloat16 keeps 8 bits: its inputs and outputs are off by about 1 % already.
        ref = models.build("mlp")
        x, t, target = models.data("mlp", BINS.numel())
        m = models.build("mlp").bfloat16()
        for p, q in zip(ref.parameters(), m.parameters()):
            p.data.copy_(q.data.double())  # the reference holds the same rounded weights
        R, _ = models.reference_gram(ref, list(ref.parameters()), x.bfloat16().double(), t, target.bfloat16().double(), BINS, K)
        for path in ("ghost", "per-bin"):
            with pdt.GramProbe(m, path=path) as probe:
                G, _ = probe.gram(models.per_example_loss(m(x.bfloat16(), t), target.bfloat16()).float(), BINS, K)
            d = R.diagonal().sqrt()
            self.assertLessEqual(float(((G - R).abs() / torch.outer(d, d).clamp_min(1e-300))[R != 0].max()), self.BF16, path)


class TestTrainingGradient(ProbeCase):
    def test_grad_is_weighted_loss_gradient(self):
        c = torch.linspace(0.2, 3.0, BINS.numel(), dtype=torch.float64) / BINS.numel()
        for name in ("mlp", "mixed"):
            with self.subTest(model=name):
                m, _, G, _, R, _ = self.probe(name, train_weights=c)
                self.assertGram(G, R)
                ref = models.build(name)
                x, t, target = models.data(name, BINS.numel())
                (models.per_example_loss(ref(x, t), target) * c).sum().backward()
                for (n, p), q in zip(m.named_parameters(), ref.parameters()):
                    self.assertTrue(torch.allclose(p.grad, q.grad, rtol=1e-12, atol=1e-14), n)

    def test_no_grad_written_without_train_weights(self):
        m, _, _, _, _, _ = self.probe("mlp")
        self.assertTrue(all(p.grad is None for p in m.parameters()))


class SeqFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.fc, self.ln = nn.Embedding(7, 4), nn.Linear(4, 4), nn.LayerNorm(4)

    def forward(self, x, t):  # x: (P, B, 4), t: (P, B) tokens
        return self.fc(self.ln(x + self.emb(t)))


class TestBatchDim(ProbeCase):
    def test_sequence_first(self):
        torch.manual_seed(1)
        m = SeqFirst().double()
        B = BINS.numel()
        x, t, target = torch.randn(3, B, 4, dtype=torch.float64), torch.randint(0, 7, (3, B)), torch.randn(3, B, 4, dtype=torch.float64)

        def loss_of(out):
            return ((out - target) ** 2).mean((0, 2))

        grads = []
        loss = loss_of(m(x, t))
        for k in range(K):
            idx = (BINS == k).nonzero().view(-1)
            if idx.numel() == 0:
                grads.append(torch.zeros(sum(p.numel() for p in m.parameters()), dtype=torch.float64))
                continue
            gs = torch.autograd.grad(loss[idx].mean(), list(m.parameters()), retain_graph=True)
            grads.append(torch.cat([g.reshape(-1) for g in gs]))
        g = torch.stack(grads)
        for path in ("ghost", "per-bin"):
            with pdt.GramProbe(m, batch_dim=1, path=path) as probe:
                G, _ = probe.gram(loss_of(m(x, t)), BINS, K)
            self.assertGram(G, g @ g.t())
            self.assertNotIn("autograd", probe.coverage().values())


class SeqFirstMHA(nn.Module):
    """nn.MultiheadAttention in its default (sequence, batch, feature) layout, with a key padding mask."""

    def __init__(self, d=8):
        super().__init__()
        self.mha, self.fc = nn.MultiheadAttention(d, 2, dropout=0.25), nn.Linear(d, d)

    def forward(self, x, mask):
        return self.fc(self.mha(x, x, x, key_padding_mask=mask, need_weights=False)[0])


class FunctionalDropout(nn.Module):
    def __init__(self, d=6):
        super().__init__()
        self.fc, self.gain = nn.Linear(d, d), nn.Parameter(torch.ones(d))

    def forward(self, x, t):
        return torch.nn.functional.dropout(self.fc(x) * self.gain, 0.5, training=True)


class TestReplay(ProbeCase):
    def seq_first(self, train):
        torch.manual_seed(4)
        m = SeqFirstMHA().double().train(train)
        B = BINS.numel()
        x, target = torch.randn(3, B, 8, dtype=torch.float64), torch.randn(3, B, 8, dtype=torch.float64)
        mask = torch.zeros(B, 3, dtype=torch.bool)
        mask[::3, 2] = True

        def loss_of():
            torch.manual_seed(5)  # the same dropout masks in every forward
            return ((m(x, mask) - target) ** 2).mean((0, 2))

        grads = []
        loss = loss_of()
        for k in range(K):
            idx = (BINS == k).nonzero().view(-1)
            gs = torch.autograd.grad(loss[idx].mean(), list(m.parameters()), retain_graph=True) if idx.numel() else None
            grads.append(torch.cat([g.reshape(-1) for g in gs]) if gs else torch.zeros(sum(p.numel() for p in m.parameters()), dtype=torch.float64))
        g = torch.stack(grads)
        with pdt.GramProbe(m, batch_dim=1) as probe:
            G, _ = probe.gram(loss_of(), BINS, K)
        self.assertGram(G, g @ g.t())
        return probe.coverage()

    def test_sequence_first_attention_with_mask(self):
        cov = self.seq_first(train=False)
        self.assertEqual({cov[n] for n in MHA}, {"replay"})

    def test_dropout_falls_back_to_autograd(self):
        cov = self.seq_first(train=True)
        self.assertEqual({cov[n] for n in MHA}, {"autograd"})

    def test_random_forward_is_refused(self):
        m = FunctionalDropout().double()
        x = torch.randn(BINS.numel(), 6, dtype=torch.float64)
        with pdt.GramProbe(m) as probe:
            loss = (m(x, None) ** 2).mean(1)
            with self.assertRaisesRegex(RuntimeError, "replaying the model"):
                probe.gram(loss, BINS, K)
        with pdt.GramProbe(m, autograd=["gain"]) as probe:
            probe.gram((m(x, None) ** 2).mean(1), BINS, K)
        self.assertEqual(probe.coverage()["gain"], "autograd")


class TestErrors(unittest.TestCase):
    def test_batchnorm_in_training(self):
        m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).double()
        with pdt.GramProbe(m) as probe:
            loss = m(torch.randn(6, 3, dtype=torch.float64)).view(-1) ** 2
            with self.assertRaisesRegex(ValueError, "BatchNorm"):
                probe.gram(loss, torch.zeros(6, dtype=torch.long), 2)

    def test_bad_inputs(self):
        m = nn.Linear(3, 1).double()
        with pdt.GramProbe(m) as probe:
            loss = m(torch.randn(4, 3, dtype=torch.float64)).view(-1) ** 2
            with self.assertRaisesRegex(ValueError, r"\[0, 2\)"):
                probe.gram(loss, torch.tensor([0, 1, 2, 0]), 2)
        with pdt.GramProbe(m) as probe:
            loss = m(torch.randn(4, 3, dtype=torch.float64)).view(-1) ** 2
            with self.assertRaisesRegex(ValueError, "non-zero"):
                probe.gram(loss, torch.tensor([0, 1, 1, 0]), 2, train_weights=torch.tensor([1.0, 0.0, 1.0, 1.0]))


@unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
class TestCUDA(ProbeCase):
    def test_mixed_on_cuda(self):
        for path in (None, "ghost", "per-bin"):
            _, _, G, L, R, RL = self.probe("mixed", path, device="cuda")
            self.assertGram(G, R)
            self.assertLosses(L, RL)

    def test_conv_on_cuda_with_training_gradient(self):
        c = torch.full((BINS.numel(),), 1.0 / BINS.numel(), dtype=torch.float64, device="cuda")
        _, _, G, _, R, _ = self.probe("conv", train_weights=c, device="cuda")
        self.assertGram(G, R)


if __name__ == "__main__":
    unittest.main()
