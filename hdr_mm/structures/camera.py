"""Placing a root-relative hand in the camera frame.

SHPE predicts each hand's joints relative to its own wrist; the 2D joints
in the image fix where that hand is. Under a pinhole camera (focal
``fx, fy``, principal point ``cx, cy``) a joint ``x_j + T`` (``x_j``
relative to the root, ``T`` the root's position) projects to

    u_j = fx * (X_j + Tx) / (Z_j + Tz) + cx,

which is linear in ``T`` after multiplying out:

    fx * Tx - (u_j - cx) * Tz = (u_j - cx) * Z_j - fx * X_j

(and the same for ``v`` with ``fy``, ``cy``, ``Y``). With 21 joints that
is 42 equations for 3 unknowns, solved by weighted least squares
(:func:`solve_root_translation`). The depth comes from the hand's
apparent size: a hand of known size in mm that looks twice as small is
twice as far. Both hands placed this way give the right-to-left root
offset that mmpose's ``InterHandMetric`` scores as MRRPE.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

#: the 2D joints must span at least this many pixels (largest distance from
#: their mean) for the hand's size, and so its depth, to be measurable
MIN_JOINT_SPREAD_PX = 1.0

#: focal length, in units of the image's longer side, assumed when the
#: camera is unknown (about 37 degrees of horizontal view for a landscape
#: image; InterHand2.6M's cameras are 2.3-2.9, the generated data 1.5)
DEFAULT_FOCAL_FACTOR = 1.5


def default_camera(img_shape: Tuple[int, int]
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """The pinhole camera assumed for an image without intrinsics.

    Args:
        img_shape: (H, W) of the image.

    Returns:
        tuple: focal (2,) ``fx = fy = DEFAULT_FOCAL_FACTOR * max(H, W)``
        and principal point (2,) at the image centre ``((W - 1) / 2,
        (H - 1) / 2)``, both float32.
    """
    h, w = img_shape[:2]
    f = DEFAULT_FOCAL_FACTOR * max(h, w)
    return (np.array([f, f], np.float32),
            np.array([(w - 1) / 2, (h - 1) / 2], np.float32))


def _projection_system(keypoints_2d: np.ndarray, keypoints_3d: np.ndarray,
                       focal: Sequence[float], principal_pt: Sequence[float],
                       weights: Optional[np.ndarray]
                       ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """One hand's weighted equations in its root ``T`` (module docstring).

    Returns:
        tuple | None: ``a`` (2M, 3) and ``b`` (2M,) float64 with ``a @ T
        ~ b`` over the M usable joints (finite, weight > 0), rows scaled
        by the square root of their weight; None where the hand's size
        cannot be measured (fewer than two usable joints, or their 2D
        spread under :data:`MIN_JOINT_SPREAD_PX`).
    """
    uv = np.asarray(keypoints_2d, np.float64).reshape(-1, 2)
    xyz = np.asarray(keypoints_3d, np.float64).reshape(-1, 3)
    w = np.ones(len(uv)) if weights is None else np.asarray(
        weights, np.float64).reshape(-1)
    fx, fy = float(focal[0]), float(focal[1])
    cx, cy = float(principal_pt[0]), float(principal_pt[1])
    ok = np.isfinite(uv).all(1) & np.isfinite(xyz).all(1) & (w > 0)
    if ok.sum() < 2:
        return None
    spread = np.linalg.norm(uv[ok] - uv[ok].mean(0), axis=1).max()
    if spread < MIN_JOINT_SPREAD_PX:
        return None
    du, dv = uv[ok, 0] - cx, uv[ok, 1] - cy
    x, y, z, sw = xyz[ok, 0], xyz[ok, 1], xyz[ok, 2], np.sqrt(w[ok])
    zero = np.zeros_like(du)
    a = np.concatenate([
        np.stack([np.full_like(du, fx), zero, -du], 1),
        np.stack([zero, np.full_like(dv, fy), -dv], 1)
    ])
    b = np.concatenate([du * z - fx * x, dv * z - fy * y])
    sw2 = np.concatenate([sw, sw])
    return a * sw2[:, None], b * sw2


def _in_front(t: np.ndarray) -> np.ndarray:
    """``t`` as float32 if finite with positive depth, else NaNs."""
    if not np.isfinite(t).all() or t[2] <= 0:
        return np.full(3, np.nan, np.float32)
    return t.astype(np.float32)


def _solve_one(system: Optional[Tuple[np.ndarray, np.ndarray]]
               ) -> np.ndarray:
    """The root of one hand's :func:`_projection_system` (NaN for None
    or a hand behind the camera)."""
    if system is None:
        return np.full(3, np.nan, np.float32)
    t, *_ = np.linalg.lstsq(*system, rcond=None)
    return _in_front(t)


def solve_root_translation(keypoints_2d: np.ndarray,
                           keypoints_3d: np.ndarray,
                           focal: Sequence[float],
                           principal_pt: Sequence[float],
                           weights: Optional[np.ndarray] = None
                           ) -> np.ndarray:
    """Camera-frame position of a hand's root from its 2D and
    root-relative 3D joints (see the module docstring).

    Args:
        keypoints_2d: (K, 2) image pixels.
        keypoints_3d: (K, 3) joints relative to the root, mm, camera axes.
        focal: ``fx, fy`` in pixels.
        principal_pt: ``cx, cy`` in pixels.
        weights: (K,) non-negative weights of the joints (e.g. their
            scores); None weighs all alike.

    Returns:
        np.ndarray: (3,) float32 root position ``Tx, Ty, Tz`` in mm; NaN
        where the system is degenerate (fewer than two usable joints, or
        usable 2D joints within :data:`MIN_JOINT_SPREAD_PX` of their mean:
        an estimator whose joints all land on one pixel says nothing about
        the hand's apparent size) or puts the hand behind the camera.
    """
    return _solve_one(
        _projection_system(keypoints_2d, keypoints_3d, focal, principal_pt,
                           weights))


def solve_two_roots(keypoints_2d: Sequence[np.ndarray],
                    keypoints_3d: Sequence[np.ndarray],
                    focal: Sequence[float],
                    principal_pt: Sequence[float],
                    depth_gap: float,
                    weights: Optional[Sequence[np.ndarray]] = None
                    ) -> np.ndarray:
    """Both roots of two hands whose depths differ by a known amount.

    Each hand alone gets its depth from its apparent size
    (:func:`solve_root_translation`), which an error in its predicted size
    moves by the same fraction: two hands placed independently carry two
    such errors into their offset. Two interacting hands of one person are
    at nearly one depth; with ``Tz_1 - Tz_0`` fixed to ``depth_gap`` the 42
    equations of both hands share one depth unknown (5 unknowns: ``Tx,
    Ty`` of each hand and ``Tz_0``), so the hands' offset across the image
    comes from their 2D joints at that common depth.

    Args:
        keypoints_2d: Two (K, 2) arrays, image pixels.
        keypoints_3d: Two (K, 3) arrays, root-relative mm, camera axes.
        focal: ``fx, fy`` in pixels.
        principal_pt: ``cx, cy`` in pixels.
        depth_gap: ``Tz_1 - Tz_0`` in mm.
        weights: Two (K,) arrays of joint weights, or None.

    Returns:
        np.ndarray: (2, 3) float32 roots in mm; a hand whose size cannot be
        measured is NaN and the other placed alone; both NaN if the joint
        solution puts a hand behind the camera.
    """
    weights = weights if weights is not None else (None, None)
    systems = [
        _projection_system(keypoints_2d[h], keypoints_3d[h], focal,
                           principal_pt, weights[h]) for h in (0, 1)
    ]
    if systems[0] is None or systems[1] is None:
        return np.stack([_solve_one(system) for system in systems])
    (a0, b0), (a1, b1) = systems
    # unknowns: Tx0, Ty0, Tx1, Ty1, Tz0; Tz1 = Tz0 + depth_gap
    a = np.zeros((len(a0) + len(a1), 5))
    a[:len(a0), [0, 1, 4]] = a0
    a[len(a0):, [2, 3, 4]] = a1
    b = np.concatenate([b0, b1 - a1[:, 2] * depth_gap])
    t, *_ = np.linalg.lstsq(a, b, rcond=None)
    roots = np.stack([
        _in_front(np.array([t[0], t[1], t[4]])),
        _in_front(np.array([t[2], t[3], t[4] + depth_gap]))
    ])
    if not np.isfinite(roots).all():
        return np.full((2, 3), np.nan, np.float32)
    return roots


def rotate_about_root_ray(keypoints_3d: np.ndarray, angle: float,
                          root_index: int) -> np.ndarray:
    """Rotate camera-frame joints about the camera ray through their root.

    The 3D counterpart of rotating an image crop in its plane about the
    hand: a rotation by ``angle`` about the optical axis turns every
    projection by the same angle about the principal point, exactly; about
    the ray through the root it keeps the root where it is and turns the
    hand's projection about the root's, up to the perspective of a hand
    seen off-axis. Rotation augmentation of a single-hand crop uses it so
    that the 3D targets turn with the pixels.

    Args:
        keypoints_3d: (..., K, 3) joints in the camera frame (mm, x right,
            y down, z forward: image axes).
        angle: Radians, counter-clockwise in the (x, y) = image axes sense
            (``(1, 0) -> (cos, sin)``), i.e. the rotation whose 2x2 matrix
            is the linear part of the crop's warp divided by its scale.
        root_index: The joint whose ray is the axis; rows whose root is at
            the camera centre (no ray) are rotated about the optical axis.

    Returns:
        np.ndarray: Rotated joints, same shape, float32.
    """
    pts = np.asarray(keypoints_3d, np.float64)
    if pts.ndim < 2 or pts.shape[-1] != 3:
        raise ValueError('rotate_about_root_ray: keypoints_3d must be '
                         f'(..., K, 3), got {pts.shape}')
    root = pts[..., root_index:root_index + 1, :]
    norm = np.linalg.norm(root, axis=-1, keepdims=True)
    axis = np.where(norm > 1e-9, root / np.maximum(norm, 1e-9),
                    np.array([0., 0., 1.]))
    rel = pts - root
    c, s = np.cos(angle), np.sin(angle)
    # Rodrigues: v c + (k x v) s + k (k . v)(1 - c)
    rotated = (rel * c + np.cross(axis, rel) * s +
               axis * (rel * axis).sum(-1, keepdims=True) * (1 - c))
    return (rotated + root).astype(np.float32)
