"""Tiny stage networks for the tests of the model utilities."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope

from hdr_mm.models.hdr.stage_builder import build_stage

TINY = dict(
    hasm='configs/hasm/hasm_segformer_mit-b0_1xb8-1.5k_synthetic-128x128.py',
    tdr='configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py',
    shpe='configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py')


@pytest.fixture
def tiny_stage(repo_root):
    """Factory of the tiny configs' stage models, random weights (seed 0).

    Returns:
        Callable[[str], nn.Module]: ``'hasm' | 'tdr' | 'shpe' -> model``.
    """

    def build(name: str) -> nn.Module:
        init_default_scope('mmpose')
        torch.manual_seed(0)
        return build_stage(name, osp.join(repo_root, TINY[name]))

    return build
