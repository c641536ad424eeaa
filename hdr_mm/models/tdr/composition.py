"""TDR's input building and output composition, batched in torch.

docs/method.md section 2. From the four hand masks ``[A_t, V_t, A_o, V_o]``
(N, 4, H, W) and the normalised image (N, 3, H, W):

- image input (8 ch): ``[img*K_t, M_t, img*K_o, M_o]``
- mask input (8 ch): ``[K_t x4, K_o x4]``
- composite: output inside ``R = 1 - K_t*K_o`` (dilated by an
  elliptical kernel at inference), input elsewhere.

The mask algebra itself is :func:`hdr_mm.structures.hand_masks.tdr_masks`.
"""
from functools import lru_cache
from typing import Dict, Optional, Tuple

import cv2
import torch
import torch.nn.functional as F

from hdr_mm.structures.hand_masks import tdr_masks


def check_hand_masks(hand_masks: torch.Tensor, img: torch.Tensor,
                     what: str = 'hand_masks') -> None:
    """Raise a clear error unless ``hand_masks`` fits ``img``.

    Args:
        hand_masks: Expected (N, 4, H, W), bool/uint8/float, values 0/1.
        img: (N, C, H, W) image the masks belong to.
        what: Name used in messages.

    Raises:
        TypeError: not a tensor, or not a bool/integer/float dtype.
        ValueError: wrong shape or values other than 0 and 1.
    """
    if not isinstance(hand_masks, torch.Tensor):
        raise TypeError(f'{what} must be a torch.Tensor, got '
                        f'{type(hand_masks).__name__}')
    if hand_masks.dtype not in (torch.bool, torch.uint8, torch.int64,
                                torch.int32, torch.float32, torch.float16,
                                torch.bfloat16, torch.float64):
        raise TypeError(f'{what} has dtype {hand_masks.dtype}; expected '
                        'bool, uint8/int or float with values 0/1')
    n, _, h, w = img.shape
    if tuple(hand_masks.shape) != (n, 4, h, w):
        raise ValueError(
            f'{what} has shape {tuple(hand_masks.shape)}; expected '
            f'{(n, 4, h, w)} = (N, [A_t, V_t, A_o, V_o], H, W) matching '
            f'the image {tuple(img.shape)}')
    if hand_masks.dtype != torch.bool:
        bad = (hand_masks != 0) & (hand_masks != 1)
        if bool(bad.any()):
            vals = torch.unique(hand_masks[bad])[:5].tolist()
            raise ValueError(f'{what} must hold only 0 and 1, found '
                             f'{vals}')


def build_tdr_inputs(
        img: torch.Tensor, hand_masks: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor, Dict[str, torch.Tensor]]:
    """Build the generator's 8-channel image and mask inputs.

    Args:
        img: (N, 3, H, W) normalised image.
        hand_masks: (N, 4, H, W) ``[A_t, V_t, A_o, V_o]`` in {0, 1}.

    Returns:
        tuple: image input (N, 8, H, W), mask input (N, 8, H, W) and the
        dict of :func:`tdr_masks` with (N, 1, H, W) float maps.
    """
    check_hand_masks(hand_masks, img)
    m = hand_masks.to(img.dtype)
    masks = tdr_masks(m[:, 0:1], m[:, 1:2], m[:, 2:3], m[:, 3:4])
    k_t, k_o = masks['keep_t'], masks['keep_o']
    x = torch.cat([img * k_t, masks['modal_t'], img * k_o, masks['modal_o']],
                  dim=1)
    mask_in = torch.cat([k_t.expand(-1, 4, -1, -1),
                         k_o.expand(-1, 4, -1, -1)], dim=1)
    return x, mask_in, masks


@lru_cache(maxsize=8)
def _ellipse(size: int) -> torch.Tensor:
    return torch.from_numpy(
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))).float()


def elliptical_kernel(size: int) -> torch.Tensor:
    """OpenCV's ``MORPH_ELLIPSE`` structuring element as a (1, 1, k, k)
    float tensor (the shape ``cv2.dilate`` uses at inference in the
    reference)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f'dilation kernel size must be odd and >= 1, '
                         f'got {size}')
    return _ellipse(size).view(1, 1, size, size)


def dilate(mask: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Binary dilation by an elliptical kernel, batched.

    Args:
        mask: (N, 1, H, W) in {0, 1}.
        kernel_size: Odd size of the ellipse.

    Returns:
        Tensor: (N, 1, H, W) dilated mask, same dtype as ``mask``.
    """
    kernel = elliptical_kernel(kernel_size).to(mask.device)
    hit = F.conv2d((mask > 0).float(), kernel, padding=kernel_size // 2)
    return (hit > 0).to(mask.dtype)


def confine_hidden_to_occluder(hand_masks: torch.Tensor,
                               margin: int) -> torch.Tensor:
    """Keep only the hidden part of the target hand that the other hand
    can cover.

    In the ground truth the target's hidden part ``A_t (1 - V_t)`` lies
    exactly under the other hand's visible mask ``V_o`` (only the other
    hand occludes it). Predicted masks break this: HASM's amodal and
    visible masks of a hand with nothing in front of it differ along
    its edges, and TDR would repaint the hand's own fingers there (on a
    frame with one hand, every such pixel). This marks the target
    visible wherever it is farther than ``margin`` pixels from ``V_o``,
    so ``H_t = A_t (1 - V_t) dilate(V_o)``; with no other hand in the
    crop nothing of the target is repainted. A deviation from the
    authors' algebra (docs/method.md section 2); the masks TDR is
    trained on satisfy it already, so training is unchanged.

    Args:
        hand_masks: (N, 4, H, W) ``[A_t, V_t, A_o, V_o]`` in {0, 1}.
        margin: Dilation of ``V_o`` in pixels (>= 0), for masks that do
            not quite touch.

    Returns:
        Tensor: (N, 4, H, W) the masks with ``V_t`` widened, same dtype.
    """
    if margin < 0:
        raise ValueError(f'occluder margin must be >= 0 pixels, got '
                         f'{margin}')
    check_hand_masks(hand_masks, hand_masks[:, :3])
    m = hand_masks.float()
    near_o = dilate(m[:, 3:4], 2 * margin + 1)
    visible_t = torch.maximum(m[:, 1:2], m[:, 0:1] * (1 - near_o))
    return torch.cat([m[:, :1], visible_t, m[:, 2:]], 1).to(hand_masks.dtype)


def compose(output: torch.Tensor,
            img: torch.Tensor,
            repaint: torch.Tensor,
            dilate_kernel: Optional[int] = None) -> torch.Tensor:
    """Paste the network output into the input inside the repaint region.

    Args:
        output: (N, C, H, W) network output.
        img: (N, C, H, W) input image in the same space.
        repaint: (N, 1, H, W) region ``R = 1 - K_t*K_o`` in {0, 1}.
        dilate_kernel: Dilate ``R`` by an elliptical kernel of this size
            first (inference: 9); None keeps ``R``.

    Returns:
        Tensor: (N, C, H, W) composite; equal to ``img`` where the
        (dilated) region is 0, so an all-zero region returns the input.
    """
    if repaint.shape[0] != img.shape[0] or repaint.shape[1] != 1 or \
            repaint.shape[2:] != img.shape[2:]:
        raise ValueError(f'repaint region {tuple(repaint.shape)} does not '
                         f'fit the image {tuple(img.shape)}')
    region = dilate(repaint, dilate_kernel) if dilate_kernel else repaint
    region = region.to(img.dtype)
    return torch.where(region > 0, output, img)
