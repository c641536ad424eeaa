"""PNG panels of TDR results: input, masks, output, composite, GT."""
import os
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook

from mmpose.registry import HOOKS

from hdr_mm.structures.hand_masks import tdr_masks


def _hwc(img: torch.Tensor) -> np.ndarray:
    return img.detach().cpu().permute(1, 2, 0).numpy().astype(np.uint8)


def tdr_panel(inp: torch.Tensor,
              hand_masks: torch.Tensor,
              pred_raw: torch.Tensor,
              pred_img: torch.Tensor,
              gt_img: Optional[torch.Tensor] = None) -> np.ndarray:
    """Side-by-side panel of one TDR sample.

    Args:
        inp: (3, H, W) uint8 occluded input (BGR).
        hand_masks: (4, H, W) ``[A_t, V_t, A_o, V_o]``.
        pred_raw: (3, H, W) uint8 raw network output.
        pred_img: (3, H, W) uint8 composite.
        gt_img: (3, H, W) uint8 ground truth, or None (grey tile).

    Returns:
        np.ndarray: (H, 5W, 3) uint8 BGR: input | masks (red: target's
        hidden part H_t, green: other hand to remove H_o, blue: target
        visible V_t) | output | composite | GT.
    """
    m = hand_masks.detach().cpu().float()
    algebra = tdr_masks(m[0], m[1], m[2], m[3])
    h, w = m.shape[1:]
    mask_tile = np.zeros((h, w, 3), np.uint8)
    mask_tile[..., 2] = algebra['hidden_t'].numpy() * 255
    mask_tile[..., 1] = algebra['hidden_o'].numpy() * 255
    mask_tile[..., 0] = algebra['modal_t'].numpy() * 160
    gt = _hwc(gt_img) if gt_img is not None else np.full((h, w, 3), 128,
                                                         np.uint8)
    return np.concatenate(
        [_hwc(inp), mask_tile, _hwc(pred_raw), _hwc(pred_img), gt], axis=1)


@HOOKS.register_module()
class TDRVisualizationHook(Hook):
    """Write :func:`tdr_panel` PNGs during validation and testing.

    Files go to ``<log_dir>/vis/<stage>_iter<k>/<batch>_<i>.png``
    (``stage`` is ``val`` with the training iteration, or ``test``); in a
    distributed run each process writes its own batches as
    ``<batch>_<i>_rank<r>.png``.

    Args:
        interval: Visualise every ``interval``-th validation/test batch.
        max_per_batch: Samples written per visualised batch.
        enable_val: Write during validation.
        enable_test: Write during testing.
    """

    priority = 'NORMAL'

    def __init__(self,
                 interval: int = 1,
                 max_per_batch: int = 4,
                 enable_val: bool = True,
                 enable_test: bool = True) -> None:
        if interval < 1 or max_per_batch < 1:
            raise ValueError('interval and max_per_batch must be >= 1')
        self.interval = interval
        self.max_per_batch = max_per_batch
        self.enable_val = enable_val
        self.enable_test = enable_test

    def _write(self, runner, stage: str, batch_idx: int, data_batch: dict,
               outputs: Sequence) -> None:
        if batch_idx % self.interval:
            return
        out_dir = osp.join(runner.log_dir, 'vis',
                           f'{stage}_iter{runner.iter}')
        os.makedirs(out_dir, exist_ok=True)
        rank, world_size = get_dist_info()
        suffix = f'_rank{rank}' if world_size > 1 else ''
        for i, sample in enumerate(outputs[:self.max_per_batch]):
            path = osp.join(out_dir, f'{batch_idx:05d}_{i}{suffix}.png')
            if osp.exists(path):
                raise FileExistsError(f'{path} exists; not overwriting')
            gt = sample.gt_img if 'gt_img' in sample else None
            panel = tdr_panel(data_batch['inputs'][i], sample.hand_masks,
                              sample.pred_raw, sample.pred_img, gt)
            mmcv.imwrite(panel, path)

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        if self.enable_val:
            self._write(runner, 'val', batch_idx, data_batch, outputs)

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        if self.enable_test:
            self._write(runner, 'test', batch_idx, data_batch, outputs)
