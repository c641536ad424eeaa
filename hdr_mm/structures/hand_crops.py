"""The batch of per-hand crops of the HDR pipeline.

A batch of N frames gives 2N hand crops, rows ``right_0..right_N-1,
left_0..left_N-1``: frame ``i`` owns rows ``i`` (its right hand) and
``N + i`` (its left hand, mirrored so that every later stage sees a right
hand). Each hand's crop is cut **from the frame** (the context window the
data pipeline kept, zero outside the image): the box of its amodal mask
on the two-hand crop, mapped back to image pixels, squared and enlarged
(``padding``); its four masks are warped from the two-hand crop the same
way. The pipeline cuts them (:class:`~hdr_mm.models.hdr.HDRPoseEstimator`)
and the metric of its intermediate results cuts each hand's ground truth
like them (:class:`~hdr_mm.evaluation.metrics.HDRStageMetric`).
"""
from typing import Dict, List, NamedTuple, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .bbox import batched_transforms as geo
from .hand_masks import TDR_MASK_NAMES
from .hand_joints import HANDS


class HandCrops(NamedTuple):
    """Where each hand's crop lies; 2N rows as the module docstring."""
    #: (2N, 4) the hand's amodal box in image pixels (zeros if absent)
    boxes: Tensor
    #: (2N,) bool, the hand was found
    present: Tensor
    #: (2N, 2) and (2N,): the crop's centre and side in image pixels
    centers: Tensor
    sides: Tensor
    #: (2N,) bool, the crop is mirrored (a left hand)
    mirrored: Tensor
    #: (2N, 2, 3) context-window pixels -> hand crop pixels (mirrored)
    context_to_crop: Tensor
    #: (2N, 2, 3) two-hand crop pixels -> hand crop pixels (mirrored)
    two_hand_to_crop: Tensor


def frame_rows(i: int, n: int) -> List[int]:
    """The rows of frame ``i``'s right and left hand in a batch of ``n``
    frames.

    Args:
        i: The frame's index in the batch.
        n: N, frames in the batch.

    Returns:
        list[int]: ``[i, n + i]``.
    """
    return [i, n + i]


def stack_frame_rows(per_frame: Sequence[Tensor]) -> Tensor:
    """Put per-frame pairs back into the rows of the batch.

    Args:
        per_frame: N tensors (2, ...): each frame's right then left hand.

    Returns:
        Tensor: (2N, ...), rows as the module docstring.
    """
    pairs = torch.stack(list(per_frame))
    return torch.cat([pairs[:, 0], pairs[:, 1]])


def target_hand_masks(masks: Tensor, mask_names: Sequence[str]) -> Tensor:
    """Each target hand's four masks, from the frames' HASM masks.

    Args:
        masks: (N, 4, S, S) HASM masks, channel order ``mask_names``.
        mask_names: Names of the channels (:data:`HAND_MASK_NAMES`).

    Returns:
        Tensor: (2N, 4, S, S) ``[A_t, V_t, A_o, V_o]`` of each target
        hand ``t`` (``o`` the other hand), rows as the module docstring.
    """
    idx = {name: i for i, name in enumerate(mask_names)}
    return torch.cat([
        masks[:, [idx[name] for name in TDR_MASK_NAMES[hand]]]
        for hand in HANDS
    ])


def locate_hands(masks: Tensor, mask_names: Sequence[str],
                 metainfo: Sequence[dict], crop_size: int,
                 padding: float = 2.0,
                 min_mask_pixels: int = 16) -> HandCrops:
    """Where to cut each hand, from HASM's masks.

    Args:
        masks: (N, 4, S, S) HASM masks on the two-hand crops.
        mask_names: Their channel names.
        metainfo: N dicts with ``input_center``, ``input_scale`` (the
            two-hand crop in image pixels) and ``context_origin``.
        crop_size: s, side of the hand crops.
        padding: Enlargement of each hand's amodal box.
        min_mask_pixels: A hand whose amodal mask has fewer pixels is
            absent; its crop is cut around the whole two-hand crop (its
            results are discarded, the batch keeps its shape).

    Returns:
        HandCrops: 2N rows.
    """
    n, size = masks.shape[0], masks.shape[-1]
    dev = masks.device

    def meta(key: str) -> Tensor:
        return torch.as_tensor(
            np.stack([np.asarray(m[key], np.float32).reshape(-1)
                      for m in metainfo]), device=dev)

    crop_c, crop_s = meta('input_center'), meta('input_scale')[:, 0]
    origin = meta('context_origin')
    crop_c2, crop_s2 = crop_c.repeat(2, 1), crop_s.repeat(2)
    amodal = target_hand_masks(masks, mask_names)[:, 0]
    boxes, present = geo.mask_bboxes(amodal)
    present &= amodal.flatten(1).sum(1) >= min_mask_pixels
    boxes = geo.crop_to_image(boxes.view(-1, 2, 2), crop_c2, crop_s2,
                              size).reshape(-1, 4)
    whole = torch.cat([crop_c2 - crop_s2[:, None] / 2,
                       crop_c2 + crop_s2[:, None] / 2], dim=1)
    boxes = torch.where(present[:, None], boxes, whole)
    centers, sides = geo.square_crop_cs(boxes, padding)
    mirror = torch.arange(2 * n, device=dev) >= n
    to_crop = geo.crop_warp_matrix(centers, sides, crop_size, mirror)
    two_hand = geo.crop_warp_matrix(crop_c2, crop_s2, size)
    return HandCrops(
        boxes=boxes * present[:, None],
        present=present,
        centers=centers,
        sides=sides,
        mirrored=mirror,
        context_to_crop=geo.compose_affine(
            to_crop, geo.translation(origin.repeat(2, 1))),
        two_hand_to_crop=geo.compose_affine(to_crop,
                                            geo.invert_affine(two_hand)))


def cut_hands(context: Tensor, masks: Tensor, mask_names: Sequence[str],
              hands: HandCrops, crop_size: int) -> Dict[str, Tensor]:
    """Each hand's crop from the frame and its masks from HASM's.

    Args:
        context: (N, 3, H, W) context windows, float 0-255.
        masks: (N, 4, S, S) HASM masks.
        mask_names: Their channel names.
        hands: From :func:`locate_hands`.
        crop_size: s.

    Returns:
        dict: ``images`` (2N, 3, s, s) float 0-255 and ``masks``
        (2N, 4, s, s) ``[A_t, V_t, A_o, V_o]`` in {0, 1}.
    """
    return dict(
        images=geo.warp_affine(context.repeat(2, 1, 1, 1),
                               hands.context_to_crop, crop_size),
        masks=cut_hand_masks(masks, mask_names, hands.two_hand_to_crop,
                             crop_size))


def cut_hand_masks(masks: Tensor, mask_names: Sequence[str],
                   two_hand_to_crop: Tensor, crop_size: int) -> Tensor:
    """Each target hand's four masks on its crop, from a frame's four
    masks on the two-hand crop (HASM's, or the ground truth's to score
    them).

    Args:
        masks: (N, 4, S, S) masks on the two-hand crop.
        mask_names: Their channel names.
        two_hand_to_crop: (2N, 2, 3) two-hand crop pixels -> hand crop
            pixels (:attr:`HandCrops.two_hand_to_crop`).
        crop_size: s.

    Returns:
        Tensor: (2N, 4, s, s) ``[A_t, V_t, A_o, V_o]`` in {0, 1}, rows as
        the module docstring.
    """
    return geo.warp_affine(target_hand_masks(masks.float(), mask_names),
                           two_hand_to_crop, crop_size, 'nearest')


def cut_hand_pairs(images: Sequence[Tensor], context_to_crop: Tensor,
                   crop_size: int) -> Tensor:
    """Cut each frame's pair of per-hand images like the hand crops.

    Args:
        images: N (2C, H_i, W_i) images in the context window's pixels,
            one per frame: the right hand's C channels, then the left
            hand's (e.g. ``gt_alone_context``, each hand rendered alone).
            Frames of different sizes are zero-padded to a common size.
        context_to_crop: (2N, 2, 3) context-window pixels -> hand crop
            pixels (:attr:`HandCrops.context_to_crop`).
        crop_size: s.

    Returns:
        Tensor: (2N, C, s, s) float, on the device of
        ``context_to_crop``.
    """
    stacked = geo.pad_stack(
        [t.to(context_to_crop.device).float() for t in images])
    c = stacked.shape[1] // 2
    both = torch.cat([stacked[:, :c], stacked[:, c:]])
    return geo.warp_affine(both, context_to_crop, crop_size)


def hand_crop_size(shpe_size: int, padding: float,
                   shpe_padding: float) -> int:
    """Side of the hand crops the pipeline cuts, so that their centre
    ``shpe_size`` pixels show the hand at the SHPE's own padding.

    The crops are cut at ``padding`` (TDR's context) and SHPE reads their
    centre window (:func:`centre_window`), which is the crop the SHPE was
    trained on when the hand's box is enlarged ``shpe_padding`` times
    instead. Cutting larger and slicing keeps every SHPE pixel at the
    frame's resolution (no resampling of the TDR output).

    Args:
        shpe_size: s, the SHPE's input side.
        padding: Enlargement of the amodal box in the cut crops.
        shpe_padding: Enlargement the SHPE was trained with
            (<= ``padding``).

    Returns:
        int: ``s * padding / shpe_padding``.

    Raises:
        ValueError: ``shpe_padding`` larger than ``padding`` or not
            positive, or a crop side that is not a whole number of pixels
            with an even margin around the SHPE window.
    """
    if not 0 < shpe_padding <= padding:
        raise ValueError(f'shpe_padding must be in (0, hand_padding={padding}]'
                         f', got {shpe_padding}')
    side = shpe_size * padding / shpe_padding
    if abs(side - round(side)) > 1e-6 or (round(side) - shpe_size) % 2:
        raise ValueError(
            f'shpe_padding={shpe_padding}: the hand crops would be '
            f'{side:g} px for a {shpe_size} px SHPE window at hand_padding='
            f'{padding}; choose paddings whose ratio gives a whole number '
            'of pixels with an even margin (e.g. 1.5 with 2.0 at 96 px: '
            '128 px)')
    return int(round(side))


def centre_window(images: Tensor, sides: Tensor,
                  size: int) -> Tuple[Tensor, Tensor]:
    """The centre ``size`` x ``size`` pixels of each crop, and the side
    in image pixels that window covers (its centre is the crop's).

    Args:
        images: (M, C, S, S) crops.
        sides: (M,) their sides in image pixels.
        size: s <= S, with S - s even.

    Returns:
        tuple: (M, C, s, s) windows (views of ``images``) and (M,) sides.
    """
    full = images.shape[-1]
    if size == full:
        return images, sides
    if size > full or (full - size) % 2:
        raise ValueError(f'centre_window: a {size} px window does not sit '
                         f'centred in {full} px crops')
    lo = (full - size) // 2
    return (images[..., lo:lo + size, lo:lo + size], sides * size / full)
