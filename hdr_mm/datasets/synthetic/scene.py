"""One synthetic frame: two (or one) posed hands in front of a pinhole
camera, with a controlled occlusion of the back hand, rendered as a full
frame and as per-target-hand crops."""
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from hdr_mm.structures import HANDS
from .hand_model import posed_hand, random_rotation, sample_hand_pose
from .renderer import (SKIN_TONES_BGR, random_background, render_capsules,
                       shade)


@dataclass
class Scene:
    """Geometry and appearance of one frame.

    Attributes:
        hand_type: ``'interacting'``, ``'right'`` or ``'left'``.
        joints: (42, 3) camera coordinates in mm (right hand then left,
            InterHand2.6M order); an absent hand is posed out of view.
        capsules: Side -> ``(capsules (N, 8), palm faces (2, K, 3))`` of
            each *present* hand.
        skin: Side -> (3,) BGR albedo in [0, 1].
        light: (3,) unit vector towards the light.
        ambient: Ambient light fraction.
        background: (S, S, 3) uint8 full-frame background.
        back: Side of the occluded (farther) hand, interacting frames only.
    """
    hand_type: str
    joints: np.ndarray
    capsules: Dict[str, np.ndarray]
    skin: Dict[str, np.ndarray]
    light: np.ndarray
    ambient: float
    background: np.ndarray
    back: Optional[str] = None
    extra: dict = field(default_factory=dict)


def capsule_bounds(caps: np.ndarray, cam: Sequence[float]) -> np.ndarray:
    """Screen box ``[x1, y1, x2, y2]`` that bounds the rendered capsules."""
    fx, fy, cx, cy = cam
    pts = np.concatenate([caps[:, 0:3], caps[:, 3:6]])
    rad = np.concatenate([caps[:, 6], caps[:, 7]]) * fx / pts[:, 2]
    u = fx * pts[:, 0] / pts[:, 2] + cx
    v = fy * pts[:, 1] / pts[:, 2] + cy
    return np.array([(u - rad).min(), (v - rad).min(), (u + rad).max(),
                     (v + rad).max()])


def _shift_overlap(back: np.ndarray, front: np.ndarray, dx: int,
                   dy: int) -> int:
    """Pixels of ``back`` covered by ``front`` shifted by (dx, dy)."""
    h, w = back.shape
    if abs(dx) >= w or abs(dy) >= h:
        return 0
    b = back[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)]
    f = front[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return int(np.count_nonzero(b & f))


def _translate(hand, off):
    joints, caps, palm = hand
    caps = caps.copy()
    caps[:, 0:3] += off
    caps[:, 3:6] += off
    return joints + off, caps, palm + off


def _pose_hand(rng, side, center):
    pose = sample_hand_pose(rng)
    rot = random_rotation(rng)
    return posed_hand(pose, rot, np.asarray(center, float), side == 'left')


#: Largest angle (radians) between the horizontal and the direction in
#: which the front hand is shifted away from the back hand. Left and right
#: hands are mirror images, and with any turn about the finger axis a left
#: palm and a right back have the same silhouette: without a layout cue the
#: side of a rendered hand would be ambiguous. As in a camera facing the
#: person (e.g. InterHand2.6M's frontal views), the right hand is shown on
#: the image's left of the left hand.
MAX_SIDE_ANGLE = np.deg2rad(60)

#: Per-side albedo multipliers (B, G, R): the right hand a little warmer
#: and greener, the left a little cooler and less green. On real images
#: the side also shows in the hand itself (thumb against palm or back,
#: nails, creases); the capsule hands have no such detail, and a small
#: segmentation network trained from scratch on the layout cue alone kept
#: predicting both hands in each side's mask (mIoU 0.47 after 500
#: iterations). The tint is a local cue, as skin detail is on real hands.
#: Blue against red tells two hands of one frame apart but not a lone
#: hand's side: the skin tones' own B/R spans 0.43-0.80. Green against
#: the geometric mean of blue and red is 0.98-1.00 for every tone, so its
#: +-15% names the side of a hand seen alone.
SIDE_TINT_BGR = {'right': np.array([0.88, 1.15, 1.12]),
                 'left': np.array([1.12, 0.85, 0.88])}


def sample_scene(rng: np.random.Generator, img_size: int,
                 cam: Sequence[float], occlusion_range: Tuple[float, float],
                 single_hand_ratio: float, max_tries: int = 20) -> Scene:
    """Draw a frame.

    Interacting frames: the back hand sits at depth 650-900 mm, the front
    hand 70-150 mm closer; a low-resolution render of both amodal masks
    finds the 2D shift of the front hand (along a random direction within
    :data:`MAX_SIDE_ANGLE` of the side that puts the right hand on the
    image's left; single hands keep to that half of the frame) whose
    coverage of the back hand is closest to a ratio drawn uniformly from
    ``occlusion_range``. Both hands are then moved together so that the
    pair is inside the frame (a bounded number of redraws if it does not
    fit). The achieved ratio is measured on the final render.

    Args:
        rng: Random generator (one per sample: deterministic).
        img_size: Side of the square full frame.
        cam: ``(fx, fy, cx, cy)`` of the full frame.
        occlusion_range: ``(low, high)`` of the back hand's hidden fraction.
        single_hand_ratio: Probability of a single-hand frame.
        max_tries: Redraws allowed when the hands do not fit the frame.

    Returns:
        Scene: The frame.
    """
    fx = cam[0]
    if rng.random() < single_hand_ratio:
        hand_type = str(rng.choice(['right', 'left']))
    else:
        hand_type = 'interacting'
    tone = SKIN_TONES_BGR[rng.integers(len(SKIN_TONES_BGR))]
    skin = {s: np.clip((tone * rng.uniform(0.9, 1.1) +
                        rng.normal(0, 0.03, 3)) * SIDE_TINT_BGR[s], 0, 1)
            for s in HANDS}
    light = np.array([rng.uniform(-0.7, 0.7), rng.uniform(-0.8, 0.3), -1.0])
    light /= np.linalg.norm(light)
    ambient = float(rng.uniform(0.25, 0.5))
    background = random_background(rng, img_size)

    for _ in range(max_tries):
        if hand_type == 'interacting':
            back = str(rng.choice(HANDS))
            front = 'left' if back == 'right' else 'right'
            zb = rng.uniform(650, 900)
            zf = zb - rng.uniform(70, 150)
            hands = {back: _pose_hand(rng, back, (0, 0, zb)),
                     front: _pose_hand(rng, front, (0, 0, zf))}
            # low-resolution search of the front hand's shift
            low = 96
            q = low / img_size
            lcam = (fx * q, fx * q, low / 2, low / 2)
            mb = np.isfinite(render_capsules(
                hands[back][1], lcam, (low, low), hands[back][2])[0])
            mf = np.isfinite(render_capsules(
                hands[front][1], lcam, (low, low), hands[front][2])[0])
            target = rng.uniform(*occlusion_range)
            # handedness layout: the front hand moves sideways (within
            # +-MAX_SIDE_ANGLE of horizontal) so that the right hand ends
            # on the image's left of the left hand
            ang = rng.uniform(-MAX_SIDE_ANGLE, MAX_SIDE_ANGLE)
            if front == 'right':
                ang += np.pi
            area = max(np.count_nonzero(mb), 1)
            ks = np.arange(0, low)
            ratios = np.array([
                _shift_overlap(mb, mf, int(round(k * np.cos(ang))),
                               int(round(k * np.sin(ang)))) / area
                for k in ks])
            k = ks[np.argmin(np.abs(ratios - target))]
            shift = k / q * zf / fx
            off = np.array([np.cos(ang), np.sin(ang), 0.0]) * shift
            hands[front] = _translate(hands[front], off)
            present = [back, front]
        else:
            back = None
            z = rng.uniform(600, 850)
            other = 'left' if hand_type == 'right' else 'right'
            hands = {hand_type: _pose_hand(rng, hand_type, (0, 0, z))}
            # the absent hand is posed far outside the view
            away = (img_size * 2.0) * z / fx
            hands[other] = _pose_hand(rng, other, (away, 0, z))
            present = [hand_type]
        # move the visible hands together into the frame
        box = np.array([np.inf, np.inf, -np.inf, -np.inf])
        for s in present:
            b = capsule_bounds(hands[s][1], cam)
            box = np.array([min(box[0], b[0]), min(box[1], b[1]),
                            max(box[2], b[2]), max(box[3], b[3])])
        size = box[2:] - box[:2]
        margin = 0.03 * img_size
        if np.any(size > img_size - 2 * margin):
            continue
        free = (img_size - 2 * margin - size) / 2
        want = img_size / 2 + rng.uniform(-1, 1, 2) * free
        if hand_type != 'interacting':
            # a lone right hand in the left part of the frame, a left hand
            # in the right part (the same layout as two hands)
            sign = -1.0 if hand_type == 'right' else 1.0
            want[0] = img_size / 2 + sign * abs(want[0] - img_size / 2)
        delta = want - (box[:2] + box[2:]) / 2
        for s in HANDS:
            zc = np.median(hands[s][0][:, 2])
            off = np.array([delta[0], delta[1], 0.0]) * zc / fx
            hands[s] = _translate(hands[s], off)
        break
    else:
        raise RuntimeError(
            f'could not fit the hands in a {img_size}px frame after '
            f'{max_tries} draws; use a larger focal length')
    joints = np.concatenate([hands['right'][0], hands['left'][0]])
    return Scene(hand_type=hand_type, joints=joints,
                 capsules={s: hands[s][1:] for s in present}, skin=skin,
                 light=light, ambient=ambient, background=background,
                 back=back)


def render_view(scene: Scene, cam: Sequence[float], size: int,
                background: np.ndarray, only: Optional[str] = None
                ) -> Tuple[np.ndarray, Dict[str, np.ndarray], np.ndarray]:
    """Render the scene (or one hand of it) on a given background.

    Args:
        scene: The frame.
        cam: ``(fx, fy, cx, cy)`` of this view.
        size: Side of the square view.
        background: (size, size, 3) uint8 BGR.
        only: Render only this side (``'right'``/``'left'``) if given; the
            masks still cover both present hands.

    Returns:
        tuple: ``image`` (size, size, 3) uint8 BGR, ``amodal`` side ->
        (size, size) uint8 0/1 (zeros for an absent hand), ``rl_visible``
        (size, size) uint8 with 0 background, 1 right, 2 left visible.
    """
    depth = {}
    normals = {}
    for s in HANDS:
        if s in scene.capsules:
            caps, palm = scene.capsules[s]
            depth[s], normals[s] = render_capsules(caps, cam, (size, size),
                                                   palm)
        else:
            depth[s] = np.full((size, size), np.inf, np.float32)
    amodal = {s: np.isfinite(depth[s]) for s in HANDS}
    vis_r = amodal['right'] & (depth['right'] <= depth['left'])
    vis_l = amodal['left'] & (depth['left'] < depth['right'])
    rl_visible = vis_r.astype(np.uint8) + 2 * vis_l.astype(np.uint8)
    img = background.astype(np.float32)
    for s, vis in (('right', vis_r), ('left', vis_l)):
        if only is not None:
            if s != only:
                continue
            vis = amodal[s]
        if vis.any():
            img[vis] = shade(normals[s], vis, scene.skin[s], scene.light,
                             scene.ambient)
    return (img.astype(np.uint8),
            {s: amodal[s].astype(np.uint8) for s in HANDS}, rl_visible)
