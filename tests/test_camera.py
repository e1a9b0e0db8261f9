"""Camera intrinsics/extrinsics/projection (statgen.core.camera) against rendered pixels.

The projection test renders small marker spheres with MuJoCo's segmentation pass and
compares each marker's pixel centroid (the mean of its pixels' integer (column, row)
indices, DESIGN.md) with statgen's projection of the marker centre through
K = intrinsics(...) and T_world_cam = T_world_camera(data, cam_id).
One mujoco.Renderer is alive at a time: each is closed before the next is created.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from conftest import make_scene, make_spec
from statgen.core import camera as cam
from statgen.sim.labels import T_world_body, T_world_camera
from statgen.sim.scene import set_configuration
from statgen.sim.scene import Scene, index_scene

# Rasterising a marker of ~3.5-5 px radius puts its pixel centroid within ~0.2 px of
# the true image centre (boundary pixels come and go); an off-by-half-pixel convention
# error (cx = W/2 instead of (W-1)/2) or a flipped axis would exceed 0.5 px.
CENTROID_TOL_PX = 0.5
# The mean centroid error over all markers; a systematic half-pixel shift would give 0.5.
MEAN_TOL_PX = 0.25
# A sphere projects to an ellipse whose centre is pushed outwards from the projected
# sphere centre by f * [(tan(t + a) + tan(t - a)) / 2 - tan t] (t: off-axis angle,
# sin a = r / d). We keep that below this, well under CENTROID_TOL_PX.
MAX_PERSPECTIVE_BIAS_PX = 0.1
MARKER_RADIUS_M = 0.015
HAND_MARKER_RADIUS_M = 0.004  # 0.13 m from the wrist camera: ~4.5 px radius
MARKER_RGBA = [1.0, 0.0, 1.0, 1.0]
MIN_MARKER_PIXELS = 20  # ~pi * 3.5^2: the marker must be resolved, not a speck
# camera-relative placements: (distance along the view axis [m], right, up as a fraction of it)
PLACEMENTS = [(0.8, 0.0, 0.0), (0.8, 0.25, 0.2), (0.8, -0.3, 0.1), (0.9, 0.2, -0.3), (0.7, -0.2, -0.25),
              (1.0, 0.4, 0.0), (0.65, 0.0, 0.3), (0.75, -0.38, -0.05)]
SIZES = [(224, 224), (320, 200)]  # (W, H): square and non-square
RIGID_TOL = 1e-9  # float round-off of composing two rigid transforms


def camera_axes(eye, target):
    """Forward, right, up of a level camera at eye looking at target (world, unit)."""
    f = np.asarray(target, float) - np.asarray(eye, float)
    f /= np.linalg.norm(f)
    r = np.cross(f, [0.0, 0.0, 1.0])
    r /= np.linalg.norm(r)
    return f, r, np.cross(r, f)


def sphere_bias_px(f_px, off_axis_rad, radius, dist):
    a = np.arcsin(radius / dist)
    t = off_axis_rad
    return f_px * ((np.tan(t + a) + np.tan(t - a)) / 2 - np.tan(t))


def render_ids(model, data, camera, width, height):
    """(H, W, 2) segmentation (object id, object type) from a renderer that is closed on return."""
    r = mujoco.Renderer(model, height=height, width=width)
    try:
        r.enable_segmentation_rendering()
        r.update_scene(data, camera=camera)
        return r.render().copy()
    finally:
        r.close()


def centroid(ids, geom_id):
    mask = (ids[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)) & (ids[..., 0] == geom_id)
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()]) if rows.size else None, int(rows.size)


# ----------------------------------------------------------------------------- intrinsics


def test_intrinsics_by_hand():
    # 320x200, fovy 60 deg: f = 100 / tan(30 deg) = 100 * sqrt(3)
    K = cam.intrinsics(width=320, height=200, fovy_deg=60.0)
    np.testing.assert_allclose(K, [[100 * np.sqrt(3), 0, 159.5], [0, 100 * np.sqrt(3), 99.5], [0, 0, 1]], rtol=1e-12)
    # 224x224, fovy 90 deg: f = 112 / tan(45 deg) = 112
    np.testing.assert_allclose(cam.intrinsics(width=224, height=224, fovy_deg=90.0), [[112, 0, 111.5], [0, 112, 111.5], [0, 0, 1]], rtol=1e-12)


def test_project_by_hand():
    K = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    T = np.eye(4)  # camera at the origin, OpenCV axes = world axes
    pr = cam.project(K=K, T_world_cam=T, p_world=np.array([0.1, -0.2, 2.0]))
    np.testing.assert_allclose(pr.pixel, [50 + 100 * 0.05, 40 - 100 * 0.1])
    assert pr.depth == pytest.approx(2.0)
    behind = cam.project(K=K, T_world_cam=T, p_world=np.array([0.0, 0.0, -1.0]))
    assert behind.pixel is None and behind.depth == pytest.approx(-1.0)
    # camera moved to (1, 0, 0): the same world point shifts left by f * 1 / z
    T[:3, 3] = [1.0, 0, 0]
    np.testing.assert_allclose(cam.project(K=K, T_world_cam=T, p_world=np.array([0.1, -0.2, 2.0])).pixel, [50 - 45, 30])


def test_in_image_edges():
    assert cam.in_image(np.array([-0.5, -0.5]), width=10, height=8)
    assert cam.in_image(np.array([9.5, 7.5]), width=10, height=8)
    assert not cam.in_image(np.array([9.51, 3.0]), width=10, height=8)
    assert not cam.in_image(np.array([3.0, -0.51]), width=10, height=8)
    assert not cam.in_image(None, width=10, height=8)


def test_mujoco_to_opencv_axes():
    # a MuJoCo camera with identity orientation looks along world -z with y up; in OpenCV
    # terms its z (forward) is world -z and its y (down) is world -y
    T = cam.T_world_cam_from_mujoco(pos=np.zeros(3), R_world_mjcam=np.eye(3))
    np.testing.assert_allclose(T[:3, :3], np.diag([1.0, -1.0, -1.0]))


def test_front_camera_pose_by_hand(franka_scene):
    """T_world_cam of the front camera from tasks/tabletop.toml's pos/target, OpenCV axes."""
    d = mujoco.MjData(franka_scene.model)
    mujoco.mj_forward(franka_scene.model, d)
    c = franka_scene.task.camera("front")
    fwd, right, up = camera_axes(c.pos, c.target)
    T = T_world_camera(d, franka_scene.index.camera_ids["front"])
    np.testing.assert_allclose(T[:3, 3], c.pos, atol=RIGID_TOL)
    np.testing.assert_allclose(T[:3, :3], np.column_stack([right, -up, fwd]), atol=RIGID_TOL)  # x right, y down, z forward


# ----------------------------------------------------------------------------- rendered markers


@pytest.fixture(scope="module")
def marker_scene():
    """franka/tabletop (front camera) plus marker spheres at known world points in view."""
    spec, _children, robot, task = make_spec("franka", ("front",))
    c = task.camera("front")
    fwd, right, up = camera_axes(c.pos, c.target)
    points = [np.array(c.pos) + d * (fwd + a * right + b * up) for d, a, b in PLACEMENTS]
    for i, p in enumerate(points):
        spec.worldbody.add_geom(name=f"test/marker{i}", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[MARKER_RADIUS_M, 0, 0],
                                pos=p.tolist(), rgba=MARKER_RGBA, contype=0, conaffinity=0)
    spec.visual.global_.offwidth = max(w for w, _ in SIZES)
    spec.visual.global_.offheight = max(h for _, h in SIZES)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data, points, fwd


@pytest.mark.parametrize("width, height", SIZES)
def test_marker_centroids_match_projection(marker_scene, width, height):
    model, data, points, fwd = marker_scene
    cam_id = model.camera("front").id
    fovy = float(model.cam_fovy[cam_id])
    K = cam.intrinsics(width=width, height=height, fovy_deg=fovy)
    assert K[0, 0] == K[1, 1] and K[0, 2] == (width - 1) / 2 and K[1, 2] == (height - 1) / 2
    T_world_cam = T_world_camera(data, cam_id)
    ids = render_ids(model, data, "front", width, height)
    f_px = (height / 2) / np.tan(np.deg2rad(fovy) / 2)
    errors = []
    for i, p in enumerate(points):
        v = p - T_world_cam[:3, 3]
        dist = float(np.linalg.norm(v))
        off_axis = float(np.arccos(np.clip(v @ fwd / dist, -1, 1)))
        assert abs(sphere_bias_px(f_px, off_axis, MARKER_RADIUS_M, dist)) < MAX_PERSPECTIVE_BIAS_PX
        got, n = centroid(ids, model.geom(f"test/marker{i}").id)
        assert n >= MIN_MARKER_PIXELS, f"marker {i} at {p.tolist()}: {n} pixels in the {width}x{height} render"
        pr = cam.project(K=K, T_world_cam=T_world_cam, p_world=p)
        assert pr.pixel is not None and pr.depth == pytest.approx(v @ fwd, abs=1e-9)
        err = got - pr.pixel
        errors.append(err)
        assert np.all(np.abs(err) < CENTROID_TOL_PX), f"marker {i}: centroid {got}, projection {pr.pixel}"
    # rasterisation errors average out over the markers; a convention error (e.g. a
    # half-pixel shift) does not
    assert np.abs(np.mean(errors, axis=0)).max() < MEAN_TOL_PX, np.mean(errors, axis=0)
    # the markers span the image, not just its centre
    pix = np.array([cam.project(K=K, T_world_cam=T_world_cam, p_world=p).pixel for p in points])
    assert np.ptp(pix[:, 0]) > width / 3 and np.ptp(pix[:, 1]) > height / 3


def test_square_pixels_on_a_wide_image(marker_scene):
    """fx = fy: a marker's horizontal and vertical pixel offsets scale alike (fovy is vertical)."""
    model, data, points, _ = marker_scene
    cam_id = model.camera("front").id
    T_cam_world = np.linalg.inv(T_world_camera(data, cam_id))
    ids = render_ids(model, data, "front", 320, 200)
    f = 100 / np.tan(np.deg2rad(float(model.cam_fovy[cam_id])) / 2)
    for i, p in enumerate(points):
        x, y, z = T_cam_world[:3, :3] @ p + T_cam_world[:3, 3]
        got, _ = centroid(ids, model.geom(f"test/marker{i}").id)
        # by hand, with one focal length for both axes and the centre at ((W-1)/2, (H-1)/2)
        np.testing.assert_allclose(got, [159.5 + f * x / z, 99.5 + f * y / z], atol=CENTROID_TOL_PX)


# ----------------------------------------------------------------------------- wrist camera


def T_hand_wristcam_by_hand(wc) -> np.ndarray:
    """OpenCV-convention wrist camera pose in its body frame, from robots/<robot>.toml's [wrist_camera]."""
    pos, target, up = (np.array(v, float) for v in (wc.pos, wc.target, wc.up))
    z = (target - pos) / np.linalg.norm(target - pos)  # forward
    x = np.cross(z, up)
    x /= np.linalg.norm(x)  # right
    y = np.cross(z, x)  # down
    T = np.eye(4)
    T[:3, :3] = np.column_stack([x, y, z])
    T[:3, 3] = pos
    return T


def test_wrist_camera_follows_the_hand():
    scene = make_scene("franka", ("front", "wrist"))
    d = mujoco.MjData(scene.model)
    cam_id = scene.index.camera_ids["wrist"]
    hand = scene.model.body(scene.robot.wrist_camera.body).id
    T_hand_cam = T_hand_wristcam_by_hand(scene.robot.wrist_camera)
    poses = []
    for q in ([0, 0, 0, -1.57079, 0, 1.57079, -0.7853], [0.8, -0.4, 0.3, -2.2, 0.5, 2.5, 0.2]):
        set_configuration(scene, d, q_arm=np.array(q), open_fraction=0.5)
        T = T_world_camera(d, cam_id)
        np.testing.assert_allclose(T, T_world_body(d, hand) @ T_hand_cam, atol=RIGID_TOL)
        poses.append(T)
    assert np.linalg.norm(poses[0][:3, 3] - poses[1][:3, 3]) > 0.1  # the camera moved with the arm
    assert np.abs(poses[0][:3, :3] - poses[1][:3, :3]).max() > 0.1  # and turned


def test_wrist_camera_sees_a_hand_marker_where_projected():
    """A marker fixed to the hand in front of the wrist camera lands where statgen projects it."""
    spec, _children, robot, task = make_spec("franka", ("front", "wrist"))
    wc = robot.wrist_camera
    T_hand_cam = T_hand_wristcam_by_hand(wc)
    # 0.13 m ahead of the camera, shifted up-image (-y) past the fingers; hand frame
    p_hand = T_hand_cam[:3, :3] @ np.array([0.0, -0.03, 0.13]) + T_hand_cam[:3, 3]
    spec.body(wc.body).add_geom(name="test/hand_marker", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[HAND_MARKER_RADIUS_M, 0, 0],
                                pos=p_hand.tolist(), rgba=MARKER_RGBA, contype=0, conaffinity=0)
    model = spec.compile()
    cams = ("front", "wrist")
    # the marker is appended last, so the robot's ids are unchanged; index the augmented model
    scene = Scene(model=model, index=index_scene(model, robot=robot, cameras=cams), robot=robot, task=task, cameras=cams)
    d = mujoco.MjData(model)
    c = task.camera("wrist")
    cam_id = model.camera("wrist").id
    K = cam.intrinsics(width=c.width, height=c.height, fovy_deg=float(model.cam_fovy[cam_id]))
    gid = model.geom("test/hand_marker").id
    v = p_hand - T_hand_cam[:3, 3]
    off_axis = float(np.arccos(v @ T_hand_cam[:3, 2] / np.linalg.norm(v)))
    assert abs(sphere_bias_px(K[1, 1], off_axis, HAND_MARKER_RADIUS_M, float(np.linalg.norm(v)))) < MAX_PERSPECTIVE_BIAS_PX
    for q in ([0, 0, 0, -1.57079, 0, 1.57079, -0.7853], [0.8, -0.4, 0.3, -2.2, 0.5, 2.5, 0.2]):
        set_configuration(scene, d, q_arm=np.array(q), open_fraction=1.0)
        p_world = d.geom_xpos[gid]
        pr = cam.project(K=K, T_world_cam=T_world_camera(d, cam_id), p_world=p_world)
        ids = render_ids(model, d, "wrist", c.width, c.height)
        got, n = centroid(ids, gid)
        assert n >= MIN_MARKER_PIXELS, f"hand marker: {n} pixels"
        assert np.all(np.abs(got - pr.pixel) < CENTROID_TOL_PX), (got, pr.pixel)
