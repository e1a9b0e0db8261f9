"""Randomisation levels (statgen.sim.looks, statgen.sim.stage): every lever changes the pixels and
nothing else, a look renders again from its record alone, workers carry nothing from shard to
shard, distractors stay on the table and off the robot base, the wrist camera works at every
level, and a calibrated camera renders through exactly the K it was given."""

from __future__ import annotations

import copy
import tarfile

import mujoco
import numpy as np
import pytest
from conftest import resolved

from statgen.config import build_config
from statgen.run.job import Job, ShardPlan
from statgen.run.producer import ShardProducer
from statgen.schema import Acceptance


def _producer(level: str, render: bool = True, task=None, **settings) -> ShardProducer:
    cfg = build_config({"robot": "franka", "n": 8, "randomize.level": level, **settings})
    spec, task0, model = resolved("franka")
    from statgen.sim.library import user_files

    return ShardProducer(Job(config=cfg, robot=spec, task=task or task0, model=model, user_files=user_files(cfg, task or task0)), render=render)


def _state_json(sample) -> dict:
    """A sample's record without its look and its camera labels (what no appearance lever may change)."""
    d = sample.to_json()
    d.pop("scene", None)
    d.pop("cameras")
    return d


@pytest.fixture(scope="module")
def full():
    p = _producer("full", cameras=("front", "wrist"))
    streams, acc = p.start_shard(3), Acceptance()
    drawn = [p.sample(streams, i, acc) for i in range(6)]
    images = [p.render(s, look) for s, look in drawn]
    yield p, drawn, images
    p.close()


def test_a_look_renders_again_from_its_record_alone(full):
    """Sample 0's look, applied again after five other looks (from a JSON round trip of its record),
    gives the same pixels, bytes for bytes: the record holds everything the variation writes."""
    import json

    p, drawn, images = full
    (s0, look0), _ = drawn[0], drawn[-1]
    record = json.loads(json.dumps(s0.to_json()["scene"]))
    again = p.render(s0, record)
    for cam in ("front", "wrist"):
        np.testing.assert_array_equal(again[cam]["rgb"], images[0][cam]["rgb"])
    assert any(not np.array_equal(images[0]["front"]["rgb"], im["front"]["rgb"]) for im in images[1:])


LEVERS = {  # lever -> the record paths it owns
    "surfaces": (("surfaces",),),
    "lights": (("lights",),),
    "headlight": (("headlight",),),
    "camera": (("cameras", "front"),),
    "distractors": (("layout", "distractors"),),
    "walls": (("layout", "walls"),),
    "textures": (("layout", "textures"),),
}


def _get(d, path):
    for k in path:
        d = d[k]
    return d


def _set(d, path, v):
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = v


@pytest.mark.parametrize("lever", sorted(LEVERS))
def test_each_lever_alone_changes_the_pixels_and_nothing_else(full, lever):
    """Sample 0 rendered with one lever taken from another look (of another shard's layout where
    the lever is per shard): the front image changes; the state and every other part of the
    look stay; the camera labels change only with the camera lever."""
    p, drawn, images = full
    s0, look0 = drawn[0]
    other = _other_look(p, lever)
    if lever == "headlight":  # off in both looks would change nothing: turn it the other way
        h = look0["headlight"]
        other["headlight"] = {**h, "active": not h["active"], "diffuse": [0.4, 0.4, 0.4]}
    look = copy.deepcopy(look0)
    for path in LEVERS[lever]:
        assert _get(other, path) != _get(look0, path)
        _set(look, path, copy.deepcopy(_get(other, path)))
    if lever == "textures":  # every surface textured, so that the slots' pixels show
        look0 = copy.deepcopy(look0)
        for s in look0["surfaces"]:
            s["material"] = 0
        look["surfaces"] = copy.deepcopy(look0["surfaces"])
        base = p.render(s0, look0)
    else:
        base = images[0]
    img = p.render(s0, look)
    assert not np.array_equal(img["front"]["rgb"], base["front"]["rgb"]), f"{lever}: no pixel changed"
    # Labels read in the changed look: the state is the same; the camera labels follow the camera only.
    from statgen.sim.labels import labels

    state, T_world_base, cameras = labels(p.scene, p.data)
    assert state.to_json() == s0.state.to_json() and T_world_base == s0.T_world_base
    same_cam = cameras["front"].to_json() == s0.cameras["front"].to_json()
    assert same_cam == (lever != "camera")


def _other_look(p: ShardProducer, lever: str) -> dict:
    """A look from another shard (its layout is another), drawn without disturbing `p`'s state."""
    q = _producer("full", render=False, cameras=("front", "wrist"))
    streams = q.start_shard(11)
    look = q.variation.draw(rng=streams.look)
    if lever in ("distractors",):
        for s in range(12, 40):  # a layout with a distractor where shard 3's has none, or another
            if any(d["active"] for d in look["layout"]["distractors"]):
                break
            look = q.variation.draw(rng=q.start_shard(s).look)
    return look


def test_a_worker_carries_nothing_from_shard_to_shard(tmp_path):
    """Shard 1 made by a fresh producer equals, byte for byte, shard 1 made after shard 0 by the same
    producer (the layout, the texture slots and their cache, the model's edits): so one worker or two
    give the same files."""
    def shard1(p: ShardProducer, out) -> dict[str, bytes]:
        try:
            if out.name == "warm":
                p.produce(ShardPlan(shard=0, first_index=0, count=4), out)
            p.produce(ShardPlan(shard=1, first_index=4, count=4), out)
        finally:
            p.close()
        with tarfile.open(out / "shards/statgen-000001.tar") as tf:
            return {m.name: tf.extractfile(m).read() for m in tf.getmembers()}

    warm = shard1(_producer("full", cameras=("front", "wrist")), tmp_path / "warm")
    cold = shard1(_producer("full", cameras=("front", "wrist")), tmp_path / "cold")
    assert warm == cold


def test_the_draws_before_a_render_need_only_the_looks_geometry(tmp_path, monkeypatch):
    """The draws apply only a look's layout and cameras (apply_geometry); the render applies it whole.
    A shard made so equals, byte for byte, one whose draws apply the whole look each time, in batches of
    4 (each render follows three other samples' draws): no label reads a surface, a light or a colour,
    and every label reads the cameras as the sample's look moved them."""
    from statgen.run import producer as producer_mod
    from statgen.sim.looks import Looks

    def shard(out) -> dict[str, bytes]:
        p = _producer("full", cameras=("front", "wrist"), **{"randomize.texture_prob": 1.0})
        try:
            p.produce(ShardPlan(shard=2, first_index=0, count=8), out)
        finally:
            p.close()
        with tarfile.open(out / "shards/statgen-000002.tar") as tf:
            return {m.name: tf.extractfile(m).read() for m in tf.getmembers()}

    monkeypatch.setattr(producer_mod, "MAX_BATCH", 4)
    calls = []
    geometry = Looks.apply_geometry
    monkeypatch.setattr(Looks, "apply_geometry", lambda self, params, *, data: calls.append(self._opaque) or geometry(self, params, data=data))
    geometry_only = shard(tmp_path / "geometry")
    assert calls and all(calls), "the draws go through apply_geometry, which skips the appearance here"
    monkeypatch.setattr(Looks, "apply_geometry", lambda self, params, *, data: self.apply(params, data=data))
    assert shard(tmp_path / "whole") == geometry_only


def test_a_surface_that_starts_transparent_gets_the_whole_look_before_the_draws():
    """mj_ray skips a geom with alpha 0, and a look makes every surface opaque: when a surface starts
    transparent, apply_geometry writes the appearance too, so ee_visible cannot depend on whether the
    worker has rendered before."""
    from statgen.sim.looks import Looks

    p = _producer("full", render=False)
    try:
        m, top = p.scene.model, p.scene.stage.table_top
        m.geom_rgba[top, 3] = 0.0
        looks = Looks(p.scene)
        assert not looks._opaque
        looks.initialize_shard(rng=np.random.default_rng(0), shard=0)
        looks.apply_geometry(looks.draw(rng=np.random.default_rng(1)), data=p.data)
        assert m.geom_rgba[top, 3] == 1.0
    finally:
        p.close()


@pytest.mark.parametrize("level", ["none", "appearance", "full"])
def test_the_wrist_camera_sees_the_gripper_at_every_level(level):
    from statgen.sim.render import SEG_GRIPPER

    p = _producer(level, cameras=("front", "wrist"), seg=True)
    try:
        streams, acc = p.start_shard(0), Acceptance()
        for i in range(3):
            s, look = p.sample(streams, i, acc)
            img = p.render(s, look)
            assert (img["wrist"]["seg"] == SEG_GRIPPER).mean() > 0.02, f"{level}: sample {i}: no gripper in the wrist view"
            assert s.scene["level"] == level and set(s.scene["cameras"]) == {"front", "wrist"}
    finally:
        p.close()


def _aabb_world(m: mujoco.MjModel, d: mujoco.MjData, g: int) -> tuple[np.ndarray, np.ndarray]:
    """A primitive geom's exact world axis-aligned box, from its type, size and pose as MuJoCo holds them."""
    R, a = d.geom_xmat[g].reshape(3, 3), m.geom_size[g]
    t = int(m.geom_type[g])
    G = mujoco.mjtGeom
    if t == G.mjGEOM_BOX:
        h = np.abs(R) @ a
    elif t == G.mjGEOM_ELLIPSOID:
        h = np.sqrt((R * a) ** 2 @ np.ones(3))
    elif t == G.mjGEOM_SPHERE:
        h = np.full(3, a[0])
    elif t in (G.mjGEOM_CYLINDER, G.mjGEOM_CAPSULE):  # the axis is local z
        axis = R[:, 2] * (a[1] + (a[0] if t == G.mjGEOM_CAPSULE else 0.0))
        h = np.abs(axis) + a[0] * np.sqrt(np.clip(1 - R[:, 2] ** 2, 0, 1))
    else:
        raise AssertionError(f"geom type {t}")
    return d.geom_xpos[g] - h, d.geom_xpos[g] + h


def test_distractors_stay_on_the_table_and_off_the_robot_base():
    """Over 40 layouts, checked in the compiled model as laid out (not with the placement code):
    every active distractor rests on the table top within its edges, and MuJoCo's own geom distance
    to the robot base's geoms, the props and the other distractors is positive."""
    p = _producer("full", render=False)
    m, st = p.scene.model, p.scene.stage
    d = p.data
    base_geoms = np.flatnonzero(m.geom_bodyid == p.scene.index.root_body)  # the model's base body (a state frame has no geoms)
    seen = 0
    for shard in range(40):
        streams = p.start_shard(shard)
        p.variation.apply(p.variation.draw(rng=streams.look), data=d)  # a look's layout, as before a shard's first draw
        mujoco.mj_kinematics(m, d)
        top = st.table_top
        tlo, thi = d.geom_xpos[top] - m.geom_size[top], d.geom_xpos[top] + m.geom_size[top]  # the top is axis-aligned
        active = [p.scene.stage.distractors[x["slot"]].geom for x in p.variation.layout["distractors"] if x["active"]]
        seen += len(active)
        for g in active:
            lo, hi = _aabb_world(m, d, g)
            assert np.all(lo[:2] >= tlo[:2] - 1e-9) and np.all(hi[:2] <= thi[:2] + 1e-9), f"shard {shard}: geom {g} overhangs the table"
            assert abs(lo[2] - thi[2]) < 2e-4, f"shard {shard}: geom {g} does not rest on the top ({lo[2]} vs {thi[2]})"
            for other in [*base_geoms, *st.props, *(a for a in active if a != g)]:
                dist = mujoco.mj_geomDistance(m, d, int(g), int(other), 1.0, None)
                assert dist > 0, f"shard {shard}: distractor geom {g} touches geom {other} ({dist:.4f} m)"
    assert seen > 40, "too few distractors drawn to test anything"


def test_a_distractor_on_the_line_of_sight_hides_the_tcp(full):
    """ee_visible stays the truthful label: a sphere put (through the record) halfway between the
    front camera and a visible TCP makes it false, and taking it away makes it true again."""
    from statgen.sim.labels import labels

    p, drawn, _ = full
    s, look0 = next((s, lk) for s, lk in drawn if s.cameras["front"].ee_visible)
    cam_pos = np.array(s.cameras["front"].T_world_cam)[:3, 3]
    tcp = (np.array(s.T_world_base) @ np.array([*s.state.ee_pos, 1.0]))[:3]
    slot = next(i for i, d in enumerate(p.scene.stage.distractors) if d.shape == "sphere")
    look = copy.deepcopy(look0)
    look["layout"]["distractors"][0] = {"active": True, "shape": "sphere", "mesh": "", "slot": slot, "size": [0.05, 0.0, 0.0],
                                        "pos": [float(x) for x in (cam_pos + tcp) / 2], "quat_wxyz": [1.0, 0.0, 0.0, 0.0]}
    p.render(s, look)
    assert not labels(p.scene, p.data).cameras["front"].ee_visible
    p.render(s, look0)
    assert labels(p.scene, p.data).cameras["front"].ee_visible


@pytest.mark.parametrize("tex_size", [None, 64])
def test_the_users_images_fill_texture_slots(tmp_path, tex_size):
    """randomize.texture_dir: with a library of one procedural recipe, the shard's slots are mostly the
    user's images; a slot's texels are the image's central square box-filtered to randomize.texture_size
    (the default 128, and 64; checked against PIL's own box resize), and the record names the file by path and sha256."""
    import hashlib

    from PIL import Image

    rng = np.random.default_rng(0)
    files = {}
    for name, size in (("bench.png", (640, 512)), ("sub/wall.jpg", (512, 512))):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(tmp_path / name, quality=95)
        files[name] = (tmp_path / name).read_bytes()
    extra = {} if tex_size is None else {"randomize.texture_size": tex_size}
    p = _producer("appearance", **{"randomize.texture_dir": str(tmp_path), "randomize.texture_library": 1, **extra})
    n = tex_size or 128
    assert p.job.config.randomize.texture_size == n
    try:
        p.start_shard(0)
        m, st = p.scene.model, p.scene.stage
        slots = p.variation.layout["textures"]
        users = [(k, s["recipe"]) for k, s in enumerate(slots) if s["recipe"]["pattern"] == "image"]
        assert len(users) >= 4
        for k, rec in users:
            assert rec["sha256"] == hashlib.sha256(files[rec["path"]]).hexdigest()
            im = Image.open(tmp_path / rec["path"]).convert("RGB")
            w, h = im.size
            s = min(w, h)
            want = np.asarray(im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((n, n), Image.BOX), dtype=int)
            tex = st.textures[k]
            assert (m.tex_width[tex], m.tex_height[tex]) == (n, n)
            got = m.tex_data[m.tex_adr[tex]:m.tex_adr[tex] + n * n * 3].reshape(n, n, 3).astype(int)
            assert np.abs(got - want).max() <= 1
        from statgen.core.textures import make_texture

        procedural = [(k, s["recipe"]) for k, s in enumerate(slots) if s["recipe"]["pattern"] != "image"]
        for k, rec in procedural:  # the library's recipe, made at the configured size (the pure function, called here)
            tex = st.textures[k]
            got = m.tex_data[m.tex_adr[tex]:m.tex_adr[tex] + n * n * 3].reshape(n, n, 3)
            assert np.array_equal(got, make_texture(rec, n))
    finally:
        p.close()


@pytest.mark.parametrize("level,settings,want", [("none", {}, 0.1), ("appearance", {}, 0.4), ("full", {}, 0.4),
                                                 ("full", {"randomize.floor_grid_m": 0.2}, 0.2)])
def test_the_floor_is_drawn_on_randomize_floor_grid_m_except_at_none(level, settings, want):
    """The floor plane's size[2] (MuJoCo's render grid) is the task's at none (pixels pinned by the golden
    run) and randomize.floor_grid_m at appearance and full; its extent is the task's at every level."""
    from statgen.sim.stage import FLOOR

    p = _producer(level, render=False, **settings)
    m = p.scene.model
    g = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, FLOOR)
    assert m.geom_size[g].tolist() == pytest.approx([4.0, 4.0, want])


def test_the_per_sample_look_at_is_core_look_at_then_a_roll():
    from statgen.core.geometry import look_at_R
    from statgen.sim.looks import _look_at

    rng = np.random.default_rng(3)
    for _ in range(50):
        eye, target, up, roll = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3), rng.uniform(-1, 1)
        c, s = np.cos(roll), np.sin(roll)
        want = look_at_R(eye=eye, target=target, up=up) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        np.testing.assert_allclose(_look_at(eye.tolist(), target.tolist(), tuple(up), roll), want, atol=1e-12)
    assert _look_at([0, 0, 0], [0, 0, 1], (0, 0, 1), 0.0) is None


def _T_of(pos, quat_wxyz) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(np.asarray(quat_wxyz, dtype=float), scalar_first=True).as_matrix()
    T[:3, 3] = pos
    return T


def test_a_layout_moves_the_whole_robot_with_its_state_frame():
    """UR5e (the robot whose [model.state_frame] is not its base body's own): a full-level layout's base
    offset, height and yaw move the model's base body, hence every link, and the state frame with it.
    Checked in data after the layout (xpos, xquat), against the layout's numbers and the robot TOML's
    state frame composed by scipy, not against the layout code: the state frame's pose is the base body's
    times the TOML's state frame; the shoulder sits where it sat relative to the state frame as built;
    the base body moved by the layout's offset and table height and turned by its yaw; and the
    workspace test (Feasibility) and the labels (T_world_base, ee_pos) use that same pose. (Before, the
    layout moved the state frame alone and left the arm where it was built: no configuration was
    feasible.)"""
    from scipy.spatial.transform import Rotation

    from statgen.sim.labels import state_labels
    from statgen.sim.scene import set_configuration

    spec, task, model = resolved("ur5e")
    cfg = build_config({"robot": "ur5e", "n": 4, "randomize.level": "full"})
    p = ShardProducer(Job(config=cfg, robot=spec, task=task, model=model), render=False)
    m, d, ix = p.scene.model, p.data, p.scene.index
    B = mujoco.mjtObj.mjOBJ_BODY
    mount, shoulder = mujoco.mj_name2id(m, B, spec.model.base_body), mujoco.mj_name2id(m, B, "shoulder_link")
    T_mount_state = _T_of(spec.model.state_frame.pos, spec.model.state_frame.quat)
    assert not np.allclose(T_mount_state, np.eye(4)), "ur5e no longer has a state frame: pick a robot that has one"

    def T_world(b: int) -> np.ndarray:
        return _T_of(d.xpos[b], d.xquat[b])

    mujoco.mj_kinematics(m, d)
    T_mount0 = T_world(mount)
    T_state_shoulder0 = np.linalg.inv(T_mount0 @ T_mount_state) @ T_world(shoulder)
    layout = p.variation.draw_layout(np.random.default_rng(7))
    layout["base"] = {"offset": [0.04, -0.03], "yaw_deg": 6.0}  # a move no placement would refuse to apply
    p.variation.apply_layout(layout, d)
    p.feasibility.refresh()
    q = np.mean(ix.arm_ranges, axis=1)
    set_configuration(p.scene, d, q_arm=q, open_fraction=0.5)

    T_mount = T_world(mount)
    np.testing.assert_allclose(T_mount[:3, 3] - T_mount0[:3, 3], [0.04, -0.03, layout["table"]["height"] - task.table_height], atol=1e-9)
    dyaw = Rotation.from_matrix(T_mount[:3, :3] @ T_mount0[:3, :3].T).as_rotvec()
    np.testing.assert_allclose(dyaw, [0.0, 0.0, np.radians(6.0)], atol=1e-9)
    T_world_state = T_mount @ T_mount_state  # independent: MuJoCo's base body pose times the TOML's state frame
    np.testing.assert_allclose(T_world(ix.base_body), T_world_state, atol=1e-9)
    np.testing.assert_allclose(np.linalg.inv(T_world_state) @ T_world(shoulder), T_state_shoulder0, atol=1e-9)
    np.testing.assert_allclose(p.feasibility.T_base_world, np.linalg.inv(T_world_state), atol=1e-9)
    state, T_world_base = state_labels(p.scene, d)
    np.testing.assert_allclose(np.array(T_world_base), T_world_state, atol=1e-9)
    p_tcp = np.linalg.inv(T_world_state) @ np.array([*d.site_xpos[ix.tcp_site], 1.0])
    np.testing.assert_allclose(state.ee_pos, p_tcp[:3], atol=1e-9)
    p.close()


@pytest.mark.parametrize("robot_colors", [False, True])
def test_the_robots_colours_change_only_when_a_pipeline_asks(robot_colors):
    """Default (randomize.robot_colors false): over several full looks, the robot's geoms and their
    materials keep the colours the model was compiled with. With robot_colors: the materials' colours
    change, and sample 0 rendered again with another look's robot colours changes pixels only where the
    robot is (its segmentation mask, rendered by the same renderer, no MSAA)."""
    p = _producer("full", **{"randomize.robot_colors": robot_colors, "seg": True, "render.multisample": 0})
    m, robot = p.scene.model, p.scene.index.robot_geoms
    mats = np.unique(m.geom_matid[robot][m.geom_matid[robot] >= 0])
    geom_rgba0, mat_rgba0 = m.geom_rgba[robot].copy(), m.mat_rgba[mats].copy()
    try:
        streams, acc = p.start_shard(0), Acceptance()
        drawn = [p.sample(streams, i, acc) for i in range(3)]
        images = [p.render(s, look) for s, look in drawn]
        np.testing.assert_array_equal(m.geom_rgba[robot], geom_rgba0)
        if not robot_colors:
            np.testing.assert_array_equal(m.mat_rgba[mats], mat_rgba0)
            assert all(look["robot"] == [] for _, look in drawn)
            return
        assert len(mats) and not np.array_equal(m.mat_rgba[mats], mat_rgba0)
        (s0, look0), (_, look1) = drawn[0], drawn[1]
        look = {**look0, "robot": look1["robot"]}
        img = p.render(s0, look)["front"]
        changed = np.any(img["rgb"] != images[0]["front"]["rgb"], axis=-1)
        on_robot = images[0]["front"]["seg"] > 0
        assert changed.sum() > 100, "another look's robot colours changed no pixel"
        assert not np.any(changed & ~on_robot), f"{int((changed & ~on_robot).sum())} changed pixels off the robot"
    finally:
        p.close()


def test_the_users_meshes_become_distractors_resting_on_the_table(tmp_path):
    """randomize.mesh_dir: a tetrahedron of edges 3 x 1 x 2 (an .obj), at full. Over a few layouts one
    places it; checked in the compiled model as laid out, from MuJoCo's own vertices in the world: the same
    shape (its sorted pairwise vertex distances equal the file's scaled so that the largest extent is
    2 * 7 cm, distractor_size_m's default upper end), resting on the table top within its edges, not touching the robot base; the record names
    the file."""
    from itertools import combinations

    verts = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    (tmp_path / "wedge.obj").write_text("".join(f"v {x} {y} {z}\n" for x, y, z in verts) + "f 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n")
    p = _producer("full", render=False, **{"randomize.mesh_dir": str(tmp_path)})
    m, st, d = p.scene.model, p.scene.stage, p.data
    want = np.sort([np.linalg.norm(a - b) for a, b in combinations(verts * (2 * 0.07 / 3.0), 2)])
    base_geoms = np.flatnonzero(m.geom_bodyid == p.scene.index.root_body)
    try:
        for shard in range(40):
            p.variation.apply(p.variation.draw(rng=p.start_shard(shard).look), data=d)
            mesh = [x for x in p.variation.layout["distractors"] if x["active"] and x["shape"] == "mesh"]
            if mesh:
                break
        else:
            raise AssertionError("no layout in 40 placed the user's mesh")
        assert mesh[0]["mesh"] == "wedge.obj"
        mujoco.mj_kinematics(m, d)
        g = st.distractors[mesh[0]["slot"]].geom
        assert m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH
        mid = m.geom_dataid[g]
        local = m.mesh_vert[m.mesh_vertadr[mid]:m.mesh_vertadr[mid] + m.mesh_vertnum[mid]]
        world = local @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g]
        assert len(world) == 4
        np.testing.assert_allclose(np.sort([np.linalg.norm(a - b) for a, b in combinations(world, 2)]), want, atol=1e-6)
        top = st.table_top
        tlo, thi = d.geom_xpos[top] - m.geom_size[top], d.geom_xpos[top] + m.geom_size[top]
        assert abs(world[:, 2].min() - thi[2]) < 2e-4, "the mesh does not rest on the table top"
        assert np.all(world[:, :2] >= tlo[:2]) and np.all(world[:, :2] <= thi[:2]), "the mesh overhangs the table"
        for other in base_geoms:
            assert mujoco.mj_geomDistance(m, d, int(g), int(other), 1.0, None) > 0
    finally:
        p.close()
