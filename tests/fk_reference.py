"""Independent forward-kinematics reference for the tests.

Nothing here uses MuJoCo's kinematics (no MjModel/MjData/mj_kinematics). It is the
analytic "truth" that statgen's MuJoCo-based FK is compared against. Two routes:

* ``panda_dh_fk``: the Franka Emika Panda's published modified (Craig) DH table.
* ``mjcf_chain_fk``: a small, generic MJCF parser (xml.etree) that composes the body
  pos/orientation and joint transforms from a root body down to a tip body.

Conventions (see /work/shared/DESIGN.md): metres, radians, quaternions wxyz,
``T_a_b`` maps frame-b coordinates into frame a.

Frame alignment (checked numerically in tests/test_fk_reference.py, agreement ~1e-15):
* The DH base frame 0 is exactly the Menagerie ``link0`` body frame, and every DH
  frame i (i = 1..7) is exactly the Menagerie ``link<i>`` body frame (the MJCF was
  written from the same DH table: e.g. link2 quat "1 -1 0 0" is Rx(-pi/2) = alpha_1,
  link3 pos (0,-0.316,0) + quat "1 1 0 0" is Rx(pi/2) Tz(0.316)). No fixed offsets.
* The DH flange frame (link7 + d=0.107) has the flange's orientation, i.e. link7's;
  the Menagerie ``hand`` body is the flange rotated by -pi/4 about z
  (quat 0.9238795 0 0 -0.3826834). The TCP is 0.1034 m along the hand's z axis.
* Jaco: the hand body's quat (0, .707, .707, 0) composed with the wristsite's quat
  (0, .707, .707, 0) is the identity (a 180-degree rotation applied twice), so the
  Jaco ``hand`` frame coincides with the ``b_6`` frame; the pinchsite is then a fixed
  offset pos (0.015, 0.0024, -0.193), rotation quat (0, .707, .707, 0) from b_6.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

__all__ = [
    "PANDA_DH",
    "PANDA_FLANGE_D",
    "PANDA_HAND_YAW",
    "PANDA_TCP_OFFSET",
    "panda_dh_fk",
    "panda_tcp_from_flange",
    "mjcf_chain_fk",
    "mjcf_site_pose",
    "jaco_dir",
    "jaco_pinch_fk",
    "JACO_ARM_JOINTS",
    "ComposedChain",
    "homogeneous",
    "quat_wxyz_to_matrix",
]

# ----------------------------------------------------------------------------------
# small rotation helpers (pure numpy)
# ----------------------------------------------------------------------------------


def homogeneous(R: np.ndarray | None = None, p: Sequence[float] | None = None) -> np.ndarray:
    T = np.eye(4)
    if R is not None:
        T[:3, :3] = R
    if p is not None:
        T[:3, 3] = p
    return T


def quat_wxyz_to_matrix(q: Sequence[float]) -> np.ndarray:
    """Rotation matrix of a (possibly unnormalised, like MJCF's) wxyz quaternion."""
    w, x, y, z = np.asarray(q, dtype=float) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def axis_angle_matrix(axis: Sequence[float], angle: float) -> np.ndarray:
    """Rodrigues' formula for a rotation of ``angle`` rad about ``axis`` (normalised here)."""
    k = np.asarray(axis, dtype=float)
    k = k / np.linalg.norm(k)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * (K @ K)


def _rotx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rotz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# ----------------------------------------------------------------------------------
# 1. Panda, published modified DH parameters (Franka docs, "Robot and interface
#    specifications"), Craig convention:
#    T_{i-1,i} = RotX(alpha_{i-1}) TransX(a_{i-1}) RotZ(theta_i) TransZ(d_i)
# ----------------------------------------------------------------------------------

#: rows (a_{i-1}, d_i, alpha_{i-1}) for joints 1..7, metres / radians
PANDA_DH: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.333, 0.0),
    (0.0, 0.0, -np.pi / 2),
    (0.0, 0.316, np.pi / 2),
    (0.0825, 0.0, np.pi / 2),
    (-0.0825, 0.384, -np.pi / 2),
    (0.0, 0.0, np.pi / 2),
    (0.088, 0.0, np.pi / 2),
)
#: flange: a=0, alpha=0, theta=0, d=0.107
PANDA_FLANGE_D = 0.107
#: Menagerie hand = flange rotated by this angle about the flange z axis
PANDA_HAND_YAW = -np.pi / 4
#: TCP along the hand's z axis
PANDA_TCP_OFFSET = 0.1034


def _mdh(a: float, d: float, alpha: float, theta: float) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = _rotx(alpha) @ _rotz(theta)
    # translation = TransX(a) then RotX(alpha) applied to (0, 0, d)
    T[:3, 3] = np.array([a, 0.0, 0.0]) + _rotx(alpha) @ np.array([0.0, 0.0, d])
    return T


def panda_dh_frames(q: np.ndarray) -> list[np.ndarray]:
    """[T_link0_link1, ..., T_link0_link7, T_link0_flange] from the DH table."""
    q = np.asarray(q, dtype=float).reshape(-1)
    if q.shape != (7,):
        raise ValueError(f"panda_dh_fk needs 7 joint angles, got shape {q.shape}")
    T = np.eye(4)
    out = []
    for (a, d, alpha), th in zip(PANDA_DH, q):
        T = T @ _mdh(a, d, alpha, th)
        out.append(T.copy())
    out.append(T @ _mdh(0.0, PANDA_FLANGE_D, 0.0, 0.0))
    return out


def panda_dh_fk(q: np.ndarray) -> np.ndarray:
    """T_link0_flange (4x4) for 7 joint angles [rad], from the published DH table."""
    return panda_dh_frames(q)[-1]


def panda_tcp_from_flange(T_link0_flange: np.ndarray) -> np.ndarray:
    """T_link0_tcp: flange -> Menagerie hand (Rz(-pi/4)) -> 0.1034 m along hand z."""
    T_flange_hand = homogeneous(_rotz(PANDA_HAND_YAW))
    T_hand_tcp = homogeneous(p=(0.0, 0.0, PANDA_TCP_OFFSET))
    return np.asarray(T_link0_flange) @ T_flange_hand @ T_hand_tcp


def panda_hand_from_flange(T_link0_flange: np.ndarray) -> np.ndarray:
    """T_link0_hand (the Menagerie body "hand"), without the TCP offset."""
    return np.asarray(T_link0_flange) @ homogeneous(_rotz(PANDA_HAND_YAW))


# ----------------------------------------------------------------------------------
# 2. generic MJCF chain FK (xml.etree only)
# ----------------------------------------------------------------------------------


class _Mjcf:
    """The bits of an MJCF file that kinematics needs: compiler, defaults, bodies."""

    def __init__(self, xml_path: str | os.PathLike):
        self.path = Path(xml_path).resolve()
        root = ET.parse(self.path).getroot()
        self._expand_includes(root, self.path.parent, depth=0)
        self.root = root

        comp = {}
        for c in root.iter("compiler"):
            comp.update(c.attrib)
        self.angle_unit = comp.get("angle", "degree")  # MuJoCo's default is degree
        self.eulerseq = comp.get("eulerseq", "xyz")

        # default classes: name -> (parent name | None, element); top level is "main"
        self.defaults: dict[str, tuple[str | None, ET.Element]] = {}
        for d in root.findall("default"):
            self._collect_defaults(d, None)

        self.bodies: dict[str, ET.Element] = {}
        self.parent: dict[ET.Element, ET.Element] = {}
        wb_list = root.findall("worldbody")
        if not wb_list:
            raise ValueError(f"{self.path}: no <worldbody>")
        self.worldbodies = wb_list
        for wb in wb_list:
            for el in wb.iter():
                for ch in el:
                    self.parent[ch] = el
                if el.tag == "body":
                    self.bodies[el.get("name", "")] = el
        self.sites = {el.get("name"): el for wb in wb_list for el in wb.iter("site") if el.get("name")}

    # -- parsing helpers ---------------------------------------------------------
    @staticmethod
    def _expand_includes(el: ET.Element, base: Path, depth: int) -> None:
        if depth > 20:
            raise RecursionError("MJCF include depth > 20")
        i = 0
        while i < len(el):
            ch = el[i]
            if ch.tag == "include":
                inc_path = (base / ch.get("file")).resolve()
                inc_root = ET.parse(inc_path).getroot()
                _Mjcf._expand_includes(inc_root, base, depth + 1)
                el.remove(ch)
                for j, sub in enumerate(list(inc_root)):
                    el.insert(i + j, sub)
                i += len(inc_root)
            else:
                _Mjcf._expand_includes(ch, base, depth + 1)
                i += 1

    def _collect_defaults(self, d: ET.Element, parent: str | None) -> None:
        name = d.get("class", "main" if parent is None else None)
        if name is None:
            raise ValueError(f"{self.path}: nested <default> without class")
        if name in self.defaults and parent is None and name == "main":
            # several top-level <default> blocks (e.g. one from an include): merge by
            # chaining the later one onto the earlier one
            prev_parent, prev_el = self.defaults[name]
            merged = ET.Element("default", {"class": "main"})
            for sub in list(prev_el) + list(d):
                merged.append(sub)
            self.defaults[name] = (None, merged)
            for sub in d.findall("default"):
                self._collect_defaults(sub, name)
            return
        self.defaults[name] = (parent, d)
        for sub in d.findall("default"):
            self._collect_defaults(sub, name)

    def _class_of(self, el: ET.Element) -> str:
        if el.get("class"):
            return el.get("class")
        p = self.parent.get(el)
        # a body's own childclass applies to its children, not to the body itself
        while p is not None:
            if p.tag in ("body", "frame") and p.get("childclass"):
                return p.get("childclass")
            p = self.parent.get(p)
        return "main"

    def attr(self, el: ET.Element, name: str, default: str | None = None) -> str | None:
        """Element attribute, else the default-class chain's value, else ``default``."""
        if name in el.attrib:
            return el.attrib[name]
        cls = self._class_of(el)
        seen = 0
        while cls is not None and seen < 100:
            seen += 1
            if cls not in self.defaults:
                if cls == "main":  # a file with no <default> at all
                    break
                raise KeyError(f"{self.path}: unknown default class {cls!r}")
            parent, dflt = self.defaults[cls]
            # the last matching child of this tag wins
            for sub in reversed(dflt.findall(el.tag)):
                if name in sub.attrib:
                    return sub.attrib[name]
            cls = parent
        return default

    def _angle(self, v: float) -> float:
        return np.deg2rad(v) if self.angle_unit == "degree" else v

    def local_rotation(self, el: ET.Element) -> np.ndarray:
        """The orientation of a body/site/frame element relative to its parent."""
        keys = ("quat", "euler", "axisangle", "xyaxes", "zaxis")
        # an orientation on the element wins; sites/geoms may inherit one from defaults
        use_defaults = el.tag in ("site", "geom") and not any(k in el.attrib for k in keys)

        def vec(name):
            s = self.attr(el, name) if use_defaults else el.get(name)
            return None if s is None else np.array([float(t) for t in s.split()])

        q, e, aa, xy, za = (vec(k) for k in keys)
        given = [v is not None for v in (q, e, aa, xy, za)]
        if sum(given) > 1:
            raise ValueError(f"{self.path}: several orientations on <{el.tag} {el.attrib}>")
        if q is not None:
            return quat_wxyz_to_matrix(q)
        if e is not None:
            R = np.eye(3)
            seq = self.eulerseq
            if len(seq) != 3:
                raise ValueError(f"bad eulerseq {seq!r}")
            for ch, ang in zip(seq, e):
                Ri = axis_angle_matrix({"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}[ch.lower()],
                                       self._angle(ang))
                # MuJoCo: lowercase = axes rotate with the frame (intrinsic, post-multiply),
                # uppercase = fixed axes (extrinsic, pre-multiply).
                R = R @ Ri if ch.islower() else Ri @ R
            return R
        if aa is not None:
            return axis_angle_matrix(aa[:3], self._angle(aa[3]))
        if xy is not None:
            x = xy[:3] / np.linalg.norm(xy[:3])
            y = xy[3:] - x * (x @ xy[3:])
            y /= np.linalg.norm(y)
            return np.column_stack([x, y, np.cross(x, y)])
        if za is not None:
            z = za / np.linalg.norm(za)
            # minimal rotation taking (0,0,1) onto z
            zz = np.array([0.0, 0.0, 1.0])
            c = float(zz @ z)
            if c < -1 + 1e-12:
                return np.diag([1.0, -1.0, -1.0])
            axis = np.cross(zz, z)
            s = np.linalg.norm(axis)
            return np.eye(3) if s < 1e-15 else axis_angle_matrix(axis, np.arctan2(s, c))
        return np.eye(3)

    def local_pose(self, el: ET.Element) -> np.ndarray:
        s = self.attr(el, "pos") if el.tag in ("site", "geom") else el.get("pos")
        p = np.zeros(3) if s is None else np.array([float(t) for t in s.split()])
        return homogeneous(self.local_rotation(el), p)

    def joint_transform(self, j: ET.Element, q: Mapping[str, float]) -> np.ndarray:
        jtype = self.attr(j, "type", "hinge")
        name = j.get("name")
        if jtype not in ("hinge", "slide"):
            raise NotImplementedError(f"joint {name!r} of type {jtype!r} is not supported")
        if name not in q:
            raise KeyError(f"no value for joint {name!r} in q (has {sorted(q)})")
        axis = np.array([float(t) for t in self.attr(j, "axis", "0 0 1").split()])
        axis = axis / np.linalg.norm(axis)
        pos = np.array([float(t) for t in self.attr(j, "pos", "0 0 0").split()])
        ref = float(self.attr(j, "ref", "0"))
        if jtype == "hinge":
            # qpos and the model pose agree at qpos == ref; ref is in compiler units
            ang = float(q[name]) - self._angle(ref)
            R = axis_angle_matrix(axis, ang)
            # rotation about an axis through the joint's anchor ``pos``
            return homogeneous(R, pos - R @ pos)
        return homogeneous(p=axis * (float(q[name]) - ref))

    def body_chain(self, tip: ET.Element, root: ET.Element | None) -> list[ET.Element]:
        chain = []
        el = tip
        while el is not None and el is not root:
            if el.tag in ("body", "frame"):
                chain.append(el)
            el = self.parent.get(el)
            if el is not None and el.tag == "worldbody":
                el = None
        if root is not None and el is not root:
            raise ValueError(f"body {tip.get('name')!r} is not below {root.get('name')!r}")
        return chain[::-1]

    def chain_fk(self, tip: ET.Element, root_body: str | None, q: Mapping[str, float],
                 strict: bool = True) -> np.ndarray:
        root = None
        if root_body is not None:
            if root_body not in self.bodies:
                raise KeyError(f"{self.path}: no body {root_body!r}")
            root = self.bodies[root_body]
        used = set()
        T = np.eye(4)
        for el in self.body_chain(tip, root):
            T = T @ self.local_pose(el)
            if el.tag == "body":
                for j in el.findall("joint"):
                    T = T @ self.joint_transform(j, q)
                    used.add(j.get("name"))
                if el.find("freejoint") is not None:
                    raise NotImplementedError("free joints are not supported")
        if strict:
            extra = set(q) - used
            if extra:
                raise KeyError(f"joints {sorted(extra)} are not on the chain")
        return T


def mjcf_chain_fk(
    xml_path: str | os.PathLike,
    *,
    tip_body: str,
    q: Mapping[str, float],
    tip_offset: Sequence[float] = (0.0, 0.0, 0.0),
    root_body: str | None = None,
    strict: bool = True,
) -> np.ndarray:
    """T_root_tip (4x4) by parsing the MJCF and composing body and joint transforms.

    ``root_body``'s own frame is the identity; with ``root_body=None`` the result is in
    the world frame. ``q`` maps joint name -> position (rad for hinge, m for slide);
    every hinge/slide joint on the chain must be given. With ``strict`` (default), a
    name in ``q`` that is not on the chain is an error. ``tip_offset`` is a point in
    the tip frame (e.g. a TCP offset); the returned rotation is the tip body's.
    """
    m = _Mjcf(xml_path)
    if tip_body not in m.bodies:
        raise KeyError(f"{xml_path}: no body {tip_body!r}")
    T = m.chain_fk(m.bodies[tip_body], root_body, q, strict=strict)
    return T @ homogeneous(p=tip_offset)


def mjcf_site_pose(xml_path: str | os.PathLike, site: str) -> tuple[str | None, np.ndarray]:
    """(parent body name, T_body_site) for a site, from the MJCF text."""
    m = _Mjcf(xml_path)
    if site not in m.sites:
        raise KeyError(f"{xml_path}: no site {site!r}")
    el = m.sites[site]
    T = m.local_pose(el)
    p = m.parent[el]
    while p.tag == "frame":  # fold any <frame> wrappers into the site pose
        T = m.local_pose(p) @ T
        p = m.parent[p]
    return (p.get("name") if p.tag == "body" else None), T


def mjcf_body_pose(xml_path: str | os.PathLike, body: str) -> np.ndarray:
    """A top-level body's pose in its parent frame (used for attached sub-models)."""
    m = _Mjcf(xml_path)
    return m.local_pose(m.bodies[body])


# ----------------------------------------------------------------------------------
# 3. an arm plus attached models (a hand at a site, a gripper at a body or site with an
#    offset and a name prefix), and the frames MuJoCo folds into a body's pose
# ----------------------------------------------------------------------------------


class ComposedChain:
    """FK of an arm MJCF with other MJCFs attached, from the files' text alone.

    ``attachments``: ``(xml_path, body, prefix, parent_body, parent_site, T_offset)``; the
    attached file's ``body`` (and subtree) hangs from the arm's ``parent_body`` frame, or
    from ``parent_site``'s frame, moved by ``T_offset`` (4x4); it keeps its own pos/quat
    from its file, now relative to that mount frame. Names in it get ``prefix`` (MuJoCo's
    attach semantics). Everything is expressed in the arm file's world frame, so every
    <frame> around a body (the ViperX wrapper's) is part of its pose.
    """

    def __init__(self, arm_xml: str | os.PathLike, attachments: Sequence[tuple] = ()):
        self.arm = _Mjcf(arm_xml)
        self.parts = []
        for xml, body, prefix, parent_body, parent_site, T_off in attachments:
            m = _Mjcf(xml)
            if body not in m.bodies:
                raise KeyError(f"{xml}: no body {body!r}")
            self.parts.append((m, body, prefix, parent_body, parent_site, np.asarray(T_off, dtype=float)))

    def _owner(self, name: str, table: str):
        """(model, local name, part or None) of a (possibly prefixed) body or site name."""
        for part in reversed(self.parts):
            m, _body, prefix, *_ = part
            if name.startswith(prefix) and name[len(prefix):] in getattr(m, table):
                return m, name[len(prefix):], part
        if name in getattr(self.arm, table):
            return self.arm, name, None
        raise KeyError(f"no {table[:-1]} {name!r} in the arm or its attachments")

    def _q(self, q: Mapping[str, float], prefix: str) -> dict[str, float]:
        return {k[len(prefix):]: v for k, v in q.items() if k.startswith(prefix)} if prefix else dict(q)

    def _mount(self, part, q: Mapping[str, float]) -> np.ndarray:
        """T_world_mount of an attachment: its parent frame, the site's, the offset."""
        _m, _body, _prefix, parent_body, parent_site, T_off = part
        if parent_site is not None:
            owner, site, host = self._owner(parent_site, "sites")
            el = owner.sites[site]
            T_site = owner.local_pose(el)
            p = owner.parent[el]
            while p.tag == "frame":
                T_site = owner.local_pose(p) @ T_site
                p = owner.parent[p]
            T_parent = self.T_world_body(self._prefixed(host, p.get("name")), q)
            return T_parent @ T_site @ T_off
        return self.T_world_body(parent_body, q) @ T_off

    @staticmethod
    def _prefixed(part, name: str) -> str:
        return name if part is None else part[2] + name

    def T_world_body(self, name: str, q: Mapping[str, float]) -> np.ndarray:
        """A body's pose (4x4) in the arm file's world frame; q: joint name (prefixed) -> position."""
        owner, local, part = self._owner(name, "bodies")
        if part is None:
            return owner.chain_fk(owner.bodies[local], None, self._q(q, ""), strict=False)
        m, body, prefix, *_ = part
        T_mount = self._mount(part, q)
        # the attached body's own pos/quat (now relative to the mount frame), then down to `local`
        T_body = m.local_pose(m.bodies[body])
        if local == body:
            return T_mount @ T_body
        return T_mount @ T_body @ m.chain_fk(m.bodies[local], body, self._q(q, prefix), strict=False)

    def T_world_site(self, name: str, q: Mapping[str, float]) -> np.ndarray:
        """A site's pose (4x4) in the arm file's world frame."""
        owner, local, part = self._owner(name, "sites")
        el = owner.sites[local]
        T = owner.local_pose(el)
        p = owner.parent[el]
        while p.tag == "frame":
            T = owner.local_pose(p) @ T
            p = owner.parent[p]
        return self.T_world_body(self._prefixed(part, p.get("name")), q) @ T

    def joints_on_chain(self, name: str) -> list[str]:
        """The (prefixed) hinge/slide joint names between the world and a body."""
        owner, local, part = self._owner(name, "bodies")
        out = []
        for el in owner.body_chain(owner.bodies[local], None):
            if el.tag == "body":
                out += [self._prefixed(part, j.get("name")) for j in el.findall("joint")]
        if part is not None:
            _m, _b, _p, parent_body, parent_site, _T = part
            host = parent_body if parent_body is not None else self._site_body(parent_site)
            out = self.joints_on_chain(host) + out
        return out

    def _site_body(self, site: str) -> str:
        owner, local, part = self._owner(site, "sites")
        p = owner.parent[owner.sites[local]]
        while p.tag == "frame":
            p = owner.parent[p]
        return self._prefixed(part, p.get("name"))


# ----------------------------------------------------------------------------------
# Jaco (dm_control's bundled Kinova arm + 3-finger hand)
# ----------------------------------------------------------------------------------

JACO_ARM_JOINTS = tuple(f"joint_{i}" for i in range(1, 7))


def jaco_dir() -> Path:
    import dm_control  # locating files only; no MuJoCo kinematics

    return Path(os.path.dirname(dm_control.__file__)) / "third_party" / "kinova"


def jaco_pinch_fk(q6: Sequence[float]) -> np.ndarray:
    """T_base_pinchsite: b_base -> b_6 -> wristsite -> hand body -> pinchsite.

    Matches a model built by attaching jaco_hand.xml's body "hand" at the arm's site
    "wristsite" (the hand body's own pos/quat is kept, relative to the site frame).
    """
    q6 = np.asarray(q6, dtype=float).reshape(-1)
    if q6.shape != (6,):
        raise ValueError(f"jaco_pinch_fk needs 6 joint angles, got shape {q6.shape}")
    d = jaco_dir()
    arm, hand = d / "jaco_arm.xml", d / "jaco_hand.xml"
    T_base_b6 = mjcf_chain_fk(arm, tip_body="b_6", root_body="b_base",
                              q=dict(zip(JACO_ARM_JOINTS, q6)))
    parent, T_b6_wrist = mjcf_site_pose(arm, "wristsite")
    assert parent == "b_6", parent
    T_wrist_hand = mjcf_body_pose(hand, "hand")
    parent, T_hand_pinch = mjcf_site_pose(hand, "pinchsite")
    assert parent == "hand", parent
    return T_base_b6 @ T_b6_wrist @ T_wrist_hand @ T_hand_pinch
