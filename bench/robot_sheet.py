"""docs/robots.png: one sample of each shipped robot (front camera, the TCP and its axes drawn from the labels).

Usage:  MUJOCO_GL=egl MENAGERIE_ROOT=../shared/assets/menagerie python bench/robot_sheet.py [--out docs/robots.png]

Each robot's first sample of shard 0 (seed 0, the default randomisation, the TCP required visible)
is made in-process by statgen's ShardProducer, then drawn as `statgen preview` draws a tile,
with the robot's name as its caption.
"""

from __future__ import annotations

import argparse
import tarfile
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from statgen.config import available, build_config, load_robot, load_task
from statgen.preview import _draw_sample
from statgen.run.job import Job, ShardPlan
from statgen.run.producer import ShardProducer
from statgen.schema import Sample
from statgen.sim.assets import resolve_model, simplify_for

COLUMNS = 5


def tile(name: str, tmp: Path) -> Image.Image:
    import json

    from statgen.config import resolve_render

    robot = load_robot(name)
    cfg = build_config({"robot": name, "n": 1, "require_visible": True})
    model = simplify_for(resolve_model(robot), resolve_render(cfg.render, robot))
    producer = ShardProducer(Job(config=cfg, robot=robot, task=load_task(cfg.task), model=model))
    try:
        producer.produce(ShardPlan(shard=0, first_index=0, count=1), tmp / name)
    finally:
        producer.close()
    with tarfile.open(tmp / name / "shards/statgen-000000.tar") as tf:
        sample = Sample.from_json(json.loads(tf.extractfile("000000000.json").read()))
        im = _draw_sample(sample, tf.extractfile("000000000.front.jpg").read(), "front")
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, im.size[0], 14], fill=(0, 0, 0))
    d.text((3, 1), f"{name}: {robot.description.split(',')[0]}", fill=(255, 255, 255))
    return im


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/robots.png")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tiles = [tile(n, Path(tmp)) for n in available("robots")]
    w, h = tiles[0].size
    rows = -(-len(tiles) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * w, rows * h))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % COLUMNS) * w, (i // COLUMNS) * h))
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
