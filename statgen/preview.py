"""`statgen preview`: a contact sheet drawn from the stored labels only (no simulator)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from statgen.core.camera import project
from statgen.core.geometry import make_T, quat_wxyz_to_R
from statgen.errors import ConfigError, VerifyError
from statgen.storage.fs import Store
from statgen.storage.read import iter_shard, read_dataset_json

AXIS_LEN_M = 0.06
TILE_SCALE = 2
AXIS_COLOURS = ((230, 40, 40), (40, 200, 40), (60, 110, 255))  # x red, y green, z blue


def _draw_sample(sample: dict, image_bytes: bytes, camera: str):
    from PIL import Image, ImageDraw

    im = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    W, H = im.size
    im = im.resize((W * TILE_SCALE, H * TILE_SCALE), Image.NEAREST)
    d = ImageDraw.Draw(im)
    c = sample["cameras"][camera]
    K, T_world_cam = np.array(c["K"]), np.array(c["T_world_cam"])
    st = sample["state"]
    T_world_ee = np.array(sample["T_world_base"]) @ make_T(quat_wxyz_to_R(st["ee_quat_wxyz"]), np.array(st["ee_pos"]))
    s = TILE_SCALE

    def px(p):  # pixel centre (u, v) → canvas coordinates of the scaled tile
        return ((p[0] + 0.5) * s - 0.5, (p[1] + 0.5) * s - 0.5)

    origin = project(K=K, T_world_cam=T_world_cam, p_world=T_world_ee[:3, 3]).pixel
    if origin is not None:
        for axis, colour in enumerate(AXIS_COLOURS):
            tip = project(K=K, T_world_cam=T_world_cam, p_world=T_world_ee[:3, 3] + AXIS_LEN_M * T_world_ee[:3, axis]).pixel
            if tip is not None:
                d.line([px(origin), px(tip)], fill=colour, width=3)
    if c["ee_pixel"] is not None:
        u, v = px(c["ee_pixel"])
        r = 5
        d.ellipse([u - r, v - r, u + r, v + r], outline=(255, 255, 0), width=2)
    caption = f"#{sample['index']} {'open' if st['gripper_open'] else 'closed'} {'visible' if c['ee_visible'] else 'occluded'}"
    d.rectangle([0, 0, im.size[0], 14], fill=(0, 0, 0))
    d.text((3, 1), caption, fill=(255, 255, 255))
    d.rectangle([0, im.size[1] - 14, im.size[0], im.size[1]], fill=(0, 0, 0))
    d.text((3, im.size[1] - 13), sample["text"]["rosa"]["answer"], fill=(255, 255, 0))
    return im


def contact_sheet(root: str | Path, *, out: Path, count: int = 16, camera: str = "front") -> Path:
    """Write a grid of `count` samples spread over the dataset, with the TCP and its axes drawn."""
    from PIL import Image

    store = Store.open(str(root))
    ds = read_dataset_json(store)
    cfg = ds["config"]
    if camera not in cfg["cameras"]:
        raise ConfigError(f"--camera {camera}: not in this dataset; valid: {', '.join(cfg['cameras'])}")
    if count < 1:
        raise ConfigError(f"--count: expected a positive integer, got {count}")
    total = ds["samples"]
    wanted = sorted(set(np.linspace(0, total - 1, min(count, total)).astype(int).tolist()))
    tiles = []
    for s in ds["shards"]:
        lo, hi = s["first_index"], s["first_index"] + s["samples"]
        if not any(lo <= w < hi for w in wanted):
            continue
        for key, fields in iter_shard(store, s["name"]):
            if int(key) in wanted:
                image = fields.get(f"{camera}.{cfg['image_format']}")
                if image is None or "json" not in fields:
                    raise VerifyError(f"{s['name']}: sample {key} lacks {camera}.{cfg['image_format']} or json; run `statgen verify`")
                tiles.append(_draw_sample(json.loads(fields["json"]), image, camera))
    if not tiles:
        raise ConfigError(f"{root}: no samples to preview")
    cols = int(np.ceil(np.sqrt(len(tiles))))
    rows = int(np.ceil(len(tiles) / cols))
    tw, th = tiles[0].size
    sheet = Image.new("RGB", (cols * tw, rows * th), (20, 20, 20))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * tw, (i // cols) * th))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
