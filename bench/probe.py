"""A learnability probe: can a small CNN, trained from scratch on CPU, read the robot's
state from a statgen dataset's images?

    python bench/probe.py DATASET [--test DATASET ...] [--n N] [--epochs E] [--size PX]
                          [--camera NAME] [--seed S] [--arch flat|keypoints]

It trains on DATASET (a statgen dataset folder) and predicts, from one camera's image:
the TCP position in the base frame (`state.ee_pos`), the TCP orientation
(`state.ee_rot6d`), the gripper's open/closed flag (`state.gripper_open`) and the TCP pixel
(`cameras.<camera>.ee_pixel`). Only the dataset's own labels are used.

Held-out data: each --test dataset, or, without --test, the last tenth of DATASET's shards
(whole shards; a dataset of one shard holds out its last tenth of samples instead).

It reports, on the held-out data: the median and 90th-percentile position error [cm], the
median rotation error [deg] (geodesic angle, after Gram-Schmidt on the predicted 6-D
rotation), the gripper accuracy, the median TCP pixel error [px, in the stored image's
pixels], and the same numbers for a trivial baseline that predicts the training set's
median (majority class for the gripper). Progress goes to stderr, one line per epoch. The
last line on stdout is one JSON object; with several --test sets its top-level numbers
are the first set's, and `tests` lists every set.

The image the network sees (`--roi`): by default the whole camera image (centre-cropped to
a square), resized to --size. `--roi auto` crops instead, the same way for every sample,
to where the TCP appears in the *training* set (the bounding box of the training TCP
pixels plus a margin); a camera whose TCP pixel barely moves (a wrist camera) keeps its
whole image. In the tabletop scene the TCP reaches the whole front image, so `auto` gains
nothing there.

The network (`--arch`): `flat` (the default) flattens its last map into the fully connected
layers; `keypoints` ends in a spatial soft-argmax instead (32 learned keypoints, each the
expected (x, y) of a softmax over a map at a quarter of the input's side): 2.4x the compute
per sample, and it generalised better here (see the README, "The learnability probe").

`--tcp-crop PX` adds a second, small network for the gripper: it sees a PX x PX patch of
the full-resolution image around the TCP pixel. Training cuts the patch around the
labelled pixel, jittered by up to --tcp-jitter pixels. Held-out data is cut around the
pixel the first network predicted (two stages), so `gripper_acc` then uses no held-out
label. Also reported: `gripper_acc_image` (the first network's own gripper output, from
the camera image alone) and `gripper_acc_patch_at_label` (held-out patches cut at the
labelled pixel: an upper bound that reads a held-out label, not a claim).

`--frame camera` regresses the TCP's pixel and depth instead of its base-frame position, and
back-projects them through each sample's stored K and T_base_cam (a calibrated camera);
`--refine PX[,PX...]` adds networks that find the TCP in a PX x PX full-resolution window at
the pixel before them: a cascade, each window applied twice (64,32: a 64 px window at the first
network's pixel, then a 32 px one at the result), trained on the first --refine-n samples
(default: the first network's --n). `--normalise` sets what the networks see:
each window at zero mean and unit spread (`windows`, the default: a dark window looks like a
bright one), the camera image and the --tcp-crop patch too (`all`), or every image's pixels
scaled alike (`none`).
bench/probe_views.py triangulates two such probes' pixels.

Deterministic given --seed: the same command prints the same numbers.
Needs the probe extra: pip install -e '.[probe]' (JAX and optax, CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------- data


@dataclass
class Split:
    """Decoded, resized images (uint8, N x S x S x 3) and their labels."""

    name: str
    images: np.ndarray
    pos: np.ndarray  # N x 3, metres, base frame
    rot6d: np.ndarray  # N x 6
    gripper: np.ndarray  # N, 0/1
    pixel: np.ndarray  # N x 2, stored image pixels
    image_hw: tuple[int, int]
    depth: np.ndarray | None = None  # N, the TCP's depth along the camera's optical axis [m]
    K: np.ndarray | None = None  # N x 3 x 3, the camera's intrinsics as stored
    T_base_cam: np.ndarray | None = None  # N x 4 x 4, the camera's pose in the base frame (OpenCV axes)
    patches: np.ndarray | None = None  # N x P x P x 3 around a TCP pixel (see --tcp-crop)
    full: np.ndarray | None = None  # N x H x W x 3, the decoded camera images (see --refine)
    raw: list[bytes] = field(default_factory=list)  # JPEG bytes, kept only where patches are cut later


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def dataset_shards(root: Path) -> list[Path]:
    """The finished dataset's shards, in order, from dataset.json (the data contract)."""
    meta = root / "dataset.json"
    if not meta.exists():
        raise SystemExit(f"probe: {root}: not a finished statgen dataset (no dataset.json)")
    ds = json.loads(meta.read_text())
    return [root / s["name"] for s in ds["shards"]]


def read_records(shards: list[Path], camera: str, limit: int | None = None):
    """(jpeg bytes, sample json) per sample, in shard order, at most `limit`."""
    out = []
    for path in shards:
        current, fields = None, {}
        with tarfile.open(path, mode="r|") as tf:
            for m in tf:
                if not m.isfile():
                    continue
                key, _, suffix = m.name.partition(".")
                if key != current:
                    if current is not None:
                        out.append(_record(current, fields, camera, path))
                        if limit is not None and len(out) >= limit:
                            return out
                    current, fields = key, {}
                if suffix in (f"{camera}.jpg", f"{camera}.jpeg", f"{camera}.png", f"{camera}.webp", "json"):
                    fields[suffix] = tf.extractfile(m).read()
        if current is not None:
            out.append(_record(current, fields, camera, path))
            if limit is not None and len(out) >= limit:
                return out
    return out


def _record(key, fields, camera, path):
    img = next((v for k, v in fields.items() if k != "json"), None)
    if img is None or "json" not in fields:
        raise SystemExit(f"probe: {path}: sample {key} has no '{camera}' image (cameras are chosen at generation: --cameras)")
    return img, json.loads(fields["json"])


def _decode(data: bytes) -> np.ndarray:
    if data[:2] == b"\xff\xd8":
        import simplejpeg

        return simplejpeg.decode_jpeg(data, colorspace="RGB")
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _resize(img: np.ndarray, roi: tuple[int, int, int, int], size: int) -> np.ndarray:
    from PIL import Image

    x0, y0, x1, y1 = roi
    if (x1 - x0, y1 - y0) == (size, size):
        return img[y0:y1, x0:x1]
    # PIL's bilinear filter widens its support when shrinking (an area-like average).
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR, box=(x0, y0, x1, y1)))


def labels_of(samples: list[dict], camera: str):
    pos = np.array([s["state"]["ee_pos"] for s in samples], np.float32)
    rot = np.array([s["state"]["ee_rot6d"] for s in samples], np.float32)
    grip = np.array([bool(s["state"]["gripper_open"]) for s in samples], np.float32)
    pix = np.array([s["cameras"][camera]["ee_pixel"] for s in samples], np.float32)
    hw = {(s["cameras"][camera]["height"], s["cameras"][camera]["width"]) for s in samples}
    if len(hw) != 1:
        raise SystemExit(f"probe: camera {camera!r} has several image sizes {sorted(hw)}")
    return pos, rot, grip, pix, hw.pop()


def calibration_of(samples: list[dict], camera: str):
    """(depth [m], K, T_base_cam) per sample: what a calibrated camera gives a deployed model."""
    depth = np.array([s["cameras"][camera]["ee_depth"] for s in samples], np.float64)
    K = np.array([s["cameras"][camera]["K"] for s in samples], np.float64)
    T_world_cam = np.array([s["cameras"][camera]["T_world_cam"] for s in samples], np.float64)
    T_world_base = np.array([s["T_world_base"] for s in samples], np.float64)
    return depth, K, np.linalg.solve(T_world_base, T_world_cam)


def backproject(pixel: np.ndarray, depth: np.ndarray, K: np.ndarray, T_base_cam: np.ndarray) -> np.ndarray:
    """Base-frame points [m] (N x 3) from stored-image pixels (N x 2), depths along the
    optical axis [m] (N) and each sample's K (N x 3 x 3) and T_base_cam (N x 4 x 4)."""
    uv1 = np.concatenate([pixel, np.ones((len(pixel), 1))], 1)
    p_cam = depth[:, None] * np.linalg.solve(K, uv1[:, :, None])[:, :, 0]
    return np.einsum("nij,nj->ni", T_base_cam[:, :3, :3], p_cam) + T_base_cam[:, :3, 3]


def choose_roi(pixels: np.ndarray, hw: tuple[int, int], how: str) -> tuple[int, int, int, int]:
    """A fixed square crop (x0, y0, x1, y1) of the camera image, the same for every sample.

    `auto`: the bounding box of the training TCP pixels (0.5th to 99.5th percentile) plus
    a margin of 12% of the image on every side (the arm reaches beyond its TCP), made
    square and moved inside the image. Where that box would cover under half the image's
    side, the TCP barely moves in this camera (a wrist camera): the whole image is kept."""
    h, w = hw
    if how == "full":
        s = min(h, w)
        return ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    if how != "auto":
        x0, y0, x1, y1 = (int(v) for v in how.split(","))
        return (x0, y0, x1, y1)
    lo = np.percentile(pixels, 0.5, axis=0)
    hi = np.percentile(pixels, 99.5, axis=0)
    margin = 0.12 * min(h, w)
    side = float(max(hi - lo)) + 2 * margin
    if side < 0.5 * min(h, w):
        return choose_roi(pixels, hw, "full")
    side = int(round(min(side, h, w)))
    cx, cy = (lo + hi) / 2
    x0 = int(round(min(max(cx - side / 2, 0), w - side)))
    y0 = int(round(min(max(cy - side / 2, 0), h - side)))
    return (x0, y0, x0 + side, y0 + side)


def _patch(img: np.ndarray, u: float, v: float, patch: int) -> np.ndarray:
    """A patch x patch window of `img` centred on pixel (u, v), zero outside the image."""
    h, w = img.shape[:2]
    out = np.zeros((patch, patch, 3), np.uint8)
    x0, y0 = int(round(u)) - patch // 2, int(round(v)) - patch // 2
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + patch, w), min(y0 + patch, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = img[sy0:sy1, sx0:sx1]
    return out


def cut_patches(raws, centres: np.ndarray, patch: int, pool) -> np.ndarray:
    """Patches of the full-resolution images around `centres` (decoding the JPEGs again)."""
    if not len(raws):
        return np.zeros((0, patch, patch, 3), np.uint8)
    return np.stack(list(pool.map(lambda a: _patch(_decode(a[0]), *a[1], patch), zip(raws, centres), chunksize=64)))


def head(s: Split, n: int) -> Split:
    """The first n samples of a split (every per-sample array cut; views, not copies)."""
    cut = {f.name: getattr(s, f.name)[:n] for f in dataclasses.fields(s) if isinstance(getattr(s, f.name), (np.ndarray, list))}
    return dataclasses.replace(s, **cut)


def load_split(name, records, camera, size, roi, pool, keep_raw=False, patch=0, keep_full=False) -> Split:
    """Decode each image once: the resized network input and, with `patch`, a patch at
    full resolution around its labelled TCP pixel; with `keep_full`, the decoded image."""
    samples = [r[1] for r in records]
    pos, rot, grip, pix, hw = labels_of(samples, camera)

    full = np.empty((len(records), *hw, 3), np.uint8) if keep_full else None  # filled in place: no second copy

    def one(i):
        img = _decode(records[i][0])
        if keep_full:
            full[i] = img
        return _resize(img, roi, size), (_patch(img, *pix[i], patch) if patch else None)

    both = list(pool.map(one, range(len(records)), chunksize=64))
    s = Split(name, np.stack([b[0] for b in both]), pos, rot, grip, pix, hw, raw=[r[0] for r in records] if keep_raw else [], full=full)
    s.depth, s.K, s.T_base_cam = calibration_of(samples, camera)
    if patch:
        s.patches = np.stack([b[1] for b in both])
    return s


# --------------------------------------------------------------------------- model (plain JAX)

# (output channels, stride) of the 3x3 convolutions, each followed by batch norm and ReLU.
# Two stride-2 layers come first: a stride-1 layer at half resolution cost more than the
# rest of the network together, and made an epoch about twice as long (measured here).
# The last map (size/16 on a side) is flattened, not pooled, so where things are survives.
ARCH = [(16, 2), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1)]
# --arch keypoints: a map at a quarter of the input's side, then a spatial soft-argmax
# (Levine et al. 2016, "End-to-end training of deep visuomotor policies"): KEYPOINTS 1x1
# maps, each turned into the expected (x, y) of its softmax over the map; those
# coordinates feed the fully connected layers.
KP_ARCH = [(16, 2), (32, 1), (32, 2), (64, 1), (64, 1)]
KEYPOINTS = 32
ARCHS = {"flat": (ARCH, 0), "keypoints": (KP_ARCH, KEYPOINTS)}  # --arch: (convolutions, keypoints)
PATCH_ARCH = [(24, 1), (32, 2), (48, 1), (64, 2), (64, 2)]
HIDDEN = 256
OUTPUTS = 3 + 6 + 1 + 2  # pos, rot6d, gripper logit, pixel


def init_convnet(key, arch, in_ch, in_size, hidden, outputs, keypoints=0):
    import jax
    import jax.numpy as jnp

    params, state = {"conv": []}, {"conv": []}
    c, s = in_ch, in_size
    for cout, stride in arch:
        key, k = jax.random.split(key)
        w = jax.random.normal(k, (3, 3, c, cout)) * math.sqrt(2.0 / (9 * c))
        params["conv"].append({"w": w, "g": jnp.ones(cout), "b": jnp.zeros(cout)})
        state["conv"].append({"m": jnp.zeros(cout), "v": jnp.ones(cout)})
        c, s = cout, -(-s // stride)
    flat = c * s * s
    if keypoints:
        key, k = jax.random.split(key)
        params["kp"] = {"w": jax.random.normal(k, (c, keypoints)) * math.sqrt(1.0 / c), "b": jnp.zeros(keypoints)}
        flat = 2 * keypoints
    key, k1, k2 = jax.random.split(key, 3)
    params["fc1"] = {"w": jax.random.normal(k1, (flat, hidden)) * math.sqrt(2.0 / flat), "b": jnp.zeros(hidden)}
    params["fc2"] = {"w": jax.random.normal(k2, (hidden, outputs)) * math.sqrt(1.0 / hidden), "b": jnp.zeros(outputs)}
    return params, state


def apply_convnet(params, state, x, arch, train, momentum=0.9):
    """x: float N x H x W x C. Returns (outputs, new batch-norm state)."""
    import jax
    import jax.numpy as jnp

    new_state = {"conv": []}
    for p, st, (_, stride) in zip(params["conv"], state["conv"], arch):
        x = jax.lax.conv_general_dilated(x, p["w"], (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        if train:
            m = x.mean(axis=(0, 1, 2))
            v = x.var(axis=(0, 1, 2))
            new_state["conv"].append({"m": momentum * st["m"] + (1 - momentum) * m, "v": momentum * st["v"] + (1 - momentum) * v})
        else:
            m, v = st["m"], st["v"]
            new_state["conv"].append(st)
        x = (x - m) * jax.lax.rsqrt(v + 1e-5) * p["g"] + p["b"]
        x = jax.nn.relu(x)
    if "kp" in params:
        n, h, w, _ = x.shape
        logits = (x @ params["kp"]["w"] + params["kp"]["b"]).reshape(n, h * w, -1)
        prob = jax.nn.softmax(logits, axis=1)  # over the map's positions, per keypoint
        ys, xs = jnp.meshgrid(jnp.linspace(-1, 1, h), jnp.linspace(-1, 1, w), indexing="ij")
        grid = jnp.stack([xs.ravel(), ys.ravel()], 1)  # (h*w) x 2
        x = jnp.einsum("npk,pc->nkc", prob, grid).reshape(n, -1)
    else:
        x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(x @ params["fc1"]["w"] + params["fc1"]["b"])
    return x @ params["fc2"]["w"] + params["fc2"]["b"], new_state


# --------------------------------------------------------------------------- metrics


def gram_schmidt(r6: np.ndarray) -> np.ndarray:
    """N x 6 ([R[:,0], R[:,1]]) -> N x 3 x 3 rotation matrices."""
    a, b = r6[:, :3].astype(np.float64), r6[:, 3:].astype(np.float64)
    c0 = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b - (c0 * b).sum(1, keepdims=True) * c0
    c1 = b / np.linalg.norm(b, axis=1, keepdims=True)
    c2 = np.cross(c0, c1)
    return np.stack([c0, c1, c2], axis=2)


def rot_err_deg(pred6: np.ndarray, true6: np.ndarray) -> np.ndarray:
    rp, rt = gram_schmidt(pred6), gram_schmidt(true6)
    cos = (np.einsum("nij,nij->n", rp, rt) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def median_px(pix: np.ndarray, truth: np.ndarray) -> float:
    """The median distance between predicted and labelled pixels (N x 2 each) [px], rounded."""
    return round(float(np.median(np.linalg.norm(pix - truth, axis=1))), 3)


def metrics(pos, rot6, grip_open, pix, split: Split) -> dict:
    pe = np.linalg.norm(pos - split.pos, axis=1) * 100
    return {
        "pos_median_cm": round(float(np.median(pe)), 3),
        "pos_p90_cm": round(float(np.percentile(pe, 90)), 3),
        "rot_median_deg": round(float(np.median(rot_err_deg(rot6, split.rot6d))), 3),
        "gripper_acc": round(float(np.mean(grip_open == (split.gripper > 0.5))), 4),
        "pixel_median_px": median_px(pix, split.pixel),
    }


def baseline(train: Split, test: Split) -> dict:
    """The trivial predictor: the training set's median (the majority class for the gripper)."""
    n = len(test.pos)
    m = metrics(
        np.tile(np.median(train.pos, 0), (n, 1)),
        np.tile(np.median(train.rot6d, 0), (n, 1)),
        np.full(n, train.gripper.mean() >= 0.5),
        np.tile(np.median(train.pixel, 0), (n, 1)),
        test,
    )
    return {f"baseline_{k}": v for k, v in m.items()}


def adamw_warmup_cosine(*, lr: float, wd: float, total: int):
    """Both networks' optimiser: AdamW, a linear warm-up (a tenth of the steps, at most 500),
    then cosine decay to lr/100 over `total` steps."""
    import optax

    return optax.adamw(optax.warmup_cosine_decay_schedule(0.0, lr, min(500, total // 10 + 1), total, lr * 0.01), weight_decay=wd)


def network_input(x, *, standardise: bool):
    """uint8 images (N x H x W x 3) -> the networks' float32 input: pixels scaled to [-0.5, 0.5],
    or (standardise) each image shifted to zero mean and divided by its spread over pixels and
    channels plus 0.02 (so that a flat image is not blown up): a dark scene then looks much like
    a bright one (see --normalise). Numpy or JAX arrays alike (inside a jitted network)."""
    xf = x.astype(np.float32) / 255.0
    if not standardise:
        return xf - 0.5
    return (xf - xf.mean(axis=(1, 2, 3), keepdims=True)) / (xf.std(axis=(1, 2, 3), keepdims=True) + 0.02)


# --------------------------------------------------------------------------- stage 2: --refine


def crops_at(full: np.ndarray, idx, centres: np.ndarray, side: int):
    """side x side windows of full[idx] around `centres` (N x 2, image px; zero outside the
    image) and each window's origin (N x 2, image px of its top-left pixel)."""
    out = np.stack([_patch(full[i], u, v, side) for i, (u, v) in zip(idx, centres)])
    return out, (np.round(centres) - side // 2).astype(np.float32)


def in_batches(fn, arr: np.ndarray, batch: int) -> np.ndarray:
    """fn over arr in batches of `batch` rows (one compiled shape: the last batch zero-padded);
    the rows of the results, as float64."""
    outs = []
    for i in range(0, len(arr), batch):
        xb = arr[i : i + batch]
        m = len(xb)
        if m < batch:
            xb = np.concatenate([xb, np.zeros((batch - m, *xb.shape[1:]), xb.dtype)])
        outs.append(np.asarray(fn(xb))[:m])
    return np.concatenate(outs).astype(np.float64)


def train_refiner(full: np.ndarray, pixel: np.ndarray, *, side: int, jitter: float, epochs: int, batch: int,
                  lr: float, wd: float, seed: int, standardise: bool, log):
    """Train a network that finds the TCP in a side x side full-resolution window placed near
    it (at the labelled pixel moved by a Gaussian offset of `jitter` px per axis, clipped to
    +-(side/2 - 4) so that the TCP stays inside: the first network's error at test time);
    `standardise`: each window at zero mean and unit spread (network_input).
    Returns refine(full, centres) -> pixels (N x 2, image px)."""
    import jax
    import optax

    arch = KP_ARCH
    params, bn = init_convnet(jax.random.PRNGKey(seed + 7), arch, 3, side, HIDDEN, 2, KEYPOINTS)
    steps = len(full) // batch
    total = steps * epochs
    opt = adamw_warmup_cosine(lr=lr, wd=wd, total=total)
    opt_state = opt.init(params)
    scale = side / 4.0  # offsets standardised to about unit size

    def net(params, bn, x, train_mode):
        return apply_convnet(params, bn, network_input(x, standardise=standardise), arch, train_mode)

    def loss_fn(params, bn, x, y):
        out, new_bn = net(params, bn, x, True)
        return optax.huber_loss(out, y).mean(), new_bn

    @jax.jit
    def step(params, bn, opt_state, x, y):
        (loss, new_bn), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, bn, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_bn, opt_state, loss

    rng = np.random.default_rng(seed + 7)
    limit = side / 2 - 4  # the TCP stays inside the window while training
    for epoch in range(epochs):
        te = time.perf_counter()
        order = rng.permutation(len(full))
        losses = []
        for b in range(steps):
            idx = np.sort(order[b * batch : (b + 1) * batch])
            offset = np.clip(rng.normal(0.0, jitter, (len(idx), 2)), -limit, limit)
            x, origin = crops_at(full, idx, pixel[idx] + offset, side)
            y = (pixel[idx] - origin - side / 2) / scale
            params, bn, opt_state, loss = step(params, bn, opt_state, x, y.astype(np.float32))
            losses.append(loss)
        log(f"probe: refine epoch {epoch + 1}/{epochs}  loss {float(np.mean(jax.device_get(losses))):.4f}  {time.perf_counter() - te:.0f} s")

    predict = jax.jit(lambda params, bn, x: net(params, bn, x, False)[0])

    def refine(full_images: np.ndarray, centres: np.ndarray) -> np.ndarray:
        x, origin = crops_at(full_images, range(len(full_images)), centres, side)
        # float32 arithmetic, as the network's output: the README's rows reproduce to the digit
        offsets = in_batches(lambda xb: predict(params, bn, xb), x, batch).astype(np.float32)
        return (offsets * scale + side / 2 + origin).astype(np.float64)

    return refine


# --------------------------------------------------------------------------- training


def run(args) -> dict:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        import jax
        import optax
    except ImportError:
        raise SystemExit("probe: needs JAX and optax: pip install -e '.[probe]'") from None

    t0 = time.perf_counter()
    root = Path(args.dataset)
    shards = dataset_shards(root)
    pool = ThreadPoolExecutor(max(1, args.threads))
    tcp = args.tcp_crop

    # ---- the split: --test sets, or held-out shards of DATASET
    # --refine-n: the windows may train on more samples than the first network
    n_read = None if args.n is None else max(args.n, args.refine_n or 0)
    if args.test:
        train_recs = read_records(shards, args.camera, n_read)
        tests_recs = [(t, read_records(dataset_shards(Path(t)), args.camera, args.n_test)) for t in args.test]
    elif len(shards) > 1:
        k = max(1, round(len(shards) * args.test_fraction))
        train_recs = read_records(shards[:-k], args.camera, n_read)
        tests_recs = [(f"{root} (held-out shards: {k} of {len(shards)})", read_records(shards[-k:], args.camera, args.n_test))]
    else:
        recs = read_records(shards, args.camera)
        k = max(1, round(len(recs) * args.test_fraction))
        train_recs = recs[:-k][:n_read]
        tests_recs = [(f"{root} (held-out samples: last {k})", recs[-k:][: args.n_test])]
    if args.shuffle_labels:
        # A control: the same images with labels of other samples. It should learn nothing.
        perm = np.random.default_rng(args.seed + 1).permutation(len(train_recs))
        train_recs = [(train_recs[i][0], train_recs[j][1]) for i, j in enumerate(perm)]

    n_first = len(train_recs) if args.n is None else min(args.n, len(train_recs))
    n_windows = n_first if args.refine_n is None else min(args.refine_n, len(train_recs))
    pos_tr, _, _, pix_tr, hw = labels_of([r[1] for r in train_recs[:n_first]], args.camera)
    roi = choose_roi(pix_tr, hw, args.roi)
    _log(f"probe: {n_first} training samples, camera {args.camera}, image {hw[1]}x{hw[0]}, roi {roi} -> {args.size}px"
         + (f"; the windows train on {n_windows}" if args.refine and n_windows != n_first else ""))
    bs = args.batch
    for count, what in ((n_first, "training samples"), (n_windows if args.refine else bs, "samples for the --refine windows")):
        if count < bs:  # before decoding anything
            raise SystemExit(f"probe: {count} {what} is fewer than one batch ({bs})")
    # Training patches for --tcp-crop: cut larger around the labelled pixel, and randomly
    # cropped to tcp x tcp per batch (a jitter like the pixel head's own error).
    train = load_split("train", train_recs, args.camera, args.size, roi, pool, patch=tcp + 2 * args.tcp_jitter if tcp else 0, keep_full=bool(args.refine))
    del train_recs
    decoded = len(train.images)
    cached = sum(a.nbytes for a in (train.images, train.patches, train.full) if a is not None)
    windows = head(train, n_windows) if args.refine else None
    train = head(train, n_first)
    tests = []
    for name, recs in tests_recs:
        s = load_split(name, recs, args.camera, args.size, roi, pool, keep_raw=bool(tcp), keep_full=bool(args.refine))
        if s.image_hw != hw:
            raise SystemExit(f"probe: {name}: camera {args.camera!r} images are {s.image_hw}, the training set's are {hw}")
        tests.append(s)
    del tests_recs
    t_load = time.perf_counter() - t0
    _log(f"probe: decoded {decoded} + {sum(len(t.images) for t in tests)} images in {t_load:.0f} s ({cached / 2**20:.0f} MiB of training images cached)")

    # ---- targets, standardised with training statistics
    pos_mu, pos_sd = train.pos.mean(0), train.pos.std(0) + 1e-6
    pix_mu, pix_sd = train.pixel.mean(0), train.pixel.std(0) + 1e-3

    # --frame camera: the first three outputs are the TCP's pixel and depth instead, and
    # the base-frame position is back-projected through each sample's K and T_base_cam.
    uvz_mu = np.r_[pix_mu, train.depth.mean()]
    uvz_sd = np.r_[pix_sd, train.depth.std() + 1e-6]

    def targets(s: Split) -> np.ndarray:
        first = (np.c_[s.pixel, s.depth] - uvz_mu) / uvz_sd if args.frame == "camera" else (s.pos - pos_mu) / pos_sd
        return np.concatenate([first, s.rot6d * 2.0, s.gripper[:, None], (s.pixel - pix_mu) / pix_sd], 1).astype(np.float32)

    y_train = targets(train)

    key = jax.random.PRNGKey(args.seed)
    key, k1, k2 = jax.random.split(key, 3)
    params, bn = {}, {}
    arch, keypoints = ARCHS[args.arch]
    params["main"], bn["main"] = init_convnet(k1, arch, 3, args.size, HIDDEN, OUTPUTS, keypoints)
    if tcp:
        params["patch"], bn["patch"] = init_convnet(k2, PATCH_ARCH, 3, tcp, 128, 1)

    steps_per_epoch = len(train.images) // bs
    total = steps_per_epoch * args.epochs
    opt = adamw_warmup_cosine(lr=args.lr, wd=args.wd, total=total)
    opt_state = opt.init(params)

    whole = args.normalise == "all"  # the camera image and the patch standardised too (the windows: train_refiner)

    def main_net(params, bn, x, train_mode):
        return apply_convnet(params["main"], bn["main"], network_input(x, standardise=whole), arch, train_mode)

    def patch_net(params, bn, p, train_mode):
        g, new = apply_convnet(params["patch"], bn["patch"], network_input(p, standardise=whole), PATCH_ARCH, train_mode)
        return g[:, 0], new

    def loss_fn(params, bn, x, p, y):
        out, new_main = main_net(params, bn, x, True)
        new_bn = {"main": new_main}
        loss = optax.huber_loss(out[:, :3], y[:, :3]).mean() * 3 + optax.huber_loss(out[:, 3:9], y[:, 3:9]).mean() * 3
        loss += optax.huber_loss(out[:, 10:12], y[:, 10:12]).mean() * 2
        loss += optax.sigmoid_binary_cross_entropy(out[:, 9], y[:, 9]).mean()
        if tcp:
            g, new_bn["patch"] = patch_net(params, bn, p, True)
            loss += optax.sigmoid_binary_cross_entropy(g, y[:, 9]).mean()
        return loss, new_bn

    @jax.jit
    def step(params, bn, opt_state, x, p, y):
        (loss, new_bn), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, bn, x, p, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_bn, opt_state, loss

    predict_main = jax.jit(lambda params, bn, x: main_net(params, bn, x, False)[0])
    predict_patch = jax.jit(lambda params, bn, p: patch_net(params, bn, p, False)[0])

    def batched(fn, arr):
        return in_batches(lambda xb: fn(params, bn, xb), arr, bs)

    refiners = []  # --refine: one per window, set once trained

    def evaluate(s: Split) -> dict:
        # stage 1: everything from the camera image
        out = batched(predict_main, s.images)
        extra = {}
        if args.frame == "camera":
            uvz = out[:, :3] * uvz_sd + uvz_mu
            pix = uvz[:, :2]
            if refiners:
                # the cascade: each window twice, at the pixel so far and then at its own result
                extra["pixel_median_px_stage1"] = median_px(pix, s.pixel)
                after = []
                for refine in refiners:
                    pix = refine(s.full, refine(s.full, pix))
                    after.append(median_px(pix, s.pixel))
                extra["pixel_median_px_windows"] = after  # after each window of the cascade
            pos = backproject(pix, uvz[:, 2], s.K, s.T_base_cam)
            extra["depth_median_cm"] = round(float(np.median(np.abs(uvz[:, 2] - s.depth) * 100)), 3)
            extra["baseline_depth_median_cm"] = round(float(np.median(np.abs(np.median(train.depth) - s.depth) * 100)), 3)
        else:
            pos = out[:, :3] * pos_sd + pos_mu
            pix = out[:, 10:12] * pix_sd + pix_mu
        m = metrics(pos, out[:, 3:9] / 2.0, out[:, 9] > 0, pix, s)
        predictions[s.name] = {"pos": pos, "pixel": pix, **({"depth": uvz[:, 2]} if args.frame == "camera" else {})}
        m["gripper_acc_image"] = m["gripper_acc"]
        m.update(extra)
        if tcp:
            # stage 2: the gripper from a full-resolution patch around the *predicted* TCP
            # pixel; around the labelled pixel as an upper bound (it reads a held-out label)
            g = batched(predict_patch, cut_patches(s.raw, pix, tcp, pool))
            m["gripper_acc"] = round(float(np.mean((g > 0) == (s.gripper > 0.5))), 4)
            g = batched(predict_patch, cut_patches(s.raw, s.pixel, tcp, pool))
            m["gripper_acc_patch_at_label"] = round(float(np.mean((g > 0) == (s.gripper > 0.5))), 4)
        return m

    predictions = {}  # test set -> predicted arrays (--save-predictions)
    rng = np.random.default_rng(args.seed)
    t_train0, c_train0 = time.perf_counter(), time.process_time()
    t_eval = c_eval = 0.0  # --eval-every's evaluations, left out of the training time
    for epoch in range(args.epochs):
        te = time.perf_counter()
        order = rng.permutation(len(train.images))
        losses = []
        for b in range(steps_per_epoch):
            idx = np.sort(order[b * bs : (b + 1) * bs])
            if tcp:
                ox, oy = rng.integers(0, 2 * args.tcp_jitter + 1, size=2)
                pb = train.patches[idx, oy : oy + tcp, ox : ox + tcp]
            else:
                pb = np.zeros((bs, 1, 1, 3), np.uint8)
            params, bn, opt_state, loss = step(params, bn, opt_state, train.images[idx], pb, y_train[idx])
            losses.append(loss)
        loss = float(np.mean(jax.device_get(losses)))
        msg = f"probe: epoch {epoch + 1}/{args.epochs}  loss {loss:.4f}  {time.perf_counter() - te:.0f} s"
        if args.eval_every and ((epoch + 1) % args.eval_every == 0) and epoch + 1 < args.epochs:
            tv, cv = time.perf_counter(), time.process_time()
            m = evaluate(tests[0])
            t_eval, c_eval = t_eval + time.perf_counter() - tv, c_eval + time.process_time() - cv
            msg += f"  held-out: pos {m['pos_median_cm']:.2f} cm, rot {m['rot_median_deg']:.1f} deg, gripper {m['gripper_acc']:.3f}, pixel {m['pixel_median_px']:.2f} px"
        _log(msg)
    for k, (side, jitter, epochs) in enumerate(zip(args.refine, args.refine_jitter, args.refine_epochs)):
        refiners.append(train_refiner(windows.full, windows.pixel, side=side, jitter=jitter, epochs=epochs, batch=bs, lr=args.lr,
                                      wd=args.wd, seed=args.seed + 7 * k, standardise=args.normalise != "none", log=_log))
    t_train = time.perf_counter() - t_train0 - t_eval
    c_train = time.process_time() - c_train0 - c_eval

    results = []
    for s in tests:
        m = evaluate(s)
        results.append({"test": s.name, "samples": len(s.images), **m, **baseline(train, s)})
    first = {k: v for k, v in results[0].items() if k not in ("test",)}
    if args.save_predictions:
        np.savez(args.save_predictions, **{f"{i}_{k}": v for i, s in enumerate(tests) for k, v in predictions[s.name].items()})
    report = {
        **first,
        "train": str(root),
        "train_samples": len(train.images),
        "camera": args.camera,
        "size": args.size,
        "roi": list(roi),
        "arch": args.arch,
        "frame": args.frame,
        "refine": list(args.refine),
        "refine_jitter": list(args.refine_jitter),
        "refine_epochs": list(args.refine_epochs),
        "refine_samples": len(windows.full) if args.refine else 0,
        "normalise": args.normalise,
        "tcp_crop": tcp,
        "tcp_jitter": args.tcp_jitter if tcp else 0,
        "epochs": args.epochs,
        "batch": bs,
        "seed": args.seed,
        "shuffled_labels": bool(args.shuffle_labels),
        "train_seconds": round(t_train, 1),
        # CPU time of this process while training (all its threads): on a shared machine
        # the wall time above depends on the neighbours, this much less.
        "train_cpu_seconds": round(c_train, 1),
        "load_seconds": round(t_load, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "tests": results,
    }
    return report


def _numbers(ap, flag: str, text: str, kind, what: str):
    """A comma-separated option as a tuple (empty for an empty string), or exit 2."""
    try:
        return tuple(kind(x) for x in text.split(",")) if text.strip() else ()
    except ValueError:
        ap.error(f"{flag} {text}: expected comma-separated {what}, e.g. {'64,32' if kind is int else '24,8'}")


def refine_options(ap, args) -> None:
    """Parse --refine, --refine-jitter and --refine-epochs in place into tuples of one entry per
    window (the defaults filled in), or stop with exit 2 and the reason."""
    sides = _numbers(ap, "--refine", args.refine, int, "whole numbers")
    sides = () if sides == (0,) else sides  # "--refine 0": none, as before the cascade
    jitter = _numbers(ap, "--refine-jitter", args.refine_jitter, float, "numbers")
    epochs = _numbers(ap, "--refine-epochs", args.refine_epochs, int, "whole numbers")
    if sides and args.frame != "camera":
        ap.error("--refine refines the TCP pixel that --frame camera back-projects: add --frame camera")
    if not sides and (jitter or epochs or args.refine_n is not None):
        ap.error("--refine-jitter, --refine-epochs and --refine-n set the --refine windows: add --refine PX[,PX...]")
    if args.refine_n is not None and args.refine_n < args.batch:
        ap.error(f"--refine-n {args.refine_n}: expected at least one batch of samples (--batch {args.batch})")
    if any(s < 16 for s in sides):
        ap.error(f"--refine {args.refine}: expected windows of at least 16 px each (64,32 for 224 px images), or 0 for none")
    for flag, values in (("--refine-jitter", jitter), ("--refine-epochs", epochs)):
        if values and len(values) != len(sides):
            ap.error(f"{flag}: expected {len(sides)} value(s), one per --refine window ({args.refine}), got {len(values)}")
    if not all(math.isfinite(j) and j >= 0 for j in jitter):
        ap.error(f"--refine-jitter {args.refine_jitter}: expected offsets of 0 px or more")
    if any(e < 1 for e in epochs):
        ap.error(f"--refine-epochs {args.refine_epochs}: expected at least 1 epoch per window")
    args.refine = sides
    args.refine_jitter = jitter or tuple(24.0 if k == 0 else s / 4 for k, s in enumerate(sides))
    args.refine_epochs = epochs or (args.epochs,) * len(sides)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", help="a statgen dataset folder to train on")
    ap.add_argument("--test", action="append", default=[], help="a dataset to test on (repeatable); default: held-out shards of DATASET")
    ap.add_argument("--n", type=int, default=None, help="use at most N training samples (the first N, in shard order)")
    ap.add_argument("--n-test", type=int, default=5000, help="at most this many samples per test set (default 5000)")
    ap.add_argument("--test-fraction", type=float, default=0.1, help="fraction of shards held out without --test (default 0.1)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--size", type=int, default=112, help="input side in pixels (default 112)")
    ap.add_argument("--camera", default="front")
    ap.add_argument("--arch", choices=tuple(ARCHS), default="flat", help="flat (default: the last map flattened) or keypoints (a spatial soft-argmax)")
    ap.add_argument("--frame", choices=("base", "camera"), default="base", help="base (default: regress the base-frame position) or camera (regress the TCP pixel and depth, and back-project them through each sample's stored K and T_base_cam)")
    ap.add_argument("--refine", default="", metavar="PX[,PX...]", help="(with --frame camera) networks that find the TCP in PX x PX full-resolution windows, a cascade: each at the pixel before it (default: none)")
    ap.add_argument("--refine-jitter", default="", metavar="PX[,PX...]", help="each window's training offsets: Gaussian, this many px per axis, clipped to +-(PX/2 - 4) (default: 24 for the first window, a quarter of the side for the later ones)")
    ap.add_argument("--refine-n", type=int, default=None, metavar="N", help="(with --refine) the windows train on at most N training samples, the first N in shard order (default: the first network's, --n)")
    ap.add_argument("--refine-epochs", default="", metavar="E[,E...]", help="each window's training epochs (default: --epochs for each)")
    ap.add_argument("--normalise", choices=("windows", "all", "none"), default="windows", help="windows (default): each --refine window reaches its network at zero mean and unit spread; all: the camera image and --tcp-crop patch too; none: pixels scaled to [-0.5, 0.5] only")
    ap.add_argument("--save-predictions", default="", metavar="NPZ", help="save each test set's predictions (keys <set index>_pos and _pixel; _depth with --frame camera)")
    ap.add_argument("--roi", default="full", help="full (default: the whole image, centre-cropped to a square), auto (a fixed crop around the training TCP pixels), or x0,y0,x1,y1")
    ap.add_argument("--tcp-crop", type=int, default=0, metavar="PX", help="add a PX x PX full-resolution patch around the TCP pixel for the gripper (0: off)")
    ap.add_argument("--tcp-jitter", type=int, default=0, help="training jitter of the TCP patch, in pixels (default 0: 8 px kept the patch network at chance)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="threads decoding JPEGs (default 2)")
    ap.add_argument("--eval-every", type=int, default=0, help="also report held-out numbers every K epochs (0: only at the end)")
    ap.add_argument("--shuffle-labels", action="store_true", help="a control: train on labels shuffled across samples")
    args = ap.parse_args(argv)
    if args.epochs < 1:
        ap.error(f"--epochs {args.epochs}: expected at least 1")
    refine_options(ap, args)
    report = run(args)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
