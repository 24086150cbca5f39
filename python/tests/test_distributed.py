"""GramProbe under torch.distributed: 2 local gloo processes (127.0.0.1) against the
single-process Gram of the concatenated batch, and DDP's training gradient."""

import datetime
import os
import signal
import socket
import sys
import tempfile
import time
import unittest

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import models  # noqa: E402
import paretodiff_torch as pdt  # noqa: E402
from test_probe import ProbeCase  # noqa: E402

#: The global batch's bins: rank 0 holds the first half, rank 1 the second; bin 1
#: is empty on rank 0 only, bin 4 on both.
BINS = torch.tensor([0, 2, 0, 3, 2, 3, 1, 1, 2, 0, 1, 3])
K, WORLD, TIMEOUT_S, GRACE_S = 5, 2, 120, 15


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))
    try:
        model = models.build("mixed")
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        x, t, target = models.data("mixed", BINS.numel())
        half = BINS.numel() // WORLD
        rows = slice(rank * half, (rank + 1) * half)
        with pdt.GramProbe(ddp) as probe:
            loss = models.per_example_loss(ddp(x[rows], t[rows]), target[rows])
            G, L = probe.gram(loss, BINS[rows], K, train_weights=torch.full((half,), 1.0 / half, dtype=torch.float64))
        log = pdt.ProbeLog(os.path.join(out_dir, "log"), pdt.equal_t(20, K))
        log.append(7, G, L)
        path = os.path.join(out_dir, f"rank{rank}.pt")
        torch.save({"G": G, "L": L, "grads": [p.grad for p in model.parameters()], "coverage": probe.coverage(),
                    "log_active": log.active}, path + ".tmp")
        os.replace(path + ".tmp", path)  # the parent takes the file's existence as done
    finally:
        dist.destroy_process_group()


class TestDistributed(ProbeCase):
    def test_two_gloo_ranks_equal_the_concatenated_batch(self):
        with tempfile.TemporaryDirectory(prefix="pdt-ddp-") as d:
            ctx = mp.get_context("spawn")
            port = _free_port()
            procs = [ctx.Process(target=_rank_main, args=(r, port, d)) for r in range(WORLD)]
            # One BLAS thread per rank, set before the ranks start (they read it at
            # import): a pthreads OpenBLAS's thread pool, under load, has left a
            # finished rank hanging at exit.
            saved = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
            os.environ.update({k: "1" for k in saved})
            try:
                for p in procs:
                    p.start()
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            # A rank is done when its result file is there. Under load a finished
            # rank has been seen to hang in gloo's teardown once the other had gone
            # (rank 0 holds the TCP store): after a grace period such a rank is
            # killed; the test is about the Gram, not about process teardown.
            files = [os.path.join(d, f"rank{r}.pt") for r in range(WORLD)]
            deadline = time.monotonic() + TIMEOUT_S
            while time.monotonic() < deadline and not all(os.path.exists(f) for f in files) and \
                    all(p.is_alive() or p.exitcode == 0 for p in procs):
                time.sleep(0.1)
            for p in procs:
                p.join(max(0.0, min(GRACE_S, deadline - time.monotonic())))
            for p in procs:
                if p.is_alive():
                    p.kill()
                    p.join()
            written = [os.path.exists(f) for f in files]
            self.assertEqual(written, [True] * WORLD, f"both ranks finish (exit codes {[p.exitcode for p in procs]})")
            self.assertTrue(all(p.exitcode == 0 or p.exitcode == -signal.SIGKILL for p in procs),
                            f"no rank fails (exit codes {[p.exitcode for p in procs]})")
            out = [torch.load(os.path.join(d, f"rank{r}.pt")) for r in range(WORLD)]
            self.assertEqual([o["log_active"] for o in out], [True, False])
            self.assertTrue(os.path.exists(os.path.join(d, "log", "gram", "step-00000007.npy")))

        model = models.build("mixed")
        x, t, target = models.data("mixed", BINS.numel())
        R, RL = models.reference_gram(model, list(model.parameters()), x, t, target, BINS, K)
        for o in out:
            self.assertGram(o["G"], R)
            self.assertLosses(o["L"], RL)
            self.assertEqual(set(o["coverage"].values()), {"per-bin", "replay"})
        models.per_example_loss(model(x, t), target).mean().backward()
        for o in out:
            for g, p in zip(o["grads"], model.parameters()):
                self.assertTrue(torch.allclose(g, p.grad, rtol=1e-10, atol=1e-13))


if __name__ == "__main__":
    unittest.main()
