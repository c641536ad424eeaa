"""Quality of HDR's intermediate results inside the pipeline."""
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS

from hdr_mm.structures import HAND_MASK_NAMES, tdr_masks
from hdr_mm.structures.hand_crops import (cut_hand_masks, cut_hand_pairs,
                                          frame_rows, stack_frame_rows)
from .hand_seg_metric import hand_mask_counts, iou_from_counts
from .tdr_metric import scores_in_regions


@METRICS.register_module()
class HDRStageMetric(BaseMetric):
    """Mask IoU of HASM and crop fidelity after TDR, on the pipeline's
    own crops.

    Reads the outputs of :class:`~hdr_mm.models.HDRPoseEstimator` on
    frames packed with :class:`~hdr_mm.datasets.transforms.LoadHDRTargets`
    and ``PackHDRInputs``:

    - ``mask/IoU_<mask>``, ``mask/mIoU``, ``mask/IoU_<h>_hidden``: the
      predicted four masks (``pred_fields.hand_masks``) against the ground
      truth on the two-hand crop, as :class:`HandAmodalIoU` computes them;
    - ``repaint/{psnr,ssim,l1}``: each hand crop fed to SHPE (after TDR, or
      the raw crop when TDR is bypassed: then the scores are those of
      copying the input; with ``shpe_input='gt_alone'`` the reference
      itself: identical images) against the same crop of that hand
      rendered alone, inside the region TDR repaints (from the predicted
      masks); the metric cuts that render (``gt_alone_context``) like the
      crop (``hand_crop_warps``), and takes the regions from the masks on
      the crop (``hand_crop_masks``);
      ``deocc/...`` inside its de-occlusion part (the hand's hidden part
      ``H_t``), ``removal/...`` inside its removal part (the other hand
      ``H_o``), ``crop/...`` on the whole hand crop;
      ``true_deocc/...`` and ``true_removal/...`` inside the same two
      parts of the ground-truth masks (``gt_fields.hand_masks`` cut like
      HASM's, ``hand_crop_mask_warps``): the hand's really hidden part
      and the other hand as they are, whatever HASM found (the predicted
      parts also hold HASM's mistakes, e.g. visible fingers taken for
      hidden ones, where copying the input is exact); ``<region>/count``
      hands scored (a hand whose region is empty is not).
      Only the hands of two-hand frames that HASM found count: in a
      one-hand frame the render of the hand alone is the frame itself, so
      an untouched crop would score a perfect (infinite) PSNR and swamp
      the mean.

    ``process`` keeps pixel counts and per-hand scores; ``compute_metrics``
    averages them.

    Args:
        mask_names: Channel order of the masks.
        collect_device: See :class:`mmengine.evaluator.BaseMetric`.
        prefix: Prefix of the keys (default ``hdr``).
    """

    default_prefix: Optional[str] = 'hdr'

    def __init__(self,
                 mask_names: Sequence[str] = HAND_MASK_NAMES,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.mask_names = tuple(mask_names)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Count mask overlaps and score the hand crops of one batch.

        Args:
            data_batch: Unused.
            data_samples: The batch's pipeline outputs as dicts with
                ``pred_fields`` and ``gt_fields`` (``hand_masks``),
                ``tdr_crops``, ``hand_crop_masks``, ``hand_crop_warps``,
                ``hand_crop_mask_warps``, ``gt_alone_context``,
                ``pred_instances.hand_type`` and metainfo
                ``gt_alone_valid``.
        """
        for ds in data_samples:
            name = ds.get('img_path', 'a data sample')
            for key in ('pred_fields', 'gt_fields', 'gt_alone_context',
                        'hand_crop_warps', 'hand_crop_mask_warps',
                        'hand_crop_masks'):
                if key not in ds:
                    raise KeyError(
                        f'HDRStageMetric: {name} has no {key!r}; it reads '
                        'the outputs of HDRPoseEstimator on a test pipeline '
                        'with LoadHDRTargets and PackHDRInputs')
        references = self.reference_crops(data_samples)
        true_masks = self.true_crop_masks(data_samples, self.mask_names)
        for i, ds in enumerate(data_samples):
            name = ds.get('img_path', 'a data sample')
            names = tuple(ds.get('mask_names', self.mask_names))
            if names != self.mask_names:
                raise ValueError(f'{name} has masks {list(names)}, the '
                                 f'metric expects {list(self.mask_names)}')
            result = dict(masks=hand_mask_counts(
                ds['pred_fields']['hand_masks'],
                ds['gt_fields']['hand_masks'], self.mask_names),
                          hands=[])
            found = np.asarray(ds['pred_instances']['hand_type']).reshape(-1)
            valid = np.asarray(ds['gt_alone_valid']).reshape(-1)
            for h in range(2):
                if not (valid.all() and found[h] > 0):
                    continue
                pred = ds['tdr_crops'][h].cpu()
                gt = references[i][h].cpu()
                regions = tdr_masks(*ds['hand_crop_masks'][h].cpu())
                true = tdr_masks(*true_masks[i][h].cpu())
                region = regions['repaint']
                result['hands'].append(scores_in_regions(
                    pred, gt,
                    dict(repaint=region, crop=region >= 0,
                         deocc=regions['hidden_t'],
                         removal=regions['hidden_o'],
                         true_deocc=true['hidden_t'],
                         true_removal=true['hidden_o'])))
            self.results.append(result)

    @staticmethod
    def reference_crops(data_samples: Sequence[dict]) -> List[torch.Tensor]:
        """Each hand rendered alone, cut like the hand crop the pipeline
        fed SHPE.

        Args:
            data_samples: The batch's N outputs, with
                ``gt_alone_context`` (6, H_i, W_i) and ``hand_crop_warps``
                (2, 2, 3); cut together, as the pipeline cuts its crops.

        Returns:
            list[Tensor]: per frame (2, 3, s, s) uint8, right then left
            hand, ``s`` the side of ``tdr_crops``.
        """
        n = len(data_samples)
        alone = cut_hand_pairs(
            [ds['gt_alone_context'] for ds in data_samples],
            stack_frame_rows([ds['hand_crop_warps'] for ds in data_samples]),
            data_samples[0]['tdr_crops'].shape[-1]).round().byte()
        return [alone[frame_rows(i, n)] for i in range(n)]

    @staticmethod
    def true_crop_masks(data_samples: Sequence[dict],
                        mask_names: Sequence[str]) -> List[torch.Tensor]:
        """The ground-truth masks cut like the masks the pipeline gave
        TDR.

        Args:
            data_samples: The batch's N outputs, with
                ``gt_fields.hand_masks`` (4, S, S) and
                ``hand_crop_mask_warps`` (2, 2, 3).
            mask_names: The channel order of the masks.

        Returns:
            list[Tensor]: per frame (2, 4, s, s) ``[A_t, V_t, A_o, V_o]``
            in {0, 1}, right then left hand, ``s`` the side of
            ``tdr_crops``.
        """
        n = len(data_samples)
        warps = stack_frame_rows(
            [torch.as_tensor(ds['hand_crop_mask_warps']).float()
             for ds in data_samples])
        masks = torch.stack([
            torch.as_tensor(ds['gt_fields']['hand_masks']).to(warps.device)
            for ds in data_samples
        ])
        cut = cut_hand_masks(masks, mask_names, warps,
                             data_samples[0]['tdr_crops'].shape[-1])
        return [cut[frame_rows(i, n)] for i in range(n)]

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Aggregate IoUs over all pixels and average the crop scores.

        Args:
            results: The ``process`` outputs of every image.

        Returns:
            dict[str, float]: the keys listed in the class docstring.
        """
        metrics = OrderedDict(
            (f'mask/{k}', v) for k, v in iou_from_counts(
                [r['masks'] for r in results], self.mask_names).items())
        acc = defaultdict(list)
        for r in results:
            for hand in r['hands']:
                for region, scores in hand.items():
                    if scores is None:
                        continue
                    for k, v in scores.items():
                        acc[f'{region}/{k}'].append(v)
        for k in sorted(acc):
            metrics[k] = float(np.mean(acc[k]))
        for region in ('repaint', 'deocc', 'removal', 'true_deocc',
                       'true_removal'):
            if f'{region}/psnr' in acc or region == 'repaint':
                metrics[f'{region}/count'] = len(
                    acc.get(f'{region}/psnr', []))
        return dict(metrics)
