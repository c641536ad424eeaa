"""A procedural, articulated 3D hand: skeleton, joint limits, pose
sampling, forward kinematics and the capsules that give it a body.

Conventions (all lengths in mm):

- The canonical hand is a **right** hand in camera-like axes: fingers
  point up the image (``-y``), the palm faces the camera (``-z``) and
  the thumb lies on ``+x``. A left hand is the mirror image (``x -> -x``)
  of a right hand built from the same parameters.
- Joints are returned in the InterHand2.6M order of one hand (thumb tip
  -> base, index, middle, ring, pinky, wrist at index 20), see
  :mod:`hdr_mm.structures.hand_joints`.

Bone lengths follow adult anthropometric averages (wrist to middle MCP
90 mm, middle finger phalanges 42/27/21 mm); every hand gets a random
overall scale and a small per-bone jitter. Joint angles are drawn inside
per-joint flexion/abduction limits, with the distal joint coupled to the
proximal one as in real fingers.
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

FINGERS = ('thumb', 'index', 'middle', 'ring', 'pinky')

#: (x, up, z) of each finger's base joint (thumb CMC, finger MCPs), mm
_BASE = {
    'thumb': (20.0, 24.0, -8.0),
    'index': (24.0, 86.0, 0.0),
    'middle': (4.0, 90.0, 0.0),
    'ring': (-15.0, 85.0, 0.0),
    'pinky': (-31.0, 76.0, 0.0),
}
#: lengths of the three bones after the base joint, mm
_LENGTHS = {
    'thumb': (42.0, 32.0, 26.0),
    'index': (38.0, 23.0, 19.0),
    'middle': (42.0, 27.0, 21.0),
    'ring': (39.0, 26.0, 20.0),
    'pinky': (31.0, 19.0, 18.0),
}
#: capsule radii at the base joint, the two middle joints and the tip, mm
_RADII = {
    'thumb': (12.0, 10.5, 9.5, 8.0),
    'index': (9.5, 8.5, 7.5, 6.5),
    'middle': (10.0, 9.0, 8.0, 7.0),
    'ring': (9.5, 8.5, 7.5, 6.5),
    'pinky': (8.5, 7.5, 6.5, 5.5),
}
#: rest splay of each finger in the palm plane, degrees towards the thumb
_SPLAY = {'index': 7.0, 'middle': 0.0, 'ring': -7.0, 'pinky': -15.0}

#: joint limits in degrees, (low, high): flexion towards the palm > 0
FLEX_LIMITS = {
    'mcp': (-15.0, 90.0),
    'pip': (0.0, 105.0),
    'dip': (0.0, 80.0),
    'thumb_cmc': (-20.0, 50.0),
    'thumb_mcp': (0.0, 55.0),
    'thumb_ip': (-10.0, 80.0),
}
ABD_LIMITS = {
    'index': (-15.0, 15.0),
    'middle': (-10.0, 10.0),
    'ring': (-10.0, 10.0),
    'pinky': (-15.0, 20.0),
    'thumb': (-20.0, 25.0),
}

#: outline of the palm slab, (x, up), convex, thumb side first
_PALM_OUTLINE = [(14.0, 2.0), (24.0, 40.0), (24.0, 86.0), (4.0, 90.0),
                 (-15.0, 85.0), (-31.0, 76.0), (-24.0, 30.0), (-18.0, 2.0)]
#: half thickness of the palm slab (= radius of its rim capsules), mm
_PALM_HALF = 9.0
#: rim and wrist capsules fixed to the palm: (start, end, r_start, r_end)
_PALM = [
    ((14.0, 2.0, 0.0), (24.0, 40.0, 0.0), 10.0, 9.5),     # thumb-side rim
    ((24.0, 40.0, 0.0), (24.0, 86.0, 0.0), 9.5, 9.0),
    ((24.0, 86.0, 0.0), (4.0, 90.0, 0.0), 9.0, 9.0),      # knuckles
    ((4.0, 90.0, 0.0), (-15.0, 85.0, 0.0), 9.0, 9.0),
    ((-15.0, 85.0, 0.0), (-31.0, 76.0, 0.0), 9.0, 9.0),
    ((-31.0, 76.0, 0.0), (-24.0, 30.0, 0.0), 9.0, 10.0),  # pinky-side rim
    ((-24.0, 30.0, 0.0), (-18.0, 2.0, 0.0), 10.0, 10.5),
    ((-18.0, 2.0, 0.0), (14.0, 2.0, 0.0), 10.5, 10.0),    # wrist line
    ((-9.0, 4.0, 1.0), (-9.0, -30.0, 2.0), 12.0, 13.0),   # wrist and
    ((7.0, 4.0, 1.0), (7.0, -30.0, 2.0), 12.0, 13.0),     # forearm stub
]


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _canon(p) -> np.ndarray:
    """(x, up, z) -> camera-like axes (x, y = -up, z)."""
    return np.array([p[0], -p[1], p[2]], dtype=np.float64)


@dataclass
class HandPose:
    """Random parameters of one hand.

    Attributes:
        scale (float): Overall size factor.
        bone_jitter (np.ndarray): (5, 3) per-bone length factors.
        flex (np.ndarray): (5, 3) flexion of the three joints of each
            finger (thumb first), radians.
        abd (np.ndarray): (5,) abduction at each base joint, radians.
    """
    scale: float
    bone_jitter: np.ndarray
    flex: np.ndarray
    abd: np.ndarray


def sample_hand_pose(rng: np.random.Generator) -> HandPose:
    """Draw an anatomically plausible hand articulation.

    A hand-level grip in [0, 1] (open, half-closed or fist-like, chosen
    from a mixture) sets the mean curl of every finger; each finger then
    deviates from it. MCP/PIP/DIP flexions are interpolated inside their
    limits by the curl, DIP is coupled to PIP (about 2/3 of it) and
    abduction shrinks as fingers curl.

    Args:
        rng: Random generator.

    Returns:
        HandPose: The sampled parameters.
    """
    mode = rng.random()
    if mode < 0.3:
        grip = rng.uniform(0.0, 0.25)
    elif mode < 0.55:
        grip = rng.uniform(0.6, 1.0)
    else:
        grip = rng.uniform(0.0, 1.0)
    curl = np.clip(grip + rng.normal(0.0, 0.22, size=5), 0.0, 1.0)
    flex = np.zeros((5, 3))
    abd = np.zeros(5)
    spread = rng.uniform(-0.3, 1.0)
    for i, name in enumerate(FINGERS):
        c = curl[i]
        if name == 'thumb':
            lo, hi = FLEX_LIMITS['thumb_cmc']
            flex[i, 0] = np.clip(lo + c * (hi - lo) + rng.normal(0, 8),
                                 lo, hi)
            lo, hi = FLEX_LIMITS['thumb_mcp']
            flex[i, 1] = np.clip(c * hi + rng.normal(0, 8), lo, hi)
            lo, hi = FLEX_LIMITS['thumb_ip']
            flex[i, 2] = np.clip(c * hi + rng.normal(0, 10), lo, hi)
        else:
            lo, hi = FLEX_LIMITS['mcp']
            flex[i, 0] = np.clip(lo + 5 + c * (hi - lo - 5) +
                                 rng.normal(0, 8), lo, hi)
            lo, hi = FLEX_LIMITS['pip']
            flex[i, 1] = np.clip(c * hi + rng.normal(0, 10), lo, hi)
            lo, hi = FLEX_LIMITS['dip']
            flex[i, 2] = np.clip(flex[i, 1] * 2 / 3 + rng.normal(0, 6), lo,
                                 hi)
        lo, hi = ABD_LIMITS[name]
        a = (1.0 - 0.7 * c) * (spread * hi * 0.8 + rng.normal(0, 4))
        if name in ('ring', 'pinky'):
            a = -a  # spreading moves ulnar fingers away from the thumb
        abd[i] = np.clip(a, lo, hi)
    return HandPose(
        scale=float(rng.uniform(0.85, 1.15)),
        bone_jitter=rng.uniform(0.95, 1.05, size=(5, 3)),
        flex=np.deg2rad(flex),
        abd=np.deg2rad(abd))


def _thumb_frame() -> np.ndarray:
    """Columns (lateral, bone direction, flexion direction) of the thumb
    at its CMC joint, in the canonical hand."""
    d = _canon((0.75, 1.0, -0.35))
    d /= np.linalg.norm(d)
    p = np.array([-1.0, 0.0, -0.8])  # towards the palm centre
    p -= p.dot(d) * d
    p /= np.linalg.norm(p)
    t = np.cross(d, p)
    return np.stack([t, d, p], axis=1)


_THUMB_FRAME = _thumb_frame()


def hand_geometry(pose: HandPose
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward kinematics of a canonical right hand.

    The body is a palm slab (two parallel convex faces whose rim is
    rounded by capsules), a thenar pad and a web joining the thumb to the
    palm, and three tapered capsules per finger.

    Args:
        pose: The articulation.

    Returns:
        tuple: ``joints`` (21, 3) in InterHand2.6M order, ``capsules``
        (N, 8) rows ``[x0, y0, z0, x1, y1, z1, r0, r1]`` and ``palm``
        (2, K, 3), the vertices of the slab's palm-side and back faces
        (mm), all in the canonical right-hand frame.
    """
    s = pose.scale
    joints = np.zeros((21, 3))
    caps = []
    for i, name in enumerate(FINGERS):
        base = _canon(_BASE[name]) * s
        if name == 'thumb':
            frame = _THUMB_FRAME.copy()
        else:
            # lateral = +x (thumb side), bone = up (-y), flexion = palm (-z)
            frame = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]]).T
            frame = _rot_z(np.deg2rad(_SPLAY[name])) @ frame
        # abduction: rotate about the flexion axis, then flex about lateral
        frame = frame @ _rot_z(-pose.abd[i])
        pts = [base]
        for k in range(3):
            frame = frame @ _rot_x(pose.flex[i, k])
            length = _LENGTHS[name][k] * s * pose.bone_jitter[i, k]
            pts.append(pts[-1] + frame[:, 1] * length)
        radii = np.array(_RADII[name]) * s
        for k in range(3):
            caps.append(np.concatenate([pts[k], pts[k + 1],
                                        radii[k:k + 2]]))
        # InterHand order: tip first, base last
        joints[i * 4:i * 4 + 4] = np.stack(pts[::-1])
        if name == 'thumb':
            # thenar pad and web from the palm to the moving thumb
            mid = 0.5 * (pts[0] + pts[1])
            caps.append(np.concatenate([_canon((6.0, 16.0, -3.0)) * s, mid,
                                        [15.0 * s, 12.0 * s]]))
            caps.append(np.concatenate([_canon((20.0, 60.0, -2.0)) * s,
                                        pts[1], [7.0 * s, 7.5 * s]]))
    for p0, p1, r0, r1 in _PALM:
        caps.append(np.concatenate([_canon(p0) * s, _canon(p1) * s,
                                    [r0 * s, r1 * s]]))
    outline = np.array([_canon((x, u, 0.0)) for x, u in _PALM_OUTLINE]) * s
    half = np.array([0.0, 0.0, _PALM_HALF * s])
    palm = np.stack([outline - half, outline + half])
    return joints, np.stack(caps), palm


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A random global hand orientation: any turn about the finger axis
    (palm or back towards the camera), tilt within +-50 degrees and an
    in-plane roll within +-70 degrees of upright.

    Args:
        rng: Random generator.

    Returns:
        np.ndarray: (3, 3) rotation matrix.
    """
    yaw = rng.uniform(-np.pi, np.pi)
    pitch = np.deg2rad(rng.uniform(-50, 50))
    roll = np.deg2rad(rng.uniform(-70, 70))
    return _rot_z(roll) @ _rot_x(pitch) @ _rot_y(yaw)


def posed_hand(pose: HandPose, rotation: np.ndarray, translation: np.ndarray,
               is_left: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place a hand in camera coordinates.

    The canonical hand is mirrored for a left hand, rotated about its
    wrist, then translated so that its **palm centre** (midway between
    wrist and middle MCP) lands on ``translation``.

    Args:
        pose: The articulation.
        rotation: (3, 3) global rotation.
        translation: (3,) palm centre in camera coordinates, mm.
        is_left: Build a left hand.

    Returns:
        tuple: ``joints`` (21, 3), ``capsules`` (N, 8) and ``palm``
        (2, K, 3), camera coordinates, mm.
    """
    joints, caps, palm = hand_geometry(pose)
    if is_left:
        mirror = np.array([-1.0, 1.0, 1.0])
        joints = joints * mirror
        caps = caps * np.array([-1.0, 1, 1, -1, 1, 1, 1, 1])
        palm = palm * mirror
    centre = 0.5 * (joints[20] + joints[11])
    joints = (joints - centre) @ rotation.T + translation
    caps = caps.copy()
    caps[:, 0:3] = (caps[:, 0:3] - centre) @ rotation.T + translation
    caps[:, 3:6] = (caps[:, 3:6] - centre) @ rotation.T + translation
    palm = (palm - centre) @ rotation.T + translation
    return joints, caps, palm
