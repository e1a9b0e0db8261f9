"""A calibrated camera (task [cameras.NAME] with K and T_base_cam): the stored K is the given K,
T_world_cam is T_world_base T_base_cam, and rendered markers land within 0.5 px of their OpenCV
projection through K, for fx != fy and an off-centre principal point, also after the intrinsics
are changed at run time (randomize level full)."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import pytest
from conftest import resolved

from statgen.config import RenderSettings, build_config
from statgen.config.task import CameraSpec, Shell
from statgen.run.job import Job
from statgen.run.producer import ShardProducer
from statgen.schema import Acceptance

W, H = 320, 240
K_GIVEN = ((300.0, 0.0, 171.25), (0.0, 270.0, 108.5), (0.0, 0.0, 1.0))  # fx != fy, principal point off centre
TOL_PX = 0.5
MARKER_R = 0.01  # [m]


def _T_base_cam(eye, target) -> tuple[tuple[float, ...], ...]:
    """OpenCV camera pose in the base frame (z forward, y down), looking from eye at target, base z up."""
    z = np.subtract(target, eye) / np.linalg.norm(np.subtract(target, eye))
    y = np.array([0.0, 0.0, -1.0]) - (np.array([0.0, 0.0, -1.0]) @ z) * z
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, y, z], axis=1)
    T[:3, 3] = eye
    return tuple(tuple(float(v) for v in row) for row in T)


T_GIVEN = _T_base_cam([1.3, -0.35, 0.75], [0.35, 0.05, 0.3])


def _task(robot: str = "franka"):
    _, task, _ = resolved(robot)
    front = CameraSpec(name="front", width=W, height=H, fovy_deg=float(np.degrees(2 * np.arctan2(H / 2, K_GIVEN[1][1]))), K=K_GIVEN, T_base_cam=T_GIVEN)
    return dataclasses.replace(task, cameras=(front,))


def _producer(level: str, robot: str = "franka", **settings) -> ShardProducer:
    spec, _, model = resolved(robot)
    cfg = build_config({"robot": robot, "n": 4, "randomize.level": level, **settings})
    return ShardProducer(Job(config=cfg, robot=spec, task=_task(robot), model=model), render=False)


# ur5e: its state frame (the base frame of the labels and of T_base_cam) is turned 180 deg about z from its model's base body.
@pytest.mark.parametrize("robot", ["franka", "ur5e"])
@pytest.mark.parametrize("level,settings", [("none", {}), ("appearance", {}), ("full", {"randomize.camera_focal_frac": 0.0})])
def test_the_stored_K_is_the_given_K_and_the_pose_is_T_world_base_T_base_cam(level, settings, robot):
    p = _producer(level, robot, **settings)
    streams, acc = p.start_shard(0), Acceptance()
    for i in range(3):
        s, look = p.sample(streams, i, acc)
        c = s.cameras["front"]
        assert c.K == [list(r) for r in K_GIVEN]
        assert look["cameras"]["front"]["K"] == c.K
        T = np.array(s.T_world_base) @ np.array(T_GIVEN)
        if level != "full":  # full jitters the pose about the calibrated one
            np.testing.assert_allclose(np.array(c.T_world_cam), T, atol=1e-9)
        else:
            assert np.linalg.norm(np.array(c.T_world_cam)[:3, 3] - T[:3, 3]) < 0.1
        p_world = np.array(s.T_world_base) @ np.array([*s.state.ee_pos, 1.0])
        p_cam = np.linalg.inv(np.array(c.T_world_cam)) @ p_world
        uv = (np.array(K_GIVEN) @ p_cam[:3])[:2] / p_cam[2]
        np.testing.assert_allclose(c.ee_pixel, uv, atol=1e-9)  # ee_pixel is the projection through the given K


def _markers(scene_model: mujoco.MjModel, data: mujoco.MjData, cam_id: int, K: np.ndarray, geoms: list[int], renderer: mujoco.Renderer):
    """(projected, rendered centroid) per marker: the projection of its centre through K and the
    camera's pose, and the mean of its segmentation pixels' integer indices."""
    from statgen.sim.labels import T_world_camera

    T_world_cam = T_world_camera(data, cam_id)
    T_cam_world = np.linalg.inv(T_world_cam)
    opt = mujoco.MjvOption()
    opt.geomgroup[:] = 1
    opt.geomgroup[5] = 0  # everything but the markers: nothing hides them
    renderer.update_scene(data, camera=cam_id, scene_option=opt)
    renderer.enable_segmentation_rendering()
    seg = renderer.render()
    renderer.disable_segmentation_rendering()
    out = []
    for g in geoms:
        p = T_cam_world @ np.array([*data.geom_xpos[g], 1.0])
        uv = (K @ p[:3])[:2] / p[2]
        rows, cols = np.nonzero((seg[..., 0] == g) & (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)))
        area = np.pi * (K[0, 0] * MARKER_R / p[2]) * (K[1, 1] * MARKER_R / p[2])
        assert rows.size > 0.5 * area, f"marker {g}: {rows.size} pixels of {area:.0f} (hidden?)"
        out.append((uv, np.array([cols.mean(), rows.mean()])))
    return out


def test_rendered_markers_land_on_their_projection_through_K():
    """Twelve small spheres placed in the calibrated camera's view (through K's inverse, at depths
    0.45-0.8 m) are rendered through statgen's scene; the centroid of each is within 0.5 px of its
    projection. Then K is changed at run time (as a full look does) and the markers follow it."""
    from statgen.sim.scene import build_spec, compile_scene, write_intrinsics

    spec_r, _, res = resolved("franka")
    task = _task()
    spec, _children = build_spec(robot=spec_r, task=task, resolved=res, cameras=("front",), render=RenderSettings())
    # Where the markers go: the camera's pose in the world as the compiled model puts it.
    probe = compile_scene(spec, "franka")
    d0 = mujoco.MjData(probe)
    mujoco.mj_kinematics(probe, d0)
    mujoco.mj_camlight(probe, d0)
    from statgen.sim.labels import T_world_camera

    cam = mujoco.mj_name2id(probe, mujoco.mjtObj.mjOBJ_CAMERA, "front")
    T_world_cam = T_world_camera(d0, cam)
    base = mujoco.mj_name2id(probe, mujoco.mjtObj.mjOBJ_BODY, spec_r.model.base_body)
    T_world_base = np.eye(4)
    T_world_base[:3, :3], T_world_base[:3, 3] = d0.xmat[base].reshape(3, 3), d0.xpos[base]
    np.testing.assert_allclose(T_world_cam, T_world_base @ np.array(T_GIVEN), atol=1e-9)
    rng = np.random.default_rng(7)
    Kinv = np.linalg.inv(np.array(K_GIVEN))
    names = []
    K_RUNTIME = np.array([[320.0, 0, 150.0], [0, 290.0, 130.25], [0, 0, 1]])
    while len(names) < 12:  # whole in the image through both K
        u, v, z = rng.uniform(20, W - 20), rng.uniform(20, H - 20), rng.uniform(0.45, 0.8)
        p_cam = z * Kinv @ np.array([u, v, 1.0])
        u2, v2 = (K_RUNTIME @ p_cam)[:2] / z
        if not (20 < u2 < W - 20 and 20 < v2 < H - 20):
            continue
        i = len(names)
        p = T_world_cam @ np.array([*p_cam, 1.0])
        spec.worldbody.add_geom(name=f"marker{i}", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[MARKER_R, 0, 0], pos=list(p[:3]),
                                rgba=[1, 1, 0, 1], contype=0, conaffinity=0)
        names.append(f"marker{i}")
    m = compile_scene(spec, "franka")
    d = mujoco.MjData(m)
    mujoco.mj_kinematics(m, d)
    mujoco.mj_camlight(m, d)
    geoms = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, n) for n in names]
    m.geom_group[[g for g in range(m.ngeom) if g not in geoms]] = 5
    with mujoco.Renderer(m, height=H, width=W) as r:
        for K in (np.array(K_GIVEN), K_RUNTIME):
            write_intrinsics(m, cam, K, width=W, height=H)
            errs = [np.abs(uv - c) for uv, c in _markers(m, d, cam, K, geoms, r)]
            print("max marker error [px]", max(float(e.max()) for e in errs))
            assert max(float(e.max()) for e in errs) <= TOL_PX, f"K {K.tolist()}: errors {[e.round(3).tolist() for e in errs]}"


def test_the_rendered_image_uses_the_stored_K_at_full():
    """At level full with focal jitter, the K a sample stores is what its camera rendered with: the
    producer's own renderer's image has the gripper's segmentation around the stored ee_pixel."""
    spec, _, model = resolved("franka")
    cfg = build_config({"robot": "franka", "n": 4, "randomize.level": "full", "seg": True, "require_visible": True})
    p = ShardProducer(Job(config=cfg, robot=spec, task=_task(), model=model))
    try:
        streams, acc = p.start_shard(1), Acceptance()
        Ks = set()
        for i in range(4):
            s, look = p.sample(streams, i, acc)
            seg = p.render(s, look)["front"]["seg"]
            u, v = s.cameras["front"].ee_pixel
            rows, cols = np.nonzero(seg == 2)
            assert rows.size and cols.min() - 1 <= u <= cols.max() + 1 and rows.min() - 1 <= v <= rows.max() + 1
            Ks.add(str(s.cameras["front"].K))
            assert s.cameras["front"].K[0][2] == K_GIVEN[0][2] and s.cameras["front"].K[1][2] == K_GIVEN[1][2]
        assert len(Ks) == 4, "the focal length is jittered per sample"
    finally:
        p.close()


SHELL = Shell(distance=(1.2, 1.8), azimuth_deg=(-40.0, 40.0), elevation_deg=(15.0, 50.0), target_scale=0.5)


# The shell is drawn in the base frame; a calibrated camera rides on the state frame's body (ur5e: not its
# model's base body), so its drawn pose must be stored in that body's frame, not in the world's.
@pytest.mark.parametrize("robot,calibrated,focal_frac", [("franka", False, 0.0), ("franka", True, 0.0), ("ur5e", True, 0.0), ("franka", True, 0.05)])
def test_a_shell_camera_stands_on_its_shell_and_looks_into_the_workspace(robot, calibrated, focal_frac):
    """shell_prob 1: every sample's camera, as rendered (T_world_cam from MjData), stands at a distance,
    azimuth and elevation from the base origin within the shell's ranges, in the base frame of the labels,
    and its optical axis passes through the central target_scale part of the workspace box. A calibrated
    camera keeps the K it was given, its focal lengths scaled together by at most camera_focal_frac and its
    principal point unmoved. The record says shell."""
    spec, task, model = resolved(robot)
    cam = _task(robot).cameras[0] if calibrated else task.camera("front")
    task = dataclasses.replace(task, cameras=(dataclasses.replace(cam, shell=SHELL),))
    cfg = build_config({"robot": robot, "n": 4, "randomize.level": "full", "randomize.shell_prob": 1.0, "randomize.camera_focal_frac": focal_frac})
    p = ShardProducer(Job(config=cfg, robot=spec, task=task, model=model), render=False)
    lo, hi = np.array(spec.workspace_min), np.array(spec.workspace_max)
    c, h = (lo + hi) / 2, (hi - lo) / 2 * SHELL.target_scale
    try:
        for shard in (0, 1):  # two layouts: two base poses
            streams, acc = p.start_shard(shard), Acceptance()
            for i in range(4):
                s, look = p.sample(streams, i, acc)
                assert look["cameras"]["front"]["shell"] is True
                T_base_cam = np.linalg.inv(np.array(s.T_world_base)) @ np.array(s.cameras["front"].T_world_cam)
                eye, axis = T_base_cam[:3, 3], T_base_cam[:3, 2]  # OpenCV: z is the optical axis
                d = np.linalg.norm(eye)
                assert SHELL.distance[0] - 1e-9 <= d <= SHELL.distance[1] + 1e-9, d
                el, az = np.degrees(np.arcsin(eye[2] / d)), np.degrees(np.arctan2(eye[1], eye[0]))
                assert SHELL.elevation_deg[0] - 1e-6 <= el <= SHELL.elevation_deg[1] + 1e-6, el
                assert SHELL.azimuth_deg[0] - 1e-6 <= az <= SHELL.azimuth_deg[1] + 1e-6, az
                # slab test: the ray eye + t * axis (t > 0) meets the box c +- h
                t0, t1 = (c - h - eye) / axis, (c + h - eye) / axis
                enter, leave = np.minimum(t0, t1).max(), np.maximum(t0, t1).min()
                assert 0 < enter <= leave + 1e-9, (enter, leave)
                if calibrated:
                    K, K0 = np.array(s.cameras["front"].K), np.array(K_GIVEN)
                    scale = K[0, 0] / K0[0, 0]
                    assert abs(scale - 1) <= focal_frac + 1e-12 and K[1, 1] == pytest.approx(K0[1, 1] * scale, rel=1e-12)
                    assert (K[:, 2] == K0[:, 2]).all() and K[0, 1] == 0.0
                    if focal_frac == 0:
                        assert s.cameras["front"].K == [list(r) for r in K_GIVEN]
    finally:
        p.close()
