#!/usr/bin/python3
# Writes the .npy and .csv files that matio's tests read, with numpy itself
# as the independent writer. Run from this directory: /usr/bin/python3 make_testdata.py
# The matrix is M[i, j] = (i + 1) + (j + 1) / 3 - 0.125 * i * j, shape (3, 4);
# the Go test recomputes it with the same formula.
import numpy as np

r, c = 3, 4
M = np.array([[(i + 1) + (j + 1) / 3 - 0.125 * i * j for j in range(c)] for i in range(r)])

for dt, name in [(np.float64, "f8"), (np.float32, "f4")]:
    for order in ["C", "F"]:
        a = np.array(M, dtype=dt, order=order)
        assert a.flags[order + "_CONTIGUOUS"]
        np.save(f"m_{name}_{order}.npy", a)
    np.save(f"m_{name}_big.npy", M.astype(">" + name))
np.save("v_f8.npy", M[:, 0].copy())           # 1-D (3,)
np.save("col_f4.npy", M[:, :1].astype(np.float32))  # (3, 1)
np.save("t3.npy", np.zeros((2, 2, 2)))         # 3-D: an error for a matrix
np.save("i8.npy", np.arange(6).reshape(2, 3))  # int64: unsupported dtype
bad = M.copy(); bad[1, 2] = np.nan
np.save("nan.npy", bad)
inf = M.copy(); inf[2, 0] = -np.inf
np.save("inf_F.npy", np.asfortranarray(inf))
np.savetxt("m_savetxt.csv", M, delimiter=",")  # numpy's default '%.18e' format
print("wrote", r, "x", c, "test files")
