"""Self-checks of tests/fk_reference.py against MuJoCo.

MuJoCo is allowed here (and only here): this file checks the reference itself, so that
other tests can use the reference as independent truth for statgen's FK.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fk_reference as ref  # noqa: E402

POS_TOL = 1e-6  # m
ROT_TOL = 1e-6  # rad
N_CONFIGS = 50


def _menagerie_root() -> Path:
    env = os.environ.get("MENAGERIE_ROOT")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "assets" / "menagerie"


PANDA_XML = _menagerie_root() / "franka_emika_panda" / "panda.xml"
needs_panda = pytest.mark.skipif(
    not PANDA_XML.is_file(), reason=f"Menagerie Panda not found at {PANDA_XML}"
)


def rot_angle(Ra: np.ndarray, Rb: np.ndarray) -> float:
    """Angle [rad] of Ra^T Rb (robust near 0 via the skew part)."""
    D = Ra.T @ Rb
    s = np.linalg.norm([D[2, 1] - D[1, 2], D[0, 2] - D[2, 0], D[1, 0] - D[0, 1]]) / 2
    c = (np.trace(D) - 1) / 2
    return float(np.arctan2(s, c))


def assert_pose_close(Ta, Tb, what=""):
    dp = np.linalg.norm(Ta[:3, 3] - Tb[:3, 3])
    dr = rot_angle(Ta[:3, :3], Tb[:3, :3])
    assert dp < POS_TOL and dr < ROT_TOL, f"{what}: |dp|={dp:.3e} m, rot={dr:.3e} rad"
    np.testing.assert_allclose(Ta[3], [0, 0, 0, 1], atol=0)


def mj_body_pose(m, d, name: str) -> np.ndarray:
    i = m.body(name).id
    return ref.homogeneous(d.xmat[i].reshape(3, 3), d.xpos[i])


def mj_site_pose(m, d, name: str) -> np.ndarray:
    i = m.site(name).id
    return ref.homogeneous(d.site_xmat[i].reshape(3, 3), d.site_xpos[i])


def sample_q(m, joint_names, rng) -> np.ndarray:
    """Uniform within the joint range; [-pi, pi] for unlimited hinges."""
    q = []
    for n in joint_names:
        j = m.joint(n)
        lo, hi = (j.range if m.jnt_limited[j.id] else (-np.pi, np.pi))
        q.append(rng.uniform(lo, hi))
    return np.array(q)


# ----------------------------------------------------------------------------------
# Panda
# ----------------------------------------------------------------------------------

PANDA_JOINTS = [f"joint{i}" for i in range(1, 8)]


@pytest.fixture(scope="module")
def panda_model():
    m = mujoco.MjModel.from_xml_path(str(PANDA_XML))
    return m, mujoco.MjData(m)


@needs_panda
def test_panda_dh_and_mjcf_match_mujoco(panda_model):
    m, d = panda_model
    rng = np.random.default_rng(0)
    # link0 is a child of world with identity pose, so world == link0 frame here
    assert np.allclose(m.body_pos[m.body("link0").id], 0)
    qadr = [m.jnt_qposadr[m.joint(n).id] for n in PANDA_JOINTS]
    T_hand_tcp = ref.homogeneous(p=(0, 0, ref.PANDA_TCP_OFFSET))
    for k in range(N_CONFIGS):
        q = sample_q(m, PANDA_JOINTS, rng)
        d.qpos[:] = 0
        d.qpos[qadr] = q
        mujoco.mj_kinematics(m, d)
        T_mj_tcp = mj_body_pose(m, d, "hand") @ T_hand_tcp

        # (a) DH + flange->hand->TCP
        T_dh_tcp = ref.panda_tcp_from_flange(ref.panda_dh_fk(q))
        assert_pose_close(T_dh_tcp, T_mj_tcp, f"config {k}: DH vs MuJoCo")

        # (b) generic MJCF chain
        T_chain_tcp = ref.mjcf_chain_fk(
            PANDA_XML, tip_body="hand", root_body="link0",
            q=dict(zip(PANDA_JOINTS, q)), tip_offset=(0, 0, ref.PANDA_TCP_OFFSET),
        )
        assert_pose_close(T_chain_tcp, T_mj_tcp, f"config {k}: MJCF chain vs MuJoCo")
        assert_pose_close(T_chain_tcp, T_dh_tcp, f"config {k}: MJCF chain vs DH")

        # every intermediate DH frame i is exactly the Menagerie body link<i>
        for i, T_dh_i in enumerate(ref.panda_dh_frames(q)[:7], start=1):
            assert_pose_close(T_dh_i, mj_body_pose(m, d, f"link{i}"), f"config {k}: link{i}")


@needs_panda
def test_panda_home_pose_known_values():
    # All zeros: flange straight above at (0.088, 0, 0.333+0.316+0.384-0.107), z down.
    T = ref.panda_dh_fk(np.zeros(7))
    np.testing.assert_allclose(T[:3, 3], [0.088, 0, 0.926], atol=1e-12)
    np.testing.assert_allclose(T[:3, :3], np.diag([1, -1, -1]), atol=1e-12)
    T_tcp = ref.panda_tcp_from_flange(T)
    np.testing.assert_allclose(T_tcp[:3, 3], [0.088, 0, 0.926 - 0.1034], atol=1e-12)


# ----------------------------------------------------------------------------------
# Jaco (dm_control bundled arm + hand)
# ----------------------------------------------------------------------------------

def build_jaco_with_hand():
    """Arm + hand as one MjModel via MjSpec (mujoco 3.17).

    What works (both give identical models):
        arm  = mujoco.MjSpec.from_file(".../kinova/jaco_arm.xml")
        hand = mujoco.MjSpec.from_file(".../kinova/jaco_hand.xml")
        arm.site("wristsite").attach_body(hand.body("hand"), "hand/", "")
    or equivalently
        arm.attach(hand, prefix="hand/", site="wristsite")   # site may be the MjsSite too
    The hand body keeps its own pos/quat, expressed in the site frame. Resulting
    names: arm names unchanged (b_base, b_1..b_6, joint_1..joint_6, site wristsite);
    hand names prefixed: bodies hand/hand, hand/b_finger_{1,2,3},
    hand/b_finger_tip_{1,2,3}; joints hand/finger_{1,2,3}; sites hand/gripsite,
    hand/pinchsite. nq = 9 (6 arm + 3 finger hinges).
    """
    d = ref.jaco_dir()
    arm = mujoco.MjSpec.from_file(str(d / "jaco_arm.xml"))
    hand = mujoco.MjSpec.from_file(str(d / "jaco_hand.xml"))
    arm.site("wristsite").attach_body(hand.body("hand"), "hand/", "")
    return arm.compile()


def test_jaco_pinch_matches_mujoco():
    m = build_jaco_with_hand()
    d = mujoco.MjData(m)
    assert m.nq == 9
    assert m.body("hand/hand").parentid == m.body("b_6").id
    # b_base is a child of world with identity pose, so world == base frame
    assert np.allclose(m.body_pos[m.body("b_base").id], 0)
    assert np.allclose(m.body_quat[m.body("b_base").id], [1, 0, 0, 0])
    joints = list(ref.JACO_ARM_JOINTS)
    qadr = [m.jnt_qposadr[m.joint(n).id] for n in joints]
    rng = np.random.default_rng(1)
    for k in range(N_CONFIGS):
        q = sample_q(m, joints, rng)
        d.qpos[:] = 0
        d.qpos[qadr] = q
        mujoco.mj_kinematics(m, d)
        assert_pose_close(ref.jaco_pinch_fk(q), mj_site_pose(m, d, "hand/pinchsite"),
                          f"config {k}: Jaco pinchsite")
        T_b6 = ref.mjcf_chain_fk(ref.jaco_dir() / "jaco_arm.xml", tip_body="b_6",
                                 root_body="b_base", q=dict(zip(joints, q)))
        assert_pose_close(T_b6, mj_body_pose(m, d, "b_6"), f"config {k}: Jaco b_6")
        # the hand frame coincides with b_6 (wristsite quat * hand quat = identity)
        assert_pose_close(T_b6, mj_body_pose(m, d, "hand/hand"), f"config {k}: Jaco hand")


def test_jaco_attach_via_spec_attach_is_equivalent():
    d = ref.jaco_dir()
    arm = mujoco.MjSpec.from_file(str(d / "jaco_arm.xml"))
    hand = mujoco.MjSpec.from_file(str(d / "jaco_hand.xml"))
    arm.attach(hand, prefix="hand/", site="wristsite")
    m2 = arm.compile()
    m1 = build_jaco_with_hand()
    names = lambda m: [m.body(i).name for i in range(m.nbody)]  # noqa: E731
    assert names(m1) == names(m2)
    np.testing.assert_allclose(m1.body_quat, m2.body_quat)
    np.testing.assert_allclose(m1.site_pos, m2.site_pos)


# ----------------------------------------------------------------------------------
# parser details on synthetic MJCF (euler with degrees, joint anchors, slide, ref)
# ----------------------------------------------------------------------------------

SYNTH = """
<mujoco>
  <compiler angle="degree" eulerseq="zyx"/>
  <default>
    <joint axis="1 0 0"/>
    <default class="c"><joint axis="0 1 0"/></default>
  </default>
  <worldbody>
    <body name="a" pos="0.1 0.2 0.3" euler="10 20 30">
      <body name="b" pos="0.3 0 0" axisangle="1 1 0 40" childclass="c">
        <joint name="h1" pos="0.05 0.02 0" ref="15"/>
        <joint name="h2" type="hinge" class="main"/>
        <geom size="0.01"/>
        <body name="c" pos="0 0 0.2" xyaxes="0 1 0 -1 0 0">
          <joint name="s1" type="slide" axis="0 0.6 0.8"/>
          <geom size="0.01"/>
          <body name="d" zaxis="1 1 1" pos="0.01 0.02 0.03"/>
        </body>
      </body>
    </body>
  </worldbody>
</mujoco>
"""


def test_parser_matches_mujoco_on_synthetic(tmp_path):
    p = tmp_path / "synth.xml"
    p.write_text(SYNTH)
    m = mujoco.MjModel.from_xml_path(str(p))
    d = mujoco.MjData(m)
    rng = np.random.default_rng(2)
    for _ in range(10):
        q = {"h1": rng.uniform(-3, 3), "h2": rng.uniform(-3, 3), "s1": rng.uniform(-0.2, 0.2)}
        for n, v in q.items():
            d.qpos[m.jnt_qposadr[m.joint(n).id]] = v
        mujoco.mj_kinematics(m, d)
        T = ref.mjcf_chain_fk(p, tip_body="d", q=q, tip_offset=(0.1, -0.2, 0.3))
        T_mj = mj_body_pose(m, d, "d") @ ref.homogeneous(p=(0.1, -0.2, 0.3))
        assert_pose_close(T, T_mj, "synthetic world->d")
        T_rel = ref.mjcf_chain_fk(p, tip_body="d", root_body="a", q=q)
        T_mj_rel = np.linalg.inv(mj_body_pose(m, d, "a")) @ mj_body_pose(m, d, "d")
        assert_pose_close(T_rel, T_mj_rel, "synthetic a->d")
