"""The tiny stage networks (random weights) and their ONNX graphs, shared
by the tests of every graph engine."""
import os.path as osp
from typing import Callable, Dict, Tuple

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope

from hdr_mm.models.hdr.stage_builder import build_stage

#: stage -> (tiny config, input side S)
TINY = dict(
    hasm=('configs/hasm/hasm_segformer_mit-b0_1xb8-1.5k_synthetic-128x128.py',
          128),
    tdr=('configs/tdr/tdr_pconv-unet-tiny_synthetic-64x64.py', 64),
    shpe=('configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py',
          96))


@pytest.fixture(scope='session')
def build_tiny(repo_root) -> Callable[[str], nn.Module]:
    """Factory of the tiny configs' stage models, random weights (seed 0).

    Returns:
        Callable[[str], nn.Module]: ``'hasm' | 'tdr' | 'shpe' -> model``.
    """

    def build(name: str) -> nn.Module:
        init_default_scope('mmpose')
        torch.manual_seed(0)
        return build_stage(name, osp.join(repo_root, TINY[name][0]))

    return build


@pytest.fixture(scope='session')
def tiny_graphs(build_tiny, tmp_path_factory
                ) -> Dict[str, Tuple[nn.Module, str, int]]:
    """stage -> (torch model, its exported ``.onnx`` file, input side S).

    The models are shared: tests must not change them.
    """
    from hdr_mm.deploy import export_stage
    pytest.importorskip('onnx')
    out = tmp_path_factory.mktemp('onnx')
    graphs = {}
    for name, (_, size) in TINY.items():
        model = build_tiny(name)
        path = export_stage(name, model, str(out / f'{name}.onnx'), size)
        graphs[name] = (model, path, size)
    return graphs


@pytest.fixture(scope='session')
def assert_same_joints() -> Callable:
    """Check that the SHPE's maps from an engine give eager's joints.

    Returns:
        Callable[[nn.Module, tuple, tuple], None]: ``(model, maps,
        reference maps)``; the maps are (heatmaps, delta_maps,
        location_maps) of N crops of side 96.
    """
    from mmpose.structures import PoseDataSample

    def check(model: nn.Module, maps: tuple, ref: tuple) -> None:
        samples = [PoseDataSample(metainfo=dict(input_size=(96, 96)))
                   for _ in range(len(ref[0]))]
        cfg = dict(bone_length=95.0)
        for p, r in zip(model.head.decode_maps(maps, samples, cfg),
                        model.head.decode_maps(ref, samples, cfg)):
            assert np.array_equal(p.keypoints, r.keypoints)
            np.testing.assert_allclose(p.keypoints_3d, r.keypoints_3d,
                                       atol=1e-3)

    return check
