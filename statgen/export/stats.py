"""Statistics over a whole dataset in one streaming pass, in LeRobot's stats.json layout.

Per feature: min, max, mean, std, count, and the quantiles q01, q10, q50, q90, q99.
- Vectors (float or int): min, max, mean and std are exact (float64, Chan's pairwise update); the
  quantiles come from a histogram of QUANTILE_BINS bins per dimension that is re-binned when the range
  grows (LeRobot's own RunningQuantileStats does the same), so each is within about one bin width,
  (max - min) / QUANTILE_BINS, of the exact value.
- Images: per channel, over every pixel of every frame, scaled to [0, 1] and shaped (3, 1, 1) as
  LeRobot writes them. Pixels are integers 0..255, so a 256-bin histogram per channel makes every
  statistic, the quantiles included, exact. `count` is the number of frames.
Memory is a few histograms per feature, whatever n is.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{int(round(q * 100)):02d}" for q in QUANTILES)
QUANTILE_BINS = 5000


def _quantile_from_hist(hist: np.ndarray, edges: np.ndarray, q: float, total: int) -> float:
    """The q-quantile of `total` values binned in `hist` (edges: len(hist) + 1), linear inside a bin."""
    target = q * total
    cum = np.cumsum(hist)
    i = int(np.searchsorted(cum, target))
    i = min(i, len(hist) - 1)
    before = cum[i - 1] if i > 0 else 0.0
    inside = hist[i]
    frac = 0.0 if inside <= 0 else (target - before) / inside
    return float(edges[i] + min(max(frac, 0.0), 1.0) * (edges[i + 1] - edges[i]))


class VectorStats:
    """Running statistics of d-dimensional values (one row per frame)."""

    def __init__(self, dim: int, bins: int = QUANTILE_BINS):
        self.dim, self.bins = dim, bins
        self.count = 0
        self.mean = np.zeros(dim)
        self.m2 = np.zeros(dim)  # sum of squared deviations from the mean
        self.min = np.full(dim, np.inf)
        self.max = np.full(dim, -np.inf)
        self.hist: np.ndarray | None = None  # (dim, bins)
        self.lo = np.zeros(dim)
        self.hi = np.zeros(dim)

    def update(self, batch: np.ndarray) -> None:
        x = np.asarray(batch, dtype=np.float64).reshape(-1, self.dim)
        n = len(x)
        if n == 0:
            return
        bmean = x.mean(axis=0)
        bm2 = ((x - bmean) ** 2).sum(axis=0)
        total = self.count + n
        delta = bmean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + bm2 + delta**2 * (self.count * n / total)
        self.count = total
        self.min = np.minimum(self.min, x.min(axis=0))
        self.max = np.maximum(self.max, x.max(axis=0))
        self._histogram(x)

    def _histogram(self, x: np.ndarray) -> None:
        if self.hist is None:
            self.lo, self.hi = self.min.copy(), self.max.copy()
            self.hist = np.zeros((self.dim, self.bins))
        for d in range(self.dim):
            lo, hi = self.min[d], self.max[d]
            if lo < self.lo[d] or hi > self.hi[d]:  # the range grew: move the counts to the new bins by their centres
                old_edges = self._edges(d)
                centres = (old_edges[:-1] + old_edges[1:]) / 2
                self.lo[d], self.hi[d] = lo, hi
                new = np.zeros(self.bins)
                np.add.at(new, self._bin(d, centres), self.hist[d])
                self.hist[d] = new
            np.add.at(self.hist[d], self._bin(d, x[:, d]), 1.0)

    def _edges(self, d: int) -> np.ndarray:
        lo, hi = self.lo[d], self.hi[d]
        if hi <= lo:
            hi = lo + 1e-12
        return np.linspace(lo, hi, self.bins + 1)

    def _bin(self, d: int, v: np.ndarray) -> np.ndarray:
        lo, hi = self.lo[d], self.hi[d]
        width = (hi - lo) if hi > lo else 1e-12
        return np.clip(((v - lo) / width * self.bins).astype(np.int64), 0, self.bins - 1)

    def result(self) -> dict[str, list]:
        std = np.sqrt(np.maximum(self.m2 / max(self.count, 1), 0.0))
        out = {"min": self.min.tolist(), "max": self.max.tolist(), "mean": self.mean.tolist(), "std": std.tolist(), "count": [self.count]}
        for q, key in zip(QUANTILES, QUANTILE_KEYS):
            vals = []
            for d in range(self.dim):
                if self.max[d] <= self.min[d]:
                    vals.append(float(self.min[d]))
                else:
                    vals.append(min(max(_quantile_from_hist(self.hist[d], self._edges(d), q, self.count), self.min[d]), self.max[d]))
            out[key] = vals
        return out


class ImageStats:
    """Per-channel statistics of RGB uint8 images, exact (256-bin histograms), in LeRobot's (3, 1, 1) layout in [0, 1]."""

    def __init__(self):
        self.hist = np.zeros((3, 256), dtype=np.int64)
        self.frames = 0

    def update(self, rgb: np.ndarray) -> None:
        for c in range(3):
            self.hist[c] += np.bincount(rgb[..., c].ravel(), minlength=256)
        self.frames += 1

    def result(self) -> dict[str, list]:
        values = np.arange(256, dtype=np.float64)
        total = self.hist.sum(axis=1)
        safe = np.maximum(total, 1)
        mean = (self.hist * values).sum(axis=1) / safe
        var = (self.hist * values**2).sum(axis=1) / safe - mean**2
        nonzero = [np.nonzero(h)[0] for h in self.hist]
        mn = np.array([nz[0] if len(nz) else 0 for nz in nonzero], dtype=np.float64)
        mx = np.array([nz[-1] if len(nz) else 0 for nz in nonzero], dtype=np.float64)

        def shaped(v: np.ndarray) -> list:
            return (np.asarray(v, dtype=np.float64) / 255.0).reshape(3, 1, 1).tolist()

        out = {"min": shaped(mn), "max": shaped(mx), "mean": shaped(mean), "std": shaped(np.sqrt(np.maximum(var, 0.0))), "count": [self.frames]}
        for q, key in zip(QUANTILES, QUANTILE_KEYS):
            # the exact quantile of integer pixel values: the smallest value whose cumulative count reaches q * total
            cum = np.cumsum(self.hist, axis=1)
            out[key] = shaped(np.array([int(np.searchsorted(cum[c], q * total[c])) for c in range(3)]))
        return out
