"""Where the HDR pipeline takes its four hand masks from.

Each choice of ``mask_input`` is a function in :data:`MASK_SOURCES`,
``source(pipeline, crops, data_samples) -> (N, 4, S, S)`` float masks in
{0, 1} on the two-hand crops, channel order ``pipeline.mask_names``,
where ``pipeline`` is the :class:`~hdr_mm.models.hdr.HDRPoseEstimator`
and ``crops`` the (N, 3, S, S) two-hand crops.
"""
from typing import Callable, Dict, List

import torch
from mmpose.structures import PoseDataSample
from torch import Tensor


def masks_from_hasm(pipeline, crops: Tensor,
                    data_samples: List[PoseDataSample]) -> Tensor:
    """HASM's masks (HDR): the HASM stage's ``predict_masks``."""
    with pipeline.runtime.context():
        return pipeline.hasm.predict_masks(crops, pipeline.hasm_size,
                                           pipeline.runtime.hasm)


def masks_from_gt(pipeline, crops: Tensor,
                  data_samples: List[PoseDataSample]) -> Tensor:
    """The ground-truth masks of the samples (``gt_fields.hand_masks``):
    what a perfect HASM would give, to measure how much of the pipeline's
    error is HASM's.

    The masks must be in the pipeline's ``mask_names`` order
    (:class:`~hdr_mm.datasets.transforms.LoadHDRTargets` and HASM both
    default to :data:`~hdr_mm.structures.HAND_MASK_NAMES`).

    Raises:
        ValueError: a sample without them, or of another size than its
        crop.
    """
    want = (len(pipeline.mask_names), *crops.shape[-2:])
    masks = []
    for s in data_samples:
        where = s.metainfo.get('img_path', 'a sample')
        gt = s.get('gt_fields')
        if gt is None or 'hand_masks' not in gt:
            raise ValueError(
                "HDRPoseEstimator: mask_input='gt' takes the ground-truth "
                f'masks, but {where} has no gt_fields.hand_masks: the test '
                "pipeline needs LoadHDRTargets and CropBothHands(mask_keys="
                "['gt_hand_masks'])")
        mask = torch.as_tensor(gt.hand_masks)
        if tuple(mask.shape) != want:
            raise ValueError(
                f'HDRPoseEstimator: the ground-truth masks of {where} are '
                f'{tuple(mask.shape)}, expected {want} (channels '
                f'{pipeline.mask_names} on its two-hand crop)')
        masks.append(mask)
    return torch.stack(masks).to(crops.device, torch.float32)


#: where the masks come from: HASM, or the ground truth (a perfect HASM)
MASK_SOURCES: Dict[str, Callable[..., Tensor]] = dict(
    hasm=masks_from_hasm, gt=masks_from_gt)
MASK_INPUTS = tuple(MASK_SOURCES)
