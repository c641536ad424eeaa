"""Predicted-looking hand masks for training TDR."""
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS


def smooth_noise(shape: Tuple[int, int], sigma: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Gaussian-blurred white noise scaled to unit standard deviation.

    Args:
        shape: (H, W).
        sigma: Blur in pixels: the size of the blobs.
        rng: Random source.

    Returns:
        np.ndarray: (H, W) float32, mean about 0, std 1.
    """
    noise = rng.standard_normal(shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigma)
    return noise / max(float(noise.std()), 1e-6)


def jitter_mask(mask: np.ndarray, sigma: float, amplitude: float,
                rng: np.random.Generator) -> np.ndarray:
    """Move a binary mask's boundary by smooth random amounts.

    The mask is blurred into a soft map (``sigma``), smooth noise of
    standard deviation ``amplitude`` is added and the sum is cut at 0.5,
    within about ``2 * sigma`` of the boundary: the boundary moves in and
    out in blobs about ``2 * sigma`` wide, by up to ``2 * sigma`` pixels,
    as a segmentation network's errors do; farther inside and outside
    nothing changes.

    Args:
        mask: (H, W) with values 0/1 (any integer or bool dtype).
        sigma: Blur of the mask and size of the noise blobs, pixels.
        amplitude: Standard deviation of the noise (the soft map runs
            from 0 to 1; 0 returns the mask).

    Returns:
        np.ndarray: (H, W) uint8 in {0, 1}.
    """
    binary = (mask > 0).astype(np.uint8)
    if amplitude == 0:
        return binary
    soft = cv2.GaussianBlur(binary.astype(np.float32), (0, 0), sigma)
    band = (soft > 0.02) & (soft < 0.98)  # within about 2 sigma of the edge
    noisy = soft + amplitude * smooth_noise(mask.shape[:2], sigma, rng)
    return np.where(band, noisy > 0.5, binary).astype(np.uint8)


@TRANSFORMS.register_module()
class RandomMaskJitter(BaseTransform):
    """Train TDR on masks that look predicted.

    At inference TDR gets HASM's masks, whose amodal masks are least sure
    where a hand is hidden (the test split's hidden-part IoU is about
    0.4); trained on the exact masks only, TDR paints a whole hand into
    every hole it is given, also where HASM's hole overshoots the hand.
    With probability ``prob`` this moves the boundary of each amodal mask
    by smooth noise (:func:`jitter_mask`); the target image (the hand
    rendered alone) is unchanged, so the losses teach TDR to fill a hole
    whose edge is not the hand's. The visible masks are left exact (HASM
    sees them). Not in the paper, whose TDR trains on the ground-truth
    masks (docs/method.md).

    Written here because no mmcv/mmpose transform perturbs mask shapes
    (their augmentations move the whole image and its masks together).

    Required keys: ``keys`` (each (H, W) 0/1). Modified keys: the same.

    Args:
        keys: The masks to jitter (default both amodal masks).
        prob: Chance that a sample's masks are jittered.
        sigma: Blob size in pixels (:func:`jitter_mask`).
        amplitude: Noise strength, 0 to 1 (:func:`jitter_mask`).
    """

    def __init__(self,
                 keys: Sequence[str] = ('r_amodal', 'l_amodal'),
                 prob: float = 0.5,
                 sigma: float = 2.0,
                 amplitude: float = 0.3) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandomMaskJitter: prob must be in [0, 1], '
                             f'got {prob}')
        if sigma <= 0:
            raise ValueError(f'RandomMaskJitter: sigma must be > 0 pixels, '
                             f'got {sigma}')
        if amplitude < 0:
            raise ValueError(f'RandomMaskJitter: amplitude must be >= 0, '
                             f'got {amplitude}')
        self.keys = tuple(keys)
        self.prob = prob
        self.sigma = sigma
        self.amplitude = amplitude

    def transform(self, results: Dict) -> Dict:
        missing = [k for k in self.keys if k not in results]
        if missing:
            raise KeyError(
                f'RandomMaskJitter: {results.get("img_path", "a sample")} '
                f'has no {missing}; put it after the masks are loaded and '
                'warped')
        # np.random is seeded by mmengine per worker; one generator drawn
        # from it keeps the sample's draws together
        rng = np.random.default_rng(np.random.randint(2**31))
        if rng.random() >= self.prob:
            return results
        for key in self.keys:
            results[key] = jitter_mask(results[key], self.sigma,
                                       self.amplitude, rng)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(keys={self.keys}, '
                f'prob={self.prob}, sigma={self.sigma}, '
                f'amplitude={self.amplitude})')
