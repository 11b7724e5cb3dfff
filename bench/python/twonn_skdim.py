"""The Python anchor for TwoNN: scikit-dimension 0.3.4's TwoNN(discard_fraction=0.1).fit. For more
than 25 features it takes r1, r2 from scikit-learn's pairwise_distances_chunked with each chunk's
rows sorted (below that, NearestNeighbors); then the fit through the origin on the smallest 90% of
the ratios, empirical CDF over the full N. scikit-dimension is not packaged for Debian, so its
steps are restated here from its source (the fit's 1-based CDF as its 0.3.4 release computes it;
the fixtures confirm the value).
Usage: python3 twonn_skdim.py points.npy. Prints one JSON line."""
import json, sys, time

t_start = time.perf_counter()
import numpy as np
from sklearn.metrics.pairwise import pairwise_distances_chunked
from sklearn.neighbors import NearestNeighbors

X = np.load(sys.argv[1]).astype(np.float64)
t0 = time.perf_counter()
N = X.shape[0]
if X.shape[1] > 25:
    ratios, i = np.zeros(N), 0
    for chunk in pairwise_distances_chunked(X):
        chunk = np.sort(chunk, axis=1)
        ratios[i:i + len(chunk)] = chunk[:, 2] / chunk[:, 1]
        i += len(chunk)
else:
    dists, _ = NearestNeighbors(n_neighbors=2).fit(X).kneighbors()
    ratios = dists[:, 1] / dists[:, 0]
mu = np.sort(ratios)
n_kept = int(N * 0.9)
F = np.arange(1, N + 1) / N
x = np.log(mu[:n_kept])
y = -np.log(1 - F[:n_kept])
dim = float(np.dot(x, y) / np.dot(x, x))
compute = time.perf_counter() - t0
print(json.dumps({"twonn": dim, "compute_seconds": compute, "process_seconds": time.perf_counter() - t_start}))
