"""The Python anchor for IsoScore: the steps of the authors' IsoScore.py (Rudman et al. 2022,
bcbi-edu/p_eickhoff_isoscore) with scikit-learn's PCA, as users run it today.
Usage: python3 isoscore_authors.py points.npy   (2-D, rows = points). Prints one JSON line."""
import json, sys, time

t_start = time.perf_counter()
import numpy as np
from sklearn.decomposition import PCA

X = np.load(sys.argv[1]).astype(np.float64)
t0 = time.perf_counter()
n, d = X.shape
points_pca = PCA(n_components=d).fit_transform(X)          # 1. PCA-rotate
lam = np.var(points_pca, axis=0, ddof=1)                    # 2. variances along the principal axes
lam_hat = np.sqrt(d) * lam / np.linalg.norm(lam)            # 3. normalise
delta = np.linalg.norm(lam_hat - 1) / np.sqrt(2 * (d - np.sqrt(d)))   # 4. isotropy defect
k = (d - delta ** 2 * (d - np.sqrt(d))) ** 2 / d            # 5. dimensions used
iso = (k - 1) / (d - 1)                                     # 6. IsoScore
compute = time.perf_counter() - t0
print(json.dumps({"isoscore": float(iso), "compute_seconds": compute, "process_seconds": time.perf_counter() - t_start}))
