"""paretodiff for PyTorch models: per-bin gradient Grams, bins, weights and probe logs.

Tour:
  * GramProbe (probe.py; sites.py: the ghost and per-bin paths of Linear, Conv,
    Embedding and norm layers; replay.py: the replay of any other module): the K x K
    Gram of the per-bin task-loss gradients of any torch model from one backward
    pass, on CPU or CUDA, exact across torch.distributed ranks, with the training
    gradient in the same pass;
  * Bins, parse_bins (bins.py): timestep bins as paretodiff's --bins reads them;
  * weights, schedule_table (cli.py): closed-form weights and SNRs from the
    paretodiff command itself (``paretodiff weights --format json``);
  * to_x0_loss (targets.py): an eps, v or flow-velocity loss in x0 units;
  * ProbeLog (log.py): the probe log folder ``paretodiff conflict`` writes and
    ``paretodiff analyze`` reads;
  * find_mnist, load_mnist (mnist.py): the MNIST IDX files the Go side uses.

Invariants: depends on torch >= 1.13 and numpy only; every file it writes is
replaced atomically; numbers the Go side reads are float64.
"""

from .probe import GramProbe, PATHS
from .bins import Bins, parse_bins, equal_t, equal_logsnr, from_edges
from .cli import find_paretodiff, schedule_table, weights
from .targets import to_x0_loss
from .log import ProbeLog, summarize, cosine
from .mnist import find_mnist, load_mnist

__all__ = [
    "GramProbe", "PATHS", "Bins", "parse_bins", "equal_t", "equal_logsnr", "from_edges",
    "find_paretodiff", "schedule_table", "weights", "to_x0_loss", "ProbeLog", "summarize", "cosine",
    "find_mnist", "load_mnist",
]
