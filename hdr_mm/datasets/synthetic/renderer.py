"""Vectorised numpy rendering of capsule hands: z-buffer, Lambert
shading, skin tones and backgrounds.

Why our own renderer: no OpenMMLab package rasterises 3D primitives, and
a mesh renderer (pyrender, pytorch3d) is neither in our stack nor fast on
2 CPU cores. Hands here are unions of tapered capsules, which render
analytically per pixel.

Each capsule is drawn in screen space as a *sphere-swept segment*: for a
pixel, the closest point on the projected bone gives the bone parameter
``t``; the sphere of radius ``r(t)`` (linearly tapered) centred there
decides coverage, depth (``z(t)`` minus the sphere's bulge) and normal.
Only the pixels inside each capsule's bounding box are touched. The
approximation commutes with image similarities (crop + resize), so a
crop rendered with the cropped camera matches the full frame exactly.

Pixel centres are at integer coordinates: a 3D point ``(X, Y, Z)``
projects to ``u = fx * X / Z + cx``, ``v = fy * Y / Z + cy``.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

#: linear RGB-ish skin base colours (0-1), light to dark; BGR order
SKIN_TONES_BGR = np.array([
    [0.78, 0.86, 0.98],
    [0.66, 0.78, 0.94],
    [0.55, 0.69, 0.88],
    [0.42, 0.56, 0.78],
    [0.30, 0.43, 0.62],
    [0.20, 0.30, 0.47],
])


def project(points: np.ndarray, cam: Sequence[float]) -> np.ndarray:
    """Pinhole projection.

    Args:
        points: (N, 3) camera coordinates, Z > 0.
        cam: ``(fx, fy, cx, cy)``.

    Returns:
        np.ndarray: (N, 2) pixel coordinates.
    """
    fx, fy, cx, cy = cam
    return np.stack([fx * points[:, 0] / points[:, 2] + cx,
                     fy * points[:, 1] / points[:, 2] + cy], axis=1)


def _render_faces(faces: np.ndarray, cam: Sequence[float],
                  depth: np.ndarray, normal: np.ndarray) -> None:
    """Z-buffer planar convex faces (flat normals) in place.

    Args:
        faces: (F, K, 3) vertices of convex planar polygons. The outward
            normal of a face points away from the centroid of all faces
            (the slab's centre).
        cam: ``(fx, fy, cx, cy)``.
        depth: (H, W) z-buffer, updated.
        normal: (H, W, 3) normal buffer, updated.
    """
    h, w = depth.shape
    fx, fy, cx, cy = cam
    centre = faces.reshape(-1, 3).mean(0)
    for face in faces:
        if np.any(face[:, 2] <= 0):
            continue
        n = np.cross(face[1] - face[0], face[2] - face[0])
        n /= np.linalg.norm(n) + 1e-12
        if n @ (face.mean(0) - centre) < 0:
            n = -n
        uv = np.stack([fx * face[:, 0] / face[:, 2] + cx,
                       fy * face[:, 1] / face[:, 2] + cy], 1)
        x0, y0 = np.maximum(np.floor(uv.min(0)).astype(int), 0)
        x1 = min(int(np.ceil(uv[:, 0].max())), w - 1)
        y1 = min(int(np.ceil(uv[:, 1].max())), h - 1)
        if x1 < x0 or y1 < y0:
            continue
        m = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
        pts = np.round((uv - [x0, y0]) * 16).astype(np.int32)
        cv2.fillConvexPoly(m, pts, 1, lineType=cv2.LINE_8, shift=4)
        # depth of the plane n.X = n.P0 along each pixel's ray
        rx = (np.arange(x0, x1 + 1, dtype=np.float32)[None, :] - cx) / fx
        ry = (np.arange(y0, y1 + 1, dtype=np.float32)[:, None] - cy) / fy
        den = n[0] * rx + n[1] * ry + n[2]
        with np.errstate(divide='ignore', invalid='ignore'):
            z = (n @ face[0]) / den
        zb = depth[y0:y1 + 1, x0:x1 + 1]
        sel = (m > 0) & (z > 0) & (z < zb)
        zb[sel] = z[sel]
        normal[y0:y1 + 1, x0:x1 + 1][sel] = n


def render_capsules(caps: np.ndarray, cam: Sequence[float],
                    size: Tuple[int, int],
                    faces: Optional[np.ndarray] = None
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Z-buffer a set of tapered capsules (and planar faces).

    Args:
        caps: (N, 8) rows ``[x0, y0, z0, x1, y1, z1, r0, r1]`` in camera
            coordinates (mm).
        faces: Optional (F, K, 3) convex planar faces (the palm slab),
            see :func:`_render_faces`.
        cam: ``(fx, fy, cx, cy)``; ``fx`` and ``fy`` should be equal
            (square pixels) for round cross-sections.
        size: ``(height, width)`` of the image.

    Returns:
        tuple: ``depth`` (H, W) float32 in mm, ``inf`` where empty, and
        ``normal`` (H, W, 3) float32 unit normals (camera axes, facing the
        camera means negative z), zero where empty.
    """
    h, w = size
    fx, fy, cx, cy = cam
    depth = np.full((h, w), np.inf, dtype=np.float32)
    normal = np.zeros((h, w, 3), dtype=np.float32)
    p0 = project(caps[:, 0:3], cam)
    p1 = project(caps[:, 3:6], cam)
    z0, z1 = caps[:, 2], caps[:, 5]
    r0 = fx * caps[:, 6] / z0
    r1 = fx * caps[:, 7] / z1
    lo = np.floor(np.minimum(p0 - r0[:, None], p1 - r1[:, None])).astype(int)
    hi = np.ceil(np.maximum(p0 + r0[:, None], p1 + r1[:, None])).astype(int)
    lo = np.maximum(lo, 0)
    hi[:, 0] = np.minimum(hi[:, 0], w - 1)
    hi[:, 1] = np.minimum(hi[:, 1], h - 1)
    for i in range(len(caps)):
        x0, y0 = lo[i]
        x1, y1 = hi[i]
        if x1 < x0 or y1 < y0 or z0[i] <= 0 or z1[i] <= 0:
            continue
        qx = np.arange(x0, x1 + 1, dtype=np.float32)[None, :] - p0[i, 0]
        qy = np.arange(y0, y1 + 1, dtype=np.float32)[:, None] - p0[i, 1]
        vx, vy = p1[i] - p0[i]
        len2 = vx * vx + vy * vy
        if len2 > 1e-9:
            t = np.clip((qx * vx + qy * vy) / len2, 0.0, 1.0)
        else:
            t = np.zeros(np.broadcast_shapes(qx.shape, qy.shape),
                         dtype=np.float32)
        dx = qx - t * vx
        dy = qy - t * vy
        d2 = dx * dx + dy * dy
        r = r0[i] + t * (r1[i] - r0[i])
        inside = d2 < r * r
        if not inside.any():
            continue
        hgt = np.sqrt(np.maximum(r * r - d2, 0.0)) / r
        rad3 = caps[i, 6] + t * (caps[i, 7] - caps[i, 6])
        z = z0[i] + t * (z1[i] - z0[i]) - hgt * rad3
        zb = depth[y0:y1 + 1, x0:x1 + 1]
        m = inside & (z < zb)
        zb[m] = z[m]
        nb = normal[y0:y1 + 1, x0:x1 + 1]
        nb[m, 0] = (dx / r)[m]
        nb[m, 1] = (dy / r)[m]
        nb[m, 2] = -hgt[m]
    if faces is not None:
        _render_faces(faces, cam, depth, normal)
    return depth, normal


def shade(normal: np.ndarray, mask: np.ndarray, skin_bgr: np.ndarray,
          light: np.ndarray, ambient: float) -> np.ndarray:
    """Lambert shading plus a faint specular term.

    Args:
        normal: (H, W, 3) unit normals.
        mask: (H, W) bool, pixels to shade.
        skin_bgr: (3,) albedo in [0, 1], BGR.
        light: (3,) unit vector from the surface towards the light.
        ambient: Ambient term in [0, 1].

    Returns:
        np.ndarray: (M, 3) float32 BGR values in [0, 255] for the
        ``mask`` pixels, in ``normal[mask]`` order.
    """
    n = normal[mask]
    lam = np.clip(n @ light, 0.0, 1.0)
    spec = np.clip(n @ np.array([0.0, 0.0, -1.0]), 0.0, 1.0)
    spec = 0.12 * spec**12
    val = skin_bgr[None, :] * (ambient + (1 - ambient) * lam)[:, None]
    return np.clip((val + spec[:, None]) * 255.0, 0, 255).astype(np.float32)


def random_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random background: a colour gradient, smooth noise, stripes or a
    checkerboard (or a blend of two), plus fine noise.

    Args:
        rng: Random generator.
        size: Side length of the square image.

    Returns:
        np.ndarray: (size, size, 3) uint8 BGR image.
    """
    def one() -> np.ndarray:
        kind = rng.integers(4)
        c1 = rng.uniform(0, 255, 3)
        c2 = rng.uniform(0, 255, 3)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        if kind == 0:  # linear gradient
            a = rng.uniform(0, 2 * np.pi)
            g = (np.cos(a) * xx + np.sin(a) * yy)
            g = (g - g.min()) / (np.ptp(g) + 1e-6)
            return c1 + g[..., None] * (c2 - c1)
        if kind == 1:  # smooth noise
            k = int(rng.integers(3, 9))
            low = rng.uniform(0, 255, (k, k, 3)).astype(np.float32)
            return cv2.resize(low, (size, size),
                              interpolation=cv2.INTER_CUBIC)
        if kind == 2:  # stripes
            a = rng.uniform(0, np.pi)
            period = rng.uniform(0.05, 0.3)
            g = np.sin((np.cos(a) * xx + np.sin(a) * yy) / period * 2 *
                       np.pi) * 0.5 + 0.5
            return c1 + g[..., None] * (c2 - c1)
        cell = rng.uniform(0.06, 0.25)  # checkerboard
        g = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2)
        return c1 + g[..., None] * (c2 - c1)

    bg = one()
    if rng.random() < 0.4:
        bg = 0.5 * (bg + one())
    bg = bg + rng.normal(0, rng.uniform(1, 6), (size, size, 1))
    return np.clip(bg, 0, 255).astype(np.uint8)
