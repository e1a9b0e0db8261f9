"""statgen.sim.render.CameraRenderer: RGB, z-depth [mm] and robot/gripper segmentation.

Truth: depth of the table top from an analytic ray-plane intersection (K, T_world_cam and
the plane z = table height), background (0) where a pixel's ray points above the horizon,
and the segmentation classes recomputed from MuJoCo's raw geom-id pass with the robot's
geoms found independently (the base body's subtree, the TOML's gripper bodies).
One renderer is alive at a time: statgen's is closed before the raw one is created.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from conftest import draw, make_scene
from statgen.config import RenderSettings
from statgen.core import camera as cam
from statgen.sim.render import CameraRenderer
from statgen.schema import Acceptance
from statgen.sim.labels import T_world_camera

SEED = 11
# z-depth of the table: 24-bit depth buffer over near = 0.01 * extent gives ~1e-5 m at
# 2 m, and statgen rounds to whole mm (0.5 mm). The table is seen at a grazing ~25-40
# degrees, so depth changes by ~1 cm from one pixel to the next: the rasteriser and our
# ray must agree on the pixel centre to well under a pixel for 2 mm + 0.5 % to hold.
DEPTH_ABS_TOL_MM = 2.0
DEPTH_REL_TOL = 0.005
# Only table pixels this far inside the table edges (a pixel's footprint there is ~1 cm).
TABLE_EDGE_MARGIN_M = 0.1
MIN_TABLE_PIXELS = 2000
# The TCP sits in the air between the fingers: the surface seen at its pixel is some
# part of the hand (when class 2 there), within the hand's size (~0.1 m finger + hand
# depth) of the TCP along the ray, not at the TCP itself.
TCP_SURFACE_TOL_MM = 120.0


@pytest.fixture(scope="module")
def rendered():
    scene = make_scene("franka", ("front",))
    labels, data = draw(scene, np.random.default_rng(SEED), Acceptance(), require_visible=True)
    with CameraRenderer(scene, render=RenderSettings(), depth=True, seg=True) as r:
        out = r.render(data, "front")
    # the raw geom-id pass, for an independent class map (statgen's renderer is closed now)
    c = scene.task.camera("front")
    raw = mujoco.Renderer(scene.model, height=c.height, width=c.width)
    try:
        raw.enable_segmentation_rendering()
        raw.update_scene(data, camera="front")
        ids = raw.render().copy()
    finally:
        raw.close()
    return scene, data, labels, out, ids


def pixel_rays(scene, data):
    """World ray directions (H, W, 3), scaled so the camera-frame z component is 1, and the origin."""
    c = scene.task.camera("front")
    cam_id = scene.index.camera_ids["front"]
    K = cam.intrinsics(width=c.width, height=c.height, fovy_deg=float(scene.model.cam_fovy[cam_id]))
    T = T_world_camera(data, cam_id)
    u, v = np.meshgrid(np.arange(c.width), np.arange(c.height))
    d_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u, dtype=float)], axis=-1)
    return d_cam @ T[:3, :3].T, T[:3, 3]


def test_output_types(rendered):
    scene, _, _, out, _ = rendered
    c = scene.task.camera("front")
    assert out["rgb"].shape == (c.height, c.width, 3) and out["rgb"].dtype == np.uint8
    assert out["depth"].shape == (c.height, c.width) and out["depth"].dtype == np.uint16
    assert out["seg"].shape == (c.height, c.width) and out["seg"].dtype == np.uint8


def test_seg_classes(rendered):
    scene, _, labels, out, _ = rendered
    seg = out["seg"]
    assert set(np.unique(seg)) <= {0, 1, 2}
    assert (seg == 1).sum() > 0, "no robot pixels"
    assert labels.cameras["front"].ee_visible
    assert (seg == 2).sum() > 0, "the hand is visible but no gripper pixels"
    assert (seg == 0).sum() > 0


def test_seg_matches_raw_geom_ids(rendered):
    scene, _, _, out, ids = rendered
    m = scene.model
    base = m.body(scene.robot.model.base_body).id
    robot_geom = m.body_rootid[m.geom_bodyid] == base
    grip_bodies = [m.body(b).id for b in scene.robot.gripper_bodies]
    gripper_geom = np.isin(m.geom_bodyid, grip_bodies)
    objid, objtype = ids[..., 0], ids[..., 1]
    is_geom = (objtype == int(mujoco.mjtObj.mjOBJ_GEOM)) & (objid >= 0)
    expected = np.zeros(objid.shape, dtype=np.uint8)
    g = objid[is_geom]
    expected[is_geom] = np.where(gripper_geom[g], 2, np.where(robot_geom[g], 1, 0))
    np.testing.assert_array_equal(out["seg"], expected)


def test_depth_is_zero_on_the_sky(rendered):
    scene, data, _, out, _ = rendered
    rays, _ = pixel_rays(scene, data)
    sky = (rays[..., 2] > 0) & (out["seg"] == 0)  # pointing above the horizon, no robot there
    assert sky.sum() > 100, "the front camera sees no sky; pick another check"
    assert np.all(out["depth"][sky] == 0)
    assert np.all(out["depth"][out["seg"] > 0] > 0)  # every robot pixel has a depth


def test_table_depth_matches_the_plane(rendered):
    scene, data, _, out, ids = rendered
    task = scene.task
    rays, origin = pixel_rays(scene, data)
    t = (task.table_height - origin[2]) / rays[..., 2]  # z-depth [m]: rays have camera z = 1
    hit = origin + t[..., None] * rays
    cx, cy = task.table_center_xy[:2]
    sx, sy = task.table_size[:2]
    on_table = (t > 0) & (np.abs(hit[..., 0] - cx) < sx / 2 - TABLE_EDGE_MARGIN_M) & (np.abs(hit[..., 1] - cy) < sy / 2 - TABLE_EDGE_MARGIN_M)
    # MuJoCo's geom-id pass says the pixel shows the table top (not the robot, not a prop
    # standing in front of the table behind it)
    table_top = scene.model.geom("statgen/table_top").id
    on_table &= (ids[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)) & (ids[..., 0] == table_top)
    assert on_table.sum() > MIN_TABLE_PIXELS
    expected_mm = t[on_table] * 1000.0
    got_mm = out["depth"][on_table].astype(float)
    err = np.abs(got_mm - expected_mm)
    bad = err > DEPTH_ABS_TOL_MM + DEPTH_REL_TOL * expected_mm
    assert not bad.any(), f"{bad.sum()} of {bad.size} table pixels off; worst {err.max():.1f} mm"


def test_depth_at_the_tcp(rendered):
    """Optional-strength check: where the TCP's pixel shows the gripper, its depth is near ee_depth."""
    _, _, labels, out, _ = rendered
    c = labels.cameras["front"]
    u, v = (int(round(x)) for x in c.ee_pixel)
    if out["seg"][v, u] != 2:
        pytest.skip("the TCP's pixel shows something behind the open fingers")
    assert abs(float(out["depth"][v, u]) - c.ee_depth * 1000.0) < TCP_SURFACE_TOL_MM
