# Independent reference for sampler.Timesteps and sampler.KarrasTimesteps.
# Run: /usr/bin/python3 grids_ref.py   (needs python3-numpy)
# Respacing as in diffusers' DDIMScheduler.set_timesteps ("trailing" and
# "linspace"); the Karras ramp of EDM (Karras et al. 2022, Eq. 5) rounded to
# the nearest discrete sigma in log sigma, as documented in timesteps.go.
import math
import numpy as np

def trailing(T, n):
    return list((np.round(np.arange(T, 0, -T / n)) - 1).astype(np.int64)[:n])

def linspace(T, n):
    return list(np.linspace(0, T - 1, n).round()[::-1].astype(np.int64))

def cosine_alpha_bar(T, zero_terminal=False):
    f = lambda s: math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = np.array([min(1 - f((t + 1) / T) / f(t / T), 0.999) for t in range(T)])
    ab = np.cumprod(1 - betas)
    if zero_terminal:
        s = np.sqrt(ab)
        first, last = s[0], s[-1]
        s = (s - last) * first / (first - last)
        ab2 = s ** 2
        ab2[0] = ab[0]
        ab2[-1] = 0.0
        ab = ab2
    return ab

def karras(ab, n, rho=7.0, sigma_max=80.0):
    T = len(ab)
    with np.errstate(divide="ignore"):
        log_sigma = 0.5 * (np.log(1 - ab) - np.log(ab))
    top = T - 1 if np.isfinite(log_sigma[-1]) else T - 2
    grid = [T - 1]
    log_hi, m, capped = log_sigma[-1], n, False
    if log_hi > math.log(sigma_max):
        log_hi, m, capped = math.log(sigma_max), n - 1, True
    if not np.isfinite(log_hi):
        log_hi, m, capped = log_sigma[top], n - 1, True
    if m < 1:
        return grid
    hi, lo = math.exp(log_hi / rho), math.exp(log_sigma[0] / rho)
    ramp = (hi + np.arange(m) / max(m - 1, 1) * (lo - hi)) ** rho
    ls = np.log(ramp)
    ls[0] = log_hi
    if m > 1 or capped:
        ls[-1] = log_sigma[0]
    cand = log_sigma[: top + 1]
    for v in ls:
        # nearest in log sigma; ties to the smaller t
        d = np.abs(cand - v)
        t = int(np.flatnonzero(d == d.min())[0])
        if t != grid[-1]:
            grid.append(t)
    return grid

for T, n in [(1000, 10), (1000, 3), (1000, 7), (37, 5), (10, 10)]:
    print("trailing", T, n, [int(x) for x in trailing(T, n)])
    print("linspace", T, n, [int(x) for x in linspace(T, n)])
for zt, n, smax in [(False, 18, 80.0), (False, 10, math.inf), (True, 18, 80.0), (True, 6, math.inf), (False, 2, 80.0), (True, 3, 80.0)]:
    print("karras cosine1000 zt=%s n=%d sigma_max=%s" % (zt, n, smax), karras(cosine_alpha_bar(1000, zt), n, 7.0, smax))
