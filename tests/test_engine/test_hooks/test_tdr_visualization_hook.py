import os

import mmcv
import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement

from hdr_mm.engine.hooks import TDRVisualizationHook, tdr_panel


def _sample(hw=16):
    masks = torch.zeros(4, hw, hw, dtype=torch.uint8)
    masks[0, :8] = 1
    masks[1, 4:8] = 1      # target hidden rows 0..3
    masks[2, 8:12] = 1     # other hand below the target: removal hole
    return BaseDataElement(
        hand_masks=masks,
        gt_img=torch.full((3, hw, hw), 200, dtype=torch.uint8),
        pred_img=torch.full((3, hw, hw), 100, dtype=torch.uint8),
        pred_raw=torch.full((3, hw, hw), 50, dtype=torch.uint8))


def test_panel_layout():
    s = _sample()
    inp = torch.full((3, 16, 16), 10, dtype=torch.uint8)
    p = tdr_panel(inp, s.hand_masks, s.pred_raw, s.pred_img, s.gt_img)
    assert p.shape == (16, 80, 3) and p.dtype == np.uint8
    assert (p[:, :16] == 10).all() and (p[:, 32:48] == 50).all()
    assert (p[:, 48:64] == 100).all() and (p[:, 64:] == 200).all()
    mask_tile = p[:, 16:32]
    assert (mask_tile[:4, :, 2] == 255).all()    # H_t in red
    assert (mask_tile[8:12, :, 1] == 255).all()  # H_o in green
    assert (mask_tile[12:, :] == 0).all()


def test_hook_writes_pngs_and_never_overwrites(tmp_path):

    class R:
        log_dir = str(tmp_path)
        iter = 7

    hook = TDRVisualizationHook(max_per_batch=1)
    batch = dict(inputs=[torch.zeros(3, 16, 16, dtype=torch.uint8)] * 2)
    hook.after_val_iter(R(), 0, batch, [_sample(), _sample()])
    files = os.listdir(tmp_path / 'vis' / 'val_iter7')
    assert files == ['00000_0.png']
    img = mmcv.imread(str(tmp_path / 'vis' / 'val_iter7' / files[0]))
    assert img.shape == (16, 80, 3)
    with pytest.raises(FileExistsError):
        hook.after_val_iter(R(), 0, batch, [_sample()])
