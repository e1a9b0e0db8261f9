"""`statgen preview`: a contact sheet drawn from the stored labels only (no simulator)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np

from statgen.core.camera import project
from statgen.core.geometry import make_T, quat_wxyz_to_R
from statgen.errors import ConfigError, VerifyError
from statgen.schema import Sample, SchemaError
from statgen.storage.fs import Store
from statgen.storage.read import iter_shard, read_dataset_json

AXIS_LEN_M = 0.06
TILE_SCALE = 2
MAX_COUNT = 256  # tiles on one sheet: 16 x 16 tiles of a 224x224 camera is a 7168x7168 image (150 MiB in memory)
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}  # --out's extension: PIL's format
AXIS_COLOURS = ((230, 40, 40), (40, 200, 40), (60, 110, 255))  # x red, y green, z blue


def _draw_sample(sample: Sample, image_bytes: bytes, camera: str):
    from PIL import Image, ImageDraw

    im = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    W, H = im.size
    im = im.resize((W * TILE_SCALE, H * TILE_SCALE), Image.NEAREST)
    d = ImageDraw.Draw(im)
    c = sample.cameras[camera]
    K, T_world_cam = np.array(c.K), np.array(c.T_world_cam)
    st = sample.state
    T_world_ee = np.array(sample.T_world_base) @ make_T(quat_wxyz_to_R(st.ee_quat_wxyz), np.array(st.ee_pos))
    s = TILE_SCALE

    def px(p):  # pixel centre (u, v) → canvas coordinates of the scaled tile
        return ((p[0] + 0.5) * s - 0.5, (p[1] + 0.5) * s - 0.5)

    origin = project(K=K, T_world_cam=T_world_cam, p_world=T_world_ee[:3, 3]).pixel
    if origin is not None:
        for axis, colour in enumerate(AXIS_COLOURS):
            tip = project(K=K, T_world_cam=T_world_cam, p_world=T_world_ee[:3, 3] + AXIS_LEN_M * T_world_ee[:3, axis]).pixel
            if tip is not None:
                d.line([px(origin), px(tip)], fill=colour, width=3)
    if c.ee_pixel is not None:
        u, v = px(c.ee_pixel)
        r = 5
        d.ellipse([u - r, v - r, u + r, v + r], outline=(255, 255, 0), width=2)
    caption = f"#{sample.index} {'open' if st.gripper_open else 'closed'} {'visible' if c.ee_visible else 'occluded'}"
    d.rectangle([0, 0, im.size[0], 14], fill=(0, 0, 0))
    d.text((3, 1), caption, fill=(255, 255, 255))
    d.rectangle([0, im.size[1] - 14, im.size[0], im.size[1]], fill=(0, 0, 0))
    d.text((3, im.size[1] - 13), sample.text["rosa"].answer if "rosa" in sample.text else "", fill=(255, 255, 0))
    return im


def _check_out(out: Path) -> str:
    """The PIL format for --out; a ConfigError when it cannot be written as an image file."""
    valid = ", ".join(FORMATS)
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; expected an image file name ending in {valid} (e.g. {out / 'preview.png'})")
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(f"--out {out}: expected an image file name ending in {valid}, got {repr(out.suffix) if out.suffix else 'no extension'}")
    for parent in out.absolute().parents:  # the nearest existing ancestor must be a folder we can write in
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {out}: {parent} is a file, not a folder")
            _check_writable(out, parent)
            break
    return fmt


def _check_writable(out: Path, folder: Path) -> None:
    """Create (and remove at once) a hidden file, or for a folder still to be made a hidden folder,
    in `folder`: the one test that holds for root and for /proc, /sys or a read-only mount."""
    probe = folder / f".{out.name}.{os.getpid()}.probe"
    try:
        if folder == out.absolute().parent:
            os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            probe.unlink()
        else:
            probe.mkdir()
            probe.rmdir()
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot write in {folder} ({e.strerror or type(e).__name__}); "
                          "choose a folder you can write to") from None


def _save(sheet, out: Path, fmt: str) -> None:
    """Write the sheet under a hidden temporary name, then rename it: a failed write leaves nothing half-written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        sheet.save(tmp, format=fmt)
        os.replace(tmp, out)
    except OSError as e:  # named by --out, not by the hidden temporary
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror or str(e), str(out)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _open(root: str | Path, *, out: Path, count: int, unit: str):
    """The checks every preview makes before reading a shard (`count` in 1..MAX_COUNT `unit`, `out`'s
    format), then the dataset: (out, format, store, DatasetInfo)."""
    if not 1 <= count <= MAX_COUNT:
        raise ConfigError(f"--count: expected 1 to {MAX_COUNT} {unit}, got {count}")
    out = Path(out)
    fmt = _check_out(out)
    store = Store.open(str(root))
    return out, fmt, store, read_dataset_json(store, damaged=VerifyError)


def _grid(tiles: list, *, cols: int):
    """The tiles (PIL images of one size) in rows of `cols`, on a dark ground."""
    from PIL import Image

    rows = int(np.ceil(len(tiles) / cols))
    tw, th = tiles[0].size
    sheet = Image.new("RGB", (cols * tw, rows * th), (20, 20, 20))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % cols) * tw, (i // cols) * th))
    return sheet


def contact_sheet(root: str | Path, *, out: Path, count: int = 16, camera: str = "front") -> Path:
    """Write a grid of `count` (1..MAX_COUNT) samples spread over the dataset, with the TCP and its axes drawn.

    `out` ends in .png, .jpg, .jpeg or .webp. The arguments are checked before any shard is read.
    """
    out, fmt, store, ds = _open(root, out=out, count=count, unit="samples (tiles on one sheet)")
    sheet = sheet_image(store, ds, count=count, camera=camera)
    _save(sheet, out, fmt)
    return out


def sheet_image(store: Store, ds, *, count: int = 16, camera: str = "front"):
    """The contact sheet of the dataset that `ds` (its DatasetInfo) describes, as a PIL image: `count`
    samples spread over it. The dataset card draws it before dataset.json is written."""
    root = store.uri
    cameras, image = list(ds.config.cameras), f"{camera}.{ds.config.image_format}"
    total, shards = ds.samples, [(s.name, s.first_index, s.samples) for s in ds.shards]
    if camera not in cameras:
        raise ConfigError(f"--camera {camera}: not in this dataset; valid: {', '.join(cameras)}")
    wanted = set(np.linspace(0, total - 1, min(count, total)).astype(int).tolist()) if total > 0 else set()
    tiles = []
    for name, lo, n in shards:
        if not any(lo <= w < lo + n for w in wanted):
            continue
        key = None
        try:
            for key, fields in iter_shard(store, name):
                if key.isdigit() and int(key) in wanted:
                    if image not in fields or "json" not in fields:
                        raise VerifyError(f"{name}: sample {key} lacks {image} or json; run `statgen verify {store.uri}`")
                    sample = Sample.from_json(json.loads(fields["json"]))
                    if camera not in sample.cameras:
                        raise VerifyError(f"{name}: sample {key} has no labels for camera {camera!r}; run `statgen verify {store.uri}`")
                    tiles.append(_draw_sample(sample, fields[image], camera))
        except (tarfile.TarError, EOFError, OSError, ValueError, KeyError, TypeError, IndexError, SchemaError) as e:
            where = f"near sample {key}" if key else "at its start"
            raise VerifyError(f"{name}: unreadable {where} ({type(e).__name__}); run `statgen verify {store.uri}`") from None
    if not tiles:
        raise ConfigError(f"{root}: no samples to preview")
    sheet = _grid(tiles, cols=int(np.ceil(np.sqrt(len(tiles)))))
    return sheet


PATH_COLOUR = (0, 255, 255)  # the episode's TCP path
STRIP_COLS = 5


def episode_strip(root: str | Path, *, out: Path, episode: int, count: int = 10, camera: str = "front") -> Path:
    """Write a strip of `count` frames spread over episode `episode` of a trajectory dataset, each with the whole
    episode's TCP path (every step's TCP from its stored labels, projected through this frame's camera) drawn
    over it, the steps already taken solid and the rest thin, plus the TCP and its axes as in the contact sheet."""
    from PIL import ImageDraw

    out, fmt, store, ds = _open(root, out=out, count=count, unit="frames")
    t = ds.config.trajectory
    if t.mode != "trajectory":
        raise ConfigError(f"--episode: {root} was made with --mode independent (no episodes); preview it without --episode")
    episodes = ds.samples // t.steps
    if not 0 <= episode < episodes:
        raise ConfigError(f"--episode {episode}: expected 0 to {episodes - 1} ({episodes} episodes of {t.steps} steps)")
    if camera not in ds.config.cameras:
        raise ConfigError(f"--camera {camera}: not in this dataset; valid: {', '.join(ds.config.cameras)}")
    image = f"{camera}.{ds.config.image_format}"
    lo = episode * t.steps
    shard = next(s for s in ds.shards if s.first_index <= lo < s.first_index + s.samples)
    samples: dict[int, tuple[Sample, bytes]] = {}
    try:
        for key, fields in iter_shard(store, shard.name):
            if key.isdigit() and lo <= int(key) < lo + t.steps:
                samples[int(key)] = (Sample.from_json(json.loads(fields["json"])), fields[image])
    except (tarfile.TarError, EOFError, OSError, ValueError, KeyError, TypeError, IndexError, SchemaError) as e:
        raise VerifyError(f"{shard.name}: unreadable ({type(e).__name__}); run `statgen verify {store.uri}`") from None
    if len(samples) != t.steps:
        raise VerifyError(f"{shard.name}: episode {episode} has {len(samples)} of {t.steps} steps; run `statgen verify {store.uri}`")
    order = [samples[i][0] for i in range(lo, lo + t.steps)]
    p_world = [(np.array(s.T_world_base) @ np.append(s.state.ee_pos, 1.0))[:3] for s in order]
    picks = sorted(set(np.linspace(0, t.steps - 1, min(count, t.steps)).astype(int).tolist()))
    tiles = []
    for k in picks:
        sample, img = samples[lo + k]
        tile = _draw_sample(sample, img, camera)
        c = sample.cameras[camera]
        K, T = np.array(c.K), np.array(c.T_world_cam)
        pts = [project(K=K, T_world_cam=T, p_world=p).pixel for p in p_world]
        d = ImageDraw.Draw(tile)
        sc = TILE_SCALE
        xy = [((u + 0.5) * sc - 0.5, (v + 0.5) * sc - 0.5) if (u is not None) else None for u, v in
              ((p[0], p[1]) if p is not None else (None, None) for p in pts)]
        for j in range(len(xy) - 1):
            if xy[j] is not None and xy[j + 1] is not None:
                d.line([xy[j], xy[j + 1]], fill=PATH_COLOUR, width=3 if j < k else 1)
        d.rectangle([0, 14, tile.size[0], 28], fill=(0, 0, 0))
        d.text((3, 15), f"episode {episode} step {k}/{t.steps - 1} t={k / t.hz:.1f} s", fill=PATH_COLOUR)
        tiles.append(tile)
    sheet = _grid(tiles, cols=min(STRIP_COLS, len(tiles)))
    _save(sheet, out, fmt)
    return out
