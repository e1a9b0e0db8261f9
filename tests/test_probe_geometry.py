"""The probe's camera geometry (bench/probe.py --frame camera, bench/probe_views.py): a TCP pixel
and depth back-projected, or two TCP pixels triangulated, through each sample's stored K and
T_base_cam, land on the TCP position. Checked against points projected by hand here, and
against a generated dataset's own FK labels; the refinement cascade's options; and what the
networks see (--normalise). Plain numpy: runs without the probe extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import probe  # noqa: E402
import probe_views  # noqa: E402


def _cameras(rng, n):
    """n random calibrated cameras looking at the origin from 0.8-2 m: K (fx != fy, off-centre
    principal point) and T_base_cam (OpenCV axes: z forward, y down)."""
    K = np.zeros((n, 3, 3))
    K[:, 0, 0], K[:, 1, 1] = rng.uniform(150, 700, n), rng.uniform(150, 700, n)
    K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = rng.uniform(80, 400, n), rng.uniform(60, 300, n), 1.0
    T = np.tile(np.eye(4), (n, 1, 1))
    T[:, :3, :3] = Rotation.random(n, random_state=rng.integers(1 << 31)).as_matrix()
    T[:, :3, 3] = -T[:, :3, 2] * rng.uniform(0.8, 2.0, (n, 1))  # the optical axis passes the origin
    return K, T


def _project(points, K, T_base_cam):
    """Pixels (N x 2) and depths (N) of base-frame points, written out here: p_cam = R^T (p - t)."""
    p_cam = np.einsum("nji,nj->ni", T_base_cam[:, :3, :3], points - T_base_cam[:, :3, 3])
    z = p_cam[:, 2]
    return np.c_[K[:, 0, 0] * p_cam[:, 0] / z + K[:, 0, 2], K[:, 1, 1] * p_cam[:, 1] / z + K[:, 1, 2]], z


def test_backproject_and_triangulate_recover_points_projected_by_hand():
    rng = np.random.default_rng(0)
    n = 200
    points = rng.uniform(-0.3, 0.3, (n, 3))
    (K1, T1), (K2, T2) = _cameras(rng, n), _cameras(rng, n)
    (px1, z1), (px2, _) = _project(points, K1, T1), _project(points, K2, T2)
    assert (z1 > 0).all()
    np.testing.assert_allclose(probe.backproject(px1, z1, K1, T1), points, atol=1e-9)
    np.testing.assert_allclose(probe_views.triangulate_views(*probe_views.view_rays([px1, px2], [(K1, T1), (K2, T2)])), points, atol=1e-9)
    # a pixel error moves the triangulated point: the function reads the pixels it is given
    moved = probe_views.triangulate_views(*probe_views.view_rays([px1 + [5.0, 0.0], px2], [(K1, T1), (K2, T2)]))
    assert np.median(np.linalg.norm(moved - points, axis=1)) > 1e-3


def test_three_views_leave_out_the_ray_of_a_wrong_pixel():
    """With three views, a pixel 40 px off in one of them (a different view per row) moves the
    least-squares point of all three rays, but triangulate_views leaves that ray out and lands
    on the point the other two give."""
    rng = np.random.default_rng(1)
    n = 300
    points = rng.uniform(-0.3, 0.3, (n, 3))
    cams = [_cameras(rng, n) for _ in range(3)]
    pix = [_project(points, K, T)[0] for K, T in cams]
    np.testing.assert_allclose(probe_views.triangulate_views(*probe_views.view_rays(pix, cams)), points, atol=1e-9)
    # small pixel noise everywhere, and one view per row 40 px off
    noisy = [p + rng.normal(0.0, 0.5, p.shape) for p in pix]
    wrong = rng.integers(0, 3, n)
    for v in range(3):
        noisy[v][wrong == v] += [40.0, 0.0]
    origins, dirs = probe_views.view_rays(noisy, cams)
    robust = np.linalg.norm(probe_views.triangulate_views(origins, dirs) - points, axis=1)
    every = np.linalg.norm(probe_views.nearest_point(origins, dirs) - points, axis=1)
    good_pair = np.array([np.linalg.norm(probe_views.nearest_point(origins[[u for u in range(3) if u != w]][:, [i]],
                                                                   dirs[[u for u in range(3) if u != w]][:, [i]])[0] - points[i])
                          for i, w in enumerate(wrong)])
    assert np.median(robust) < 0.3 * np.median(every), (np.median(robust), np.median(every))
    # the two good views' point, wherever the wrong ray was left out (most rows)
    assert np.mean(np.isclose(robust, good_pair, rtol=0, atol=1e-9)) > 0.9


def test_a_datasets_labelled_pixels_give_its_fk_positions(small_dataset):
    """The dataset's conventions (ee_pixel, ee_depth, K, T_world_cam, T_world_base) are the ones
    the probe assumes: its labelled front pixel and depth back-project, and its front and wrist
    pixels triangulate, onto the FK position `state.ee_pos` (base frame)."""
    samples = [r[1] for r in probe.read_records(probe.dataset_shards(Path(small_dataset)), "front")]
    pos = np.array([s["state"]["ee_pos"] for s in samples])
    pix = {c: np.array([s["cameras"][c]["ee_pixel"] for s in samples]) for c in ("front", "wrist")}
    depth, K, T = probe.calibration_of(samples, "front")
    np.testing.assert_allclose(probe.backproject(pix["front"], depth, K, T), pos, atol=1e-6)
    cal, _ = probe_views.calibrations(Path(small_dataset), ["front", "wrist"], len(samples))
    est = probe_views.triangulate_views(*probe_views.view_rays([pix["front"], pix["wrist"]], [cal["front"], cal["wrist"]]))
    np.testing.assert_allclose(est, pos, atol=1e-6)


@pytest.mark.parametrize("argv, reason", [
    (["--refine", "48"], "add --frame camera"),
    (["--frame", "camera", "--refine", "48,8"], "at least 16 px"),
    (["--frame", "camera", "--refine", "64,32", "--refine-epochs", "10"], "--refine-epochs: expected 2 value(s)"),
    (["--frame", "camera", "--refine", "64,32", "--refine-jitter", "24,8,4"], "--refine-jitter: expected 2 value(s)"),
    (["--frame", "camera", "--refine", "64,x"], "expected comma-separated whole numbers"),
    (["--frame", "camera", "--refine", "64", "--refine-epochs", "0"], "at least 1 epoch"),
    (["--frame", "camera", "--refine-epochs", "20"], "add --refine"),
    (["--frame", "camera", "--refine", "64,0"], "at least 16 px"),
    (["--frame", "camera", "--refine", "64", "--refine-jitter=-5"], "expected offsets of 0 px or more"),
    (["--frame", "camera", "--refine", "64", "--refine-jitter", "nan"], "expected offsets of 0 px or more"),
    (["--frame", "camera", "--refine", "64.5"], "whole numbers"),
    (["--epochs", "0", "--frame", "camera", "--refine", "64"], "--epochs 0: expected at least 1"),
    (["--normalise", "bright"], "argument --normalise: invalid choice"),
    (["--frame", "camera", "--refine-n", "30000"], "add --refine"),
    (["--frame", "camera", "--refine", "64", "--refine-n", "10"], "--refine-n 10: expected at least one batch of samples (--batch 64)"),
])
def test_bad_probe_options_exit_2_with_the_reason(tmp_path, argv, reason):
    p = subprocess.run([sys.executable, probe.__file__, str(tmp_path), *argv], capture_output=True, text=True)
    assert p.returncode == 2 and reason in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_standardised_input_sees_a_dark_window_like_a_bright_one():
    """--normalise: a window at a third of the brightness (plus an offset) reaches the network as
    the bright one did, up to the scale the 0.02 added to the spread leaves and to rounding; one
    spread over pixels and channels (channels of different contrast: a per-channel spread would
    fail). Unstandardised, the dark window is another input; a flat window stays flat."""
    rng = np.random.default_rng(0)
    gain = np.array([1.0, 0.6, 0.3])
    bright = (40 + rng.integers(0, 256, size=(2, 16, 16, 3)) * 0.8 * gain).round().astype(np.uint8)
    dark = (5 + bright / 3).round().astype(np.uint8)
    a, b = (np.asarray(probe.network_input(x, standardise=True), np.float64) for x in (bright, dark))
    for x, out in ((bright, a), (dark, b)):
        spread = (x / 255.0).std(axis=(1, 2, 3))
        np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
        np.testing.assert_allclose(out.std(axis=(1, 2, 3)), spread / (spread + 0.02), rtol=1e-3)
    unit = lambda out: out / out.std(axis=(1, 2, 3), keepdims=True)  # noqa: E731
    assert np.abs(unit(a) - unit(b)).max() < 0.05  # the same picture (rounding: about 0.02 here)
    raw = [np.asarray(probe.network_input(x, standardise=False), np.float64) for x in (bright, dark)]
    np.testing.assert_allclose(raw[0], bright / 255.0 - 0.5, atol=1e-6)
    assert np.abs(raw[0] - raw[1]).mean() > 0.2
    flat = np.full((1, 8, 8, 3), 128, np.uint8)
    assert np.abs(np.asarray(probe.network_input(flat, standardise=True))).max() < 1e-5


def test_head_cuts_every_per_sample_array_and_nothing_else():
    """--refine-n: the first network trains on head(train, --n) of a longer split; every
    per-sample array is cut to n rows (labels, calibration, decoded images), the image size stays."""
    n_all, n = 7, 3
    rng = np.random.default_rng(1)
    s = probe.Split("train", rng.integers(0, 255, (n_all, 8, 8, 3), dtype=np.uint8), rng.normal(size=(n_all, 3)),
                    rng.normal(size=(n_all, 6)), rng.integers(0, 2, n_all).astype(float), rng.normal(size=(n_all, 2)), (224, 224),
                    depth=rng.normal(size=n_all), K=rng.normal(size=(n_all, 3, 3)), T_base_cam=rng.normal(size=(n_all, 4, 4)),
                    full=rng.integers(0, 255, (n_all, 16, 16, 3), dtype=np.uint8), raw=[bytes([i]) for i in range(n_all)])
    h = probe.head(s, n)
    for name in ("images", "pos", "rot6d", "gripper", "pixel", "depth", "K", "T_base_cam", "full"):
        np.testing.assert_array_equal(getattr(h, name), getattr(s, name)[:n], err_msg=name)
        assert len(getattr(h, name)) == n, name
    assert h.raw == [bytes([i]) for i in range(n)] and h.image_hw == (224, 224) and h.patches is None and h.name == "train"
    assert np.shares_memory(h.full, s.full) and np.shares_memory(h.images, s.images)  # views: no second copy
