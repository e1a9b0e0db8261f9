"""`statgen stats DIR`: what a dataset holds, as plots in DIR/stats/ (matplotlib, Agg backend).

Read from the Parquet index one file at a time (a few columns, never the images), so memory does
not grow with n:
- workspace.png    the TCP's positions in the base frame: top (x-y), side (x-z) and front (y-z)
                   projections as 2-D histograms, with the workspace box the sampler keeps;
- rosa_dims.png    a histogram per ROSA dimension over its ROSA range (the range the tokens bin);
- visibility.png   per camera: the TCP in the image (in view) and not occluded (visible);
- gripper.png      open and closed samples;
- acceptance.png   per shard: accepted draws / all draws, and the rejections by reason
                   (from the run's log, _run/shards.jsonl; a copy without _run/ has only the total).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from statgen.core.rosa import DIMS
from statgen.schema import DatasetInfo
from statgen.storage.fs import Store

STATS_DIR = "stats"
PLOTS = ("workspace.png", "rosa_dims.png", "visibility.png", "gripper.png", "acceptance.png")
GRID_MIN, GRID_MAX = 16, 80  # bins per axis of the workspace histograms: about 4 samples per cell on average, within these


def grid_bins(samples: int) -> int:
    return int(np.clip(np.sqrt(max(samples, 1) / 4), GRID_MIN, GRID_MAX))
ROSA_BINS = 64
DPI = 100
DIM_UNITS = ("m", "m", "m", "rad", "rad", "rad", "")


@dataclass
class Summary:
    """What the plots (and the card) show, accumulated over the index files."""

    ranges: np.ndarray  # (7, 2) ROSA ranges
    samples: int = 0
    xyz: dict[str, np.ndarray] = field(default_factory=dict)  # projection -> (grid, grid) counts
    dims: np.ndarray | None = None  # (7, ROSA_BINS) counts
    outside: np.ndarray | None = None  # (7,) samples outside the ROSA range (their tokens clip)
    gripper_open: int = 0
    in_view: dict[str, int] = field(default_factory=dict)
    visible: dict[str, int] = field(default_factory=dict)
    shards: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)  # (name, acceptance or None)

    def rate(self, k: int) -> float:
        return k / self.samples if self.samples else 0.0


PROJECTIONS = (("top", 0, 1), ("side", 0, 2), ("front", 1, 2))


def summarise(store: Store, info: DatasetInfo, shard_extras: dict[str, dict[str, Any]] | None = None) -> Summary:
    """Read the index of `info`'s shards, one file at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from statgen.errors import StatgenError, VerifyError
    from statgen.storage.shards import index_name

    ranges = np.asarray(info.rosa.ranges, dtype=float)
    s = Summary(ranges=ranges, dims=np.zeros((7, ROSA_BINS)), outside=np.zeros(7, dtype=int))
    grid = grid_bins(info.samples)
    s.xyz = {name: np.zeros((grid, grid)) for name, _, _ in PROJECTIONS}
    cameras = list(info.config.cameras)
    s.in_view = {c: 0 for c in cameras}
    s.visible = {c: 0 for c in cameras}
    if shard_extras is None:
        shard_extras = _shard_log(store)
    for sh in sorted(info.shards, key=lambda x: x.name):
        shard_no = int(sh.name.rsplit("-", 1)[-1].split(".")[0])
        rel = index_name(shard_no)
        cols = ["ee_pos_x", "ee_pos_y", "ee_pos_z", "ee_euler_roll", "ee_euler_pitch", "ee_euler_yaw", "gripper_open"]
        cols += [f"{c}_{k}" for c in cameras for k in ("in_view", "visible")]
        try:
            with store.open_input(rel) as f:
                t = pq.read_table(f, columns=cols)
        except (pa.ArrowException, OSError) as e:  # a damaged or foreign index file (a missing one is the store's StorageError)
            if isinstance(e, StatgenError):
                raise
            raise VerifyError(f"{store.join(rel)}: not a readable Parquet index file ({type(e).__name__}); "
                              f"run `statgen verify {store.uri}`") from None
        v = np.stack([t.column(c).to_numpy(zero_copy_only=False).astype(float) for c in cols[:7]], axis=1)
        s.samples += len(v)
        for name, a, b in PROJECTIONS:
            h, _, _ = np.histogram2d(v[:, a], v[:, b], bins=grid, range=[ranges[a], ranges[b]])
            s.xyz[name] += h
        for d in range(7):
            h, _ = np.histogram(v[:, d], bins=ROSA_BINS, range=tuple(ranges[d]))
            s.dims[d] += h
            s.outside[d] += int(((v[:, d] < ranges[d][0]) | (v[:, d] > ranges[d][1])).sum())
        s.gripper_open += int(v[:, 6].sum())
        for c in cameras:
            s.in_view[c] += int(np.asarray(t.column(f"{c}_in_view").to_numpy(zero_copy_only=False)).sum())
            s.visible[c] += int(np.asarray(t.column(f"{c}_visible").to_numpy(zero_copy_only=False)).sum())
        extra = shard_extras.get(sh.name) if shard_extras else None
        s.shards.append((sh.name, extra.get("acceptance") if extra else None))
    return s


def _shard_log(store: Store) -> dict[str, dict[str, Any]]:
    from statgen.storage.run import SHARDS_JSONL, read_shards

    if not store.exists(SHARDS_JSONL):
        return {}
    try:
        return {info.name: extra for info, extra in read_shards(store)}
    except Exception:  # noqa: BLE001 - a damaged log only costs the per-shard plot
        return {}


def render(s: Summary, info: DatasetInfo) -> dict[str, bytes]:
    """The plots as PNG bytes, by file name."""
    out = {}
    for name, fig in figures(s, info).items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)  # Matplotlib's Agg canvas; no GUI backend is touched
        out[name] = buf.getvalue()
    return out


def figures(s: Summary, info: DatasetInfo) -> dict[str, Any]:
    """The plots as matplotlib Figures, by file name."""
    import matplotlib.patches
    import matplotlib.ticker
    from matplotlib.figure import Figure

    out: dict[str, Figure] = {}
    title = f"{info.robot} / {info.task}, {s.samples} samples"

    def figure(width: float, height: float, *, left=0.75, right=0.25, bottom=0.6, top=0.6, **space) -> Figure:
        """A figure without pyplot's global registry, its margins fixed [inches]. Constrained layout
        measured every tick label to place them and took half of the card's drawing time. The
        margins fit 6-digit counts on the axes (tests/test_card.py draws 500,000 samples)."""
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height, **space)
        return fig

    # workspace coverage
    fig = figure(13, 4.9, left=0.65, right=1.3, bottom=0.55, top=0.5, wspace=0.25)
    axes = fig.subplots(1, 3)
    spec = info.robot_spec
    lo, hi = np.asarray(spec.workspace_min), np.asarray(spec.workspace_max)
    labels = ("x (forward) [m]", "y (left) [m]", "z (up) [m]")
    vmax = max(max(h.max() for h in s.xyz.values()), 1)
    for ax, (name, a, b) in zip(axes, PROJECTIONS):
        h = s.xyz[name].T
        extent = [*s.ranges[a], *s.ranges[b]]
        im = ax.imshow(np.where(h > 0, h, np.nan), origin="lower", extent=extent, aspect="equal", cmap="viridis",
                       vmin=0, vmax=vmax, interpolation="nearest")
        ax.add_patch(matplotlib.patches.Rectangle((lo[a], lo[b]), hi[a] - lo[a], hi[b] - lo[b], fill=False, ec="red", lw=1.2, ls="--"))
        ax.plot([0], [0], marker="+", color="black", ms=12, mew=2)
        ax.set_xlabel(labels[a])
        ax.set_ylabel(labels[b])
        ax.set_title(f"{name} view: {labels[a].split()[0]} and {labels[b].split()[0]}")
        for setter, (u, w) in ((ax.set_xlim, (min(s.ranges[a][0], lo[a]), max(s.ranges[a][1], hi[a]))),
                               (ax.set_ylim, (min(s.ranges[b][0], lo[b]), max(s.ranges[b][1], hi[b])))):
            pad = 0.04 * (w - u)
            setter(u - pad, w + pad)
    fig.colorbar(im, cax=fig.add_axes((1 - 1.1 / 13, 0.2, 0.15 / 13, 0.65)), label="samples per cell (white: none)")
    fig.suptitle(f"TCP positions in the base frame (+: base origin; dashed: workspace box) - {title}")
    out["workspace.png"] = fig

    # ROSA dimensions
    fig = figure(14, 6, left=0.95, right=0.2, bottom=0.5, top=0.65, wspace=0.45, hspace=0.35)
    axes = fig.subplots(2, 4)
    for d, ax in enumerate(axes.flat):
        if d == 7:
            ax.axis("off")
            ax.text(0.0, 0.5, "Each panel spans its dimension's\nROSA range: the 256 tokens\nbin it evenly. Samples outside\na range clip to token 0 or 255.",
                    fontsize=10, va="center")
            continue
        edges = np.linspace(*s.ranges[d], ROSA_BINS + 1)
        if DIMS[d] == "gripper":
            ax.bar(["closed (0)", "open (1)"], [s.samples - s.gripper_open, s.gripper_open], color=["tab:gray", "tab:green"])
        else:
            ax.stairs(s.dims[d], edges, fill=True, color="tab:blue", alpha=0.8)
            ax.set_xlim(*s.ranges[d])
        unit = f" [{DIM_UNITS[d]}]" if DIM_UNITS[d] else ""
        extra = f"; {s.outside[d]} outside" if s.outside[d] else ""
        ax.set_title(f"{DIMS[d]}{unit}{extra}", fontsize=10)
        ax.set_ylabel("samples")
    fig.suptitle(f"ROSA state dimensions (base frame; roll, pitch, yaw: extrinsic XYZ) - {title}")
    out["rosa_dims.png"] = fig

    # visibility
    cams = list(s.in_view)
    fig = figure(max(5, 1.8 * len(cams) + 2), 4)
    ax = fig.subplots()
    x = np.arange(len(cams))
    iv = [100 * s.rate(s.in_view[c]) for c in cams]
    vi = [100 * s.rate(s.visible[c]) for c in cams]
    b1 = ax.bar(x - 0.2, iv, 0.4, label="TCP in view", color="tab:blue")
    b2 = ax.bar(x + 0.2, vi, 0.4, label="TCP visible (not occluded)", color="tab:orange")
    ax.bar_label(b1, fmt="%.1f%%", fontsize=8)
    ax.bar_label(b2, fmt="%.1f%%", fontsize=8)
    ax.set_xticks(x, cams)
    ax.set_ylim(0, 110)
    ax.set_ylabel("% of samples")
    ax.legend(loc="lower right")
    ax.set_title(f"Where the TCP is in each camera\n{title}", fontsize=10)
    out["visibility.png"] = fig

    # gripper
    fig = figure(5, 4, left=1.0)
    ax = fig.subplots()
    closed = s.samples - s.gripper_open
    bars = ax.bar(["closed", "open"], [closed, s.gripper_open], color=["tab:gray", "tab:green"])
    ax.bar_label(bars, labels=[f"{closed} ({100 * s.rate(closed):.1f}%)", f"{s.gripper_open} ({100 * s.rate(s.gripper_open):.1f}%)"])
    ax.set_ylabel("samples")
    ax.set_ylim(0, max(closed, s.gripper_open, 1) * 1.15)
    ax.set_title(f"Gripper (open: open fraction >= 0.5)\n{title}", fontsize=10)
    out["gripper.png"] = fig

    # acceptance per shard
    fig = figure(max(6, min(16, 0.12 * len(s.shards) + 4)), 4)
    ax = fig.subplots()
    known = [(i, a) for i, (_, a) in enumerate(s.shards) if a and a.get("drawn")]
    if known:
        idx = np.array([i for i, _ in known])
        drawn = np.array([a["drawn"] for _, a in known], dtype=float)
        bottom = np.zeros(len(known))
        acc = np.array([a["accepted"] for _, a in known], dtype=float) / drawn * 100
        ax.bar(idx, acc, width=0.9, color="tab:green", label="accepted")
        bottom += acc
        reasons = sorted({r for _, a in known for r in a.get("rejected", {})})
        for r, colour in zip(reasons, ("tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:gray")):
            vals = np.array([a.get("rejected", {}).get(r, 0) for _, a in known], dtype=float) / drawn * 100
            if vals.any():
                ax.bar(idx, vals, width=0.9, bottom=bottom, color=colour, label=f"rejected: {r}")
                bottom += vals
        ax.set_ylim(0, 100)
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no per-shard log here (_run/shards.jsonl)", ha="center", va="center", transform=ax.transAxes)
    a = info.acceptance
    ax.set_xlabel("shard")
    ax.set_ylabel("% of draws")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_title(f"Acceptance per shard: {a.accepted} of {a.drawn} draws accepted overall "
                 f"({100 * a.accepted / max(a.drawn, 1):.1f}%)\n{title}", fontsize=10)
    out["acceptance.png"] = fig
    return out


def write_plots(store: Store, info: DatasetInfo, shard_extras: dict[str, dict[str, Any]] | None = None) -> tuple[Summary, list[str]]:
    """Write stats/*.png; returns the summary and the files written (relative to the dataset)."""
    s = summarise(store, info, shard_extras)
    written = []
    for name, data in render(s, info).items():
        rel = f"{STATS_DIR}/{name}"
        store.write_bytes(rel, data)
        written.append(rel)
    return s, written
