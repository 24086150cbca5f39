"""Closed-form weights and schedules from the paretodiff command itself.

The formulas live in Go (package weighting); this module runs
``paretodiff weights --format json`` and reads its table rather than restating
them. The command is found as: the ``binary`` argument, else $PARETODIFF_BIN, else
``paretodiff`` on PATH, else ``go run ./cmd/paretodiff`` in the repository that holds
this package.
"""

import json
import os
import shutil
import subprocess

import numpy as np

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_paretodiff(binary=None):
    """The argv prefix that runs paretodiff (see the module doc)."""
    if binary:
        return [binary]
    if os.environ.get("PARETODIFF_BIN"):
        return [os.environ["PARETODIFF_BIN"]]
    found = shutil.which("paretodiff")
    if found:
        return [found]
    if shutil.which("go") and os.path.exists(os.path.join(_REPO, "cmd", "paretodiff")):
        return ["go", "run", "./cmd/paretodiff"]
    raise FileNotFoundError("paretodiff_torch: no paretodiff command: pass binary=, set PARETODIFF_BIN or put paretodiff on PATH")


def run_paretodiff(args, binary=None, timeout=600):
    """Runs paretodiff with args and returns its stdout; a failure raises RuntimeError with its stderr."""
    argv = find_paretodiff(binary) + list(args)
    cwd = _REPO if argv[0] == "go" else None
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"paretodiff_torch: {' '.join(argv)}: exit status {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def _table(strategies, target, schedule, T, zero_terminal, binary):
    args = ["weights", "--format", "json", "--schedule", schedule, "--T", str(T), "--target", target]
    if zero_terminal:
        args.append("--zero-terminal")
    for s in strategies:
        args += ["--strategy", s]
    return json.loads(run_paretodiff(args, binary))


def weights(strategies, target="eps", schedule="cosine", T=1000, zero_terminal=False, binary=None):
    """{strategy spec: (T,) float64 weights} for the prediction ``target`` (eps, x0, v or flow).

    ``strategies``: a spec or a list of specs as ``paretodiff weights --strategy`` takes
    them ("min-snr:5", "constant", ...).
    """
    if isinstance(strategies, str):
        strategies = [strategies]
    table = _table(strategies, target, schedule, T, zero_terminal, binary)
    return {s: np.asarray(table["weights"][s], dtype=np.float64) for s in strategies}


def schedule_table(schedule="cosine", T=1000, zero_terminal=False, binary=None):
    """{"alpha_bar", "snr", "log_snr"}: (T,) float64 arrays of the schedule, from paretodiff.

    log_snr is the Go schedule's ln SNR(t), bit for bit (what --bins logsnr:K cuts);
    -inf where SNR = 0.
    """
    table = _table(["constant"], "x0", schedule, T, zero_terminal, binary)
    return {
        "alpha_bar": np.asarray(table["alpha_bar"], dtype=np.float64),
        "snr": np.asarray(table["snr"], dtype=np.float64),
        "log_snr": np.asarray([float(v) for v in table["log_snr"]], dtype=np.float64),
    }
