# Independent reference numbers for package metrics (metrics_ref_test.go).
# Run: /usr/bin/python3 ref.py > ref.out   (needs python3-numpy, python3-scipy)
# The data are given by formulas that the Go test evaluates the same way.
import numpy as np
import scipy.linalg
import scipy.stats
from scipy.spatial.distance import pdist, cdist

N, M, F = 12, 15, 4
X = np.array([[np.sin(1.3 * (j + 1) * i + 0.7 * j * j + 0.1) + 0.1 * j for j in range(F)] for i in range(N)])
Y = np.array([[np.cos(0.9 * (j + 1) * i + 1.1 * j) * (1 + 0.2 * j) + 0.3 for j in range(F)] for i in range(M)])

def fd_sqrtm(mu1, s1, mu2, s2):
    # pytorch-fid's formula: scipy.linalg.sqrtm of the non-symmetric product
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))

def fd_eigvals(mu1, s1, mu2, s2):
    # tr((S1 S2)^1/2) as the sum of square roots of the eigenvalues of S1 S2
    ev = np.linalg.eigvals(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(ev, 0, None))))

mu1, s1 = X.mean(0), np.cov(X, rowvar=False)
mu2, s2 = Y.mean(0), np.cov(Y, rowvar=False)
print("fd_sets_sqrtm", repr(fd_sqrtm(mu1, s1, mu2, s2)))
print("fd_sets_eigvals", repr(fd_eigvals(mu1, s1, mu2, s2)))
print("fd_self", repr(fd_sqrtm(mu1, s1, mu1, s1)))
print("min_eig_cov", repr(float(np.linalg.eigvalsh(s1).min())), repr(float(np.linalg.eigvalsh(s2).min())))

# Given means and (non-commuting) covariances.
A = np.array([[2.0, 0.3, -0.2], [0.3, 1.0, 0.4], [-0.2, 0.4, 0.5]])
B = np.array([[0.7, -0.1, 0.0], [-0.1, 1.5, -0.6], [0.0, -0.6, 0.9]])
ma, mb = np.array([0.1, -0.2, 0.3]), np.array([-0.4, 0.0, 0.25])
print("fd_given_sqrtm", repr(fd_sqrtm(ma, A, mb, B)))
print("fd_given_eigvals", repr(fd_eigvals(ma, A, mb, B)))

# MMD^2, unbiased, RBF exp(-d^2 / (2 s^2)).
def mmd2(x, y, s):
    k = lambda d2: np.exp(-d2 / (2 * s * s))
    kxx = k(cdist(x, x, "sqeuclidean")); np.fill_diagonal(kxx, 0)
    kyy = k(cdist(y, y, "sqeuclidean")); np.fill_diagonal(kyy, 0)
    kxy = k(cdist(x, y, "sqeuclidean"))
    n, m = len(x), len(y)
    return float(kxx.sum() / (n * (n - 1)) + kyy.sum() / (m * (m - 1)) - 2 * kxy.mean())

med = float(np.median(pdist(np.vstack([X, Y]))))
print("mmd_median_bandwidth", repr(med))
print("mmd2_median", repr(mmd2(X, Y, med)))
print("mmd2_bw0.7", repr(mmd2(X, Y, 0.7)))

# 1-D Wasserstein between a = X[:,0] (12 points) and b = Y[:,1] (15 points).
a, b = X[:, 0], Y[:, 1]
print("w1", repr(float(scipy.stats.wasserstein_distance(a, b))))
def wpp(a, b, p):
    # quantile functions on the exact common grid u = (k + 1/2)/(n m)
    n, m = len(a), len(b)
    u = (np.arange(n * m) + 0.5) / (n * m)
    qa = np.sort(a)[np.floor(u * n).astype(int)]
    qb = np.sort(b)[np.floor(u * m).astype(int)]
    return float(np.mean(np.abs(qa - qb) ** p))
print("w2pow2", repr(wpp(a, b, 2)))
print("w1.5pow1.5", repr(wpp(a, b, 1.5)))

# Label entropies of softmax rows P[i, c] ∝ exp(3 sin(0.5 i (c + 1))).
P = np.array([[np.exp(3 * np.sin(0.5 * i * (c + 1))) for c in range(4)] for i in range(6)])
P /= P.sum(1, keepdims=True)
mean_h = float(np.mean([scipy.stats.entropy(p) for p in P]))
marg_h = float(scipy.stats.entropy(P.mean(0)))
kl = float(np.mean([scipy.stats.entropy(p, P.mean(0)) for p in P]))
print("mean_entropy", repr(mean_h))
print("marginal_entropy", repr(marg_h))
print("inception_score", repr(float(np.exp(kl))))
