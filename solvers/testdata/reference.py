#!/usr/bin/python3
# Independent reference for package solvers: a 7-task Gram matrix and its
# exact min-norm weights for several λ, by brute-force enumeration of the
# supports in numpy. Run from this directory: /usr/bin/python3 reference.py
# Writes gram_k7.npy and gram_k7_ref.txt (one line per λ: λ, f*, w*_0..w*_6).
import itertools
import numpy as np

rng = np.random.default_rng(2023)
K, P = 7, 9
A = rng.normal(size=(K, P)) / np.sqrt(P)
A[:, 0] += 0.4                      # a shared component: tasks conflict only partly
A *= np.exp(rng.normal(size=(K, 1)))  # norms spread over about a decade
G = A @ A.T
np.save("gram_k7.npy", G)

def solve(H):
    best_f, best_w = np.inf, None
    for m in range(1, K + 1):
        for S in itertools.combinations(range(K), m):
            S = list(S)
            M = np.zeros((m + 1, m + 1))
            M[:m, :m] = H[np.ix_(S, S)]
            M[:m, m] = M[m, :m] = 1
            if np.linalg.cond(M) > 1e12:
                continue
            b = np.zeros(m + 1); b[m] = 1
            x = np.linalg.solve(M, b)
            if (x[:m] < -1e-12).any():
                continue
            w = np.zeros(K); w[S] = np.maximum(x[:m], 0); w /= w.sum()
            f = w @ H @ w
            if f < best_f:
                best_f, best_w = f, w
    return best_f, best_w

with open("gram_k7_ref.txt", "w") as out:
    for lam in [0.0, 0.05, 1.0]:
        f, w = solve(G + lam * np.eye(K))
        out.write(" ".join([repr(lam), repr(f)] + [repr(x) for x in w]) + "\n")
print(open("gram_k7_ref.txt").read())
