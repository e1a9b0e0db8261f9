"""`statgen robots init`: a draft TOML from a model file alone, which generates and verifies at once.

Independent truths: the shipped robots' TOMLs, written by hand from measurements (notes in
robots/*.toml): the draft must find the same arm joints and gripper drivers, fingertips that open
as wide, a TCP near the hand-placed one; and statgen.verify on a dataset generated from the draft.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import mujoco
import numpy as np
import pytest
from conftest import assert_one_line, make_scene

from statgen.cli import main
from statgen.config import RenderSettings, build_config, load_robot, load_task
from statgen.sim.assets import resolve_model
from statgen.sim.scene import build_scene, set_configuration
from statgen.verify import verify

MENAGERIE = Path(os.environ.get("MENAGERIE_ROOT", Path(__file__).resolve().parents[2] / "shared/assets/menagerie"))
F85 = MENAGERIE / "robotiq_2f85"
# shipped robot -> (arm model file, --gripper or None); the shipped TOML is not used by init
CASES = {
    "ur5e": (MENAGERIE / "universal_robots_ur5e/ur5e.xml", F85),
    "wxai": (MENAGERIE / "trossen_wxai/wxai_follower.xml", None),
    "so101": (MENAGERIE / "robotstudio_so101/so101_new_calib.xml", None),
    "vx300s": (MENAGERIE / "trossen_vx300s/vx300s.xml", None),
}
N = {"ur5e": 100}  # the "init -> generate 100 -> verify" on the UR5e with the 2F-85; the others smaller
N_OTHER = 12
# The draft's open width against the hand-measured fingertips': [m], and relative for a hinged jaw (SO-101),
# whose width grows with the distance along the jaw from its hinge (the draft's points lie 7 mm further out).
WIDTH_TOL, WIDTH_REL = 0.006, 0.08
TCP_TOL = 0.07  # m: the draft's TCP (fingertips' midpoint) against the hand-placed TCP, both in the base frame
needs_models = pytest.mark.skipif(not all(f.is_file() for f, _ in CASES.values()), reason=f"models not found under {MENAGERIE}")


def _init(tmp_path: Path, name: str) -> tuple[Path, str]:
    arm, grip = CASES[name]
    out = tmp_path / f"draft_{name}.toml"
    args = ["robots", "init", str(arm), "--out", str(out)] + (["--gripper", str(grip)] if grip else [])
    return out, args


def _tips_and_tcp(scene, f: float) -> tuple[float, np.ndarray]:
    d = mujoco.MjData(scene.model)
    q = np.mean(scene.index.arm_ranges, axis=1)
    set_configuration(scene, d, q_arm=q, open_fraction=f, cameras=False)
    ix = scene.index
    pts = [d.xmat[b].reshape(3, 3) @ p + d.xpos[b] for b, p in zip(ix.fingertip_bodies, ix.fingertip_pos)]
    R = d.xmat[ix.root_body].reshape(3, 3)  # the model's base body (not a state frame: the UR5e's is turned)
    return float(np.linalg.norm(pts[0] - pts[1])), R.T @ (d.site_xpos[ix.tcp_site] - d.xpos[ix.root_body])


@pytest.mark.slow  # init, a scene per draft and the shipped robot, 100 + 3 x 12 samples rendered: make test, not test-fast
@needs_models
@pytest.mark.parametrize("name", sorted(CASES))
def test_init_drafts_a_robot_that_generates_and_verifies(name, tmp_path, capsys, generate_in_process):
    out, args = _init(tmp_path, name)
    assert main(args) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}") and "  - " in said  # what a person must check
    draft, shipped = load_robot(str(out)), load_robot(name)
    raw = tomllib.loads(out.read_text())
    assert raw["model"]["source"] == "file" and "workspace" in raw and "rosa" in raw
    assert draft.arm_joints == shipped.arm_joints
    assert draft.gripper_joints == shipped.gripper_joints
    assert set(draft.coupling.coupled) == set(shipped.coupling.coupled) and dict(draft.coupling.held) == dict(shipped.coupling.held)
    # the draft's fingers open as wide as the hand-measured ones, and its TCP sits near the hand-placed one
    ds = build_scene(robot=draft, task=load_task("tabletop"), resolved=resolve_model(draft), cameras=("front",), render=RenderSettings())
    ss = make_scene(name, ("front",))
    w_draft, tcp_draft = _tips_and_tcp(ds, 1.0)
    w_ship, tcp_ship = _tips_and_tcp(ss, 1.0)
    assert w_draft == pytest.approx(w_ship, abs=WIDTH_TOL, rel=WIDTH_REL), f"{name}: open width {w_draft * 1e3:.1f} mm, shipped {w_ship * 1e3:.1f} mm"
    assert np.linalg.norm(tcp_draft - tcp_ship) < TCP_TOL, f"{name}: TCP {tcp_draft} vs shipped {tcp_ship}"
    assert _tips_and_tcp(ds, 0.0)[0] < 0.01, f"{name}: the draft's fingers do not close"
    n = N.get(name, N_OTHER)
    data = tmp_path / "data"
    generate_in_process(build_config({"robot": str(out), "n": n, "shard_size": 50, "out": str(data), "progress": False}))
    rep = verify(data)
    assert rep.ok and rep.samples == n, rep.lines()


@pytest.mark.parametrize("case, expected", [
    ("missing", "model file {tmp}/nope.xml does not exist"),
    ("suffix", "expected an MJCF (.xml) or URDF (.urdf) file, got .stl"),
    ("out_exists", "already exists; choose another name or remove it"),
    ("out_suffix", "expected a .toml file name"),
    ("gripper_folder", "expected one gripper MJCF in the folder, found 2"),
    ("gripper_missing", "does not exist; pass a gripper's MJCF file or its folder"),
])
def test_bad_input_is_one_line_and_writes_nothing(case, expected, tmp_path, capsys):
    arm = CASES["wxai"][0]
    out = tmp_path / "arm.toml"
    args = {
        "missing": [str(tmp_path / "nope.xml"), "--out", str(out)],
        "suffix": [str(tmp_path / "arm.stl"), "--out", str(out)],
        "out_exists": [str(arm), "--out", str(tmp_path / "old.toml")],
        "out_suffix": [str(arm), "--out", str(tmp_path / "arm.txt")],
        "gripper_folder": [str(arm), "--gripper", str(tmp_path / "two"), "--out", str(out)],
        "gripper_missing": [str(arm), "--gripper", str(tmp_path / "none"), "--out", str(out)],
    }[case]
    (tmp_path / "arm.stl").write_bytes(b"solid x\nendsolid x\n")
    (tmp_path / "old.toml").write_text("name = 'old'\n")
    (tmp_path / "two").mkdir()
    for f in ("a.xml", "b.xml"):
        (tmp_path / "two" / f).write_text("<mujoco/>")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["robots", "init", *args])
    err = capsys.readouterr().err
    line = assert_one_line(err, code, 2)
    assert expected.format(tmp=tmp_path) in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temporary file left
    assert (tmp_path / "old.toml").read_text() == "name = 'old'\n"


SO101_URDF = MENAGERIE.parent / "so101" / "so101_new_calib.urdf"


@pytest.mark.slow
@pytest.mark.skipif(not SO101_URDF.is_file(), reason=f"no {SO101_URDF}")
def test_init_from_a_urdf_generates_and_verifies(tmp_path, capsys, generate_in_process):
    """The SO-101's URDF: its base collides with the first link (collide_links excludes the pair) and its jaws'
    convex hulls overlap at every opening (fingertips from the meshes' vertices); the draft still works at once."""
    out = tmp_path / "so101_urdf.toml"
    assert main(["robots", "init", str(SO101_URDF), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "collide_links = true" in said and "convex hulls overlap" in said
    draft = load_robot(str(out))
    assert draft.arm_joints == load_robot("so101").arm_joints and draft.gripper_joints == ("gripper",)
    data = tmp_path / "data"
    generate_in_process(build_config({"robot": str(out), "n": N_OTHER, "out": str(data), "progress": False}))
    rep = verify(data)
    assert rep.ok and rep.samples == N_OTHER, rep.lines()
