"""The Python anchor for TwoNN: scikit-dimension 0.3.4's TwoNN(discard_fraction=0.1).fit (neighbours
from scikit-learn's NearestNeighbors, fit through the origin on the smallest 90% of the ratios,
empirical CDF over the full N). scikit-dimension is not packaged for Debian, so its fit is
restated here from its source; the neighbour search, which dominates the time, is the same call.
Usage: python3 twonn_skdim.py points.npy. Prints one JSON line."""
import json, sys, time

t_start = time.perf_counter()
import numpy as np
from sklearn.neighbors import NearestNeighbors

X = np.load(sys.argv[1]).astype(np.float64)
t0 = time.perf_counter()
N = X.shape[0]
dists, _ = NearestNeighbors(n_neighbors=2).fit(X).kneighbors()
mu = np.sort(dists[:, 1] / dists[:, 0])
n_kept = int(N * 0.9)
F = np.arange(1, N + 1) / N
x = np.log(mu[:n_kept])
y = -np.log(1 - F[:n_kept])
dim = float(np.dot(x, y) / np.dot(x, x))
compute = time.perf_counter() - t0
print(json.dumps({"twonn": dim, "compute_seconds": compute, "process_seconds": time.perf_counter() - t_start}))
