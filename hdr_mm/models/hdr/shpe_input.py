"""What the HDR pipeline feeds its SHPE stage.

Each choice of ``shpe_input`` is a function in :data:`SHPE_FEEDS`,
``feed(pipeline, cut, hands, data_samples) -> (2N, 3, s, s)`` float
0-255 crops, rows as :mod:`hdr_mm.structures.hand_crops`, where
``pipeline`` is the :class:`~hdr_mm.models.hdr.HDRPoseEstimator`,
``cut`` its hand crops and their masks (``cut_hands``) and ``hands``
their geometry (``locate_hands``).
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmpose.structures import PoseDataSample
from torch import Tensor

from hdr_mm.structures.hand_crops import HandCrops, cut_hand_pairs


def feed_tdr(pipeline, cut: Dict[str, Tensor], hands: HandCrops,
             data_samples: List[PoseDataSample]) -> Tensor:
    """The hand crops after TDR (HDR): the TDR stage's ``inpaint``."""
    return pipeline.tdr.inpaint(cut['images'], cut['masks'],
                                pipeline.tdr_size, pipeline.runtime.tdr)


def feed_crop(pipeline, cut: Dict[str, Tensor], hands: HandCrops,
              data_samples: List[PoseDataSample]) -> Tensor:
    """The raw hand crops, TDR skipped (the "SHPE alone" baseline)."""
    return cut['images']


def feed_gt_alone(pipeline, cut: Dict[str, Tensor], hands: HandCrops,
                  data_samples: List[PoseDataSample]) -> Tensor:
    """Each hand rendered alone (the samples' ``gt_alone_context``), cut
    exactly like its crop: what a perfect TDR would give (the ceiling).

    Raises:
        ValueError: a sample without the renders.
    """
    if not all('gt_alone_context' in s for s in data_samples):
        raise ValueError(
            "HDRPoseEstimator: shpe_input='gt_alone' feeds SHPE each hand "
            'rendered alone, but a sample has no gt_alone_context: the '
            'test pipeline needs LoadHDRTargets (and CropBothHands with '
            'context_keys=[gt_alone_right, gt_alone_left])')
    return cut_hand_pairs([s.gt_alone_context for s in data_samples],
                          hands.context_to_crop, pipeline.crop_size)


#: what SHPE can be fed: TDR's output, the raw hand crops, or each hand
#: rendered alone (the ground truth; a perfect TDR)
SHPE_FEEDS: Dict[str, Callable[..., Tensor]] = dict(
    tdr=feed_tdr, crop=feed_crop, gt_alone=feed_gt_alone)
SHPE_INPUTS = tuple(SHPE_FEEDS)


def resolve_shpe_input(shpe_input: str = 'tdr',
                       use_tdr: Optional[bool] = None) -> str:
    """The SHPE input from ``shpe_input`` and its older alias
    ``use_tdr``.

    Args:
        shpe_input: One of :data:`SHPE_INPUTS`.
        use_tdr: None (not given), True (``'tdr'``) or False
            (``'crop'``). False together with the default ``'tdr'`` means
            ``'crop'``.

    Returns:
        str: the resolved value.

    Raises:
        ValueError: an unknown value, or ``use_tdr`` contradicting
            ``shpe_input``.
    """
    if shpe_input not in SHPE_INPUTS:
        raise ValueError(f'HDRPoseEstimator: shpe_input must be one of '
                         f'{SHPE_INPUTS}, got {shpe_input!r}')
    if use_tdr is None:
        return shpe_input
    if use_tdr and shpe_input != 'tdr' or \
            not use_tdr and shpe_input == 'gt_alone':
        raise ValueError(
            f'HDRPoseEstimator: use_tdr={use_tdr} contradicts shpe_input='
            f'{shpe_input!r}; use_tdr is an alias (True: shpe_input=\'tdr\','
            " False: shpe_input='crop'): set only shpe_input")
    return 'tdr' if use_tdr else 'crop'


def check_extra_shpe_inputs(extra: Sequence[str], shpe_input: str,
                            has_tdr: bool) -> Tuple[str, ...]:
    """Check ``extra_shpe_inputs``: the inputs SHPE is also fed in the
    same pass.

    Args:
        extra: The extra inputs, each one of :data:`SHPE_INPUTS`.
        shpe_input: The main input (resolved).
        has_tdr: Whether the pipeline has a TDR stage.

    Returns:
        tuple[str]: ``extra`` as a tuple.

    Raises:
        ValueError: a string instead of a list, an unknown or repeated
            input, the main input again, or ``'tdr'`` without a TDR stage.
    """
    if isinstance(extra, str):
        raise ValueError('HDRPoseEstimator: extra_shpe_inputs must be a '
                         f'list of {SHPE_INPUTS}, got the string {extra!r}')
    extra = tuple(extra)
    for name in extra:
        if name not in SHPE_INPUTS:
            raise ValueError('HDRPoseEstimator: extra_shpe_inputs must be '
                             f'from {SHPE_INPUTS}, got {name!r}')
    if len(set(extra)) != len(extra) or shpe_input in extra:
        raise ValueError('HDRPoseEstimator: extra_shpe_inputs '
                         f'{list(extra)} repeats an input or the main '
                         f'shpe_input {shpe_input!r}')
    if 'tdr' in extra and not has_tdr:
        raise ValueError("HDRPoseEstimator: extra_shpe_inputs has 'tdr' "
                         'but the pipeline has no tdr stage config')
    return extra
