"""What the benchmark runs: the HDR pipeline with random weights, its
stage networks and their inputs for a batch of two-hand images."""
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from hdr_mm.deploy import STAGE_WRAPPERS
from hdr_mm.models.hdr.stage_builder import resolve_config_path

#: all stages, in pipeline order
STAGES = ('hasm', 'tdr', 'shpe', 'hdr')
#: what one two-hand image feeds each stage
STAGE_INPUT = dict(hasm='1 two-hand crop', tdr='2 hand crops',
                   shpe='2 hand crops', hdr='1 two-hand crop (uint8)')


def build_pipeline(
        config: str,
        cfg_options: Optional[dict] = None) -> Tuple[nn.Module, Any]:
    """The HDR pipeline of ``config`` with random weights, in eval mode.

    Args:
        config: An HDR pipeline config, relative to the working directory
            or to the hdr_mm checkout.
        cfg_options: Overrides merged into it.

    Returns:
        tuple: the model (``HDRPoseEstimator``, SyncBN reverted) and the
        loaded HDR config.

    Raises:
        ValueError: the config's model is not an ``HDRPoseEstimator``.
    """
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    # a quiet current logger: the stages' init_weights log every tensor
    MMLogger.get_instance('hdr_benchmark', log_level='WARNING')
    cfg = Config.fromfile(resolve_config_path('HDR', config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.model.get('type') != 'HDRPoseEstimator':
        raise ValueError(f'{config}: model.type must be HDRPoseEstimator, '
                         f'got {cfg.model.get("type")!r}')
    for name in ('hasm', 'tdr', 'shpe'):
        stage = cfg.model.get(name)
        if stage is not None:
            stage['checkpoint'] = None  # random weights
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model = revert_sync_batchnorm(model)  # SyncBN needs a process group
    return model.eval(), cfg


def stage_networks(model: nn.Module) -> Dict[str, nn.Module]:
    """The networks of the stages (what is timed and counted).

    Args:
        model: The pipeline.

    Returns:
        dict: ``hasm``, ``shpe`` and, when the pipeline has TDR, ``tdr`` ->
        the stage's network as :data:`hdr_mm.deploy.STAGE_WRAPPERS` wraps
        it for export (HASM logits, the TDR generator, SHPE's maps).
    """
    stages = dict(hasm=model.hasm, tdr=model.tdr, shpe=model.shpe)
    return {
        name: STAGE_WRAPPERS[name](stage)
        for name, stage in stages.items() if stage is not None
    }


class BenchInputs:
    """Inputs of every stage network for a batch of N two-hand images.

    Args:
        model: The pipeline.
        cfg: The HDR config (its ``infer_pipeline`` packs the end-to-end
            input, as the inferencer does); None: no end-to-end input.
        batch_size: N.
        device: Where the tensors live (the end-to-end input stays in
            host memory, as a data loader gives it).

    Attributes:
        hasm: (N, C, S, S) pre-processed crops; ``hasm_metas`` their metas.
        tdr_x, tdr_mask: (2N, C, T, T) generator inputs (when the pipeline
            has TDR).
        shpe: (2N, 3, P, P) normalised hand crops.
        data: The end-to-end input of ``test_step`` (None without
            ``cfg``).
    """

    def __init__(self, model: nn.Module, cfg: Optional[Any],
                 batch_size: int, device: torch.device) -> None:
        g = torch.Generator().manual_seed(0)
        n = batch_size
        size = model.hasm_size
        crops = [torch.randint(0, 256, (3, size, size), generator=g,
                               dtype=torch.uint8) for _ in range(n)]
        with torch.no_grad():
            self.hasm = model.hasm.data_preprocessor(
                dict(inputs=crops), False)['inputs'].to(device)
        self.hasm_metas = [dict(img_shape=(size, size),
                                pad_shape=(size, size),
                                ori_shape=(size, size))] * n
        if model.tdr is not None:
            t = model.tdr_size
            c = model.tdr.generator.in_channels
            disc = (torch.rand(2 * n, 1, t, t, generator=g) > 0.3).float()
            self.tdr_mask = disc.expand(-1, c, -1, -1).contiguous().to(
                device)
            self.tdr_x = (torch.randn(2 * n, c, t, t, generator=g) *
                          self.tdr_mask.cpu()).to(device)
        s = model.shpe_size
        self.shpe = torch.randn(2 * n, 3, s, s, generator=g).to(device)
        self.data = None
        if cfg is not None:
            self.data = self._end_to_end(cfg, n, g)

    @staticmethod
    def _end_to_end(cfg: Any, n: int, g: torch.Generator) -> Dict[str, list]:
        """N 640x480 frames whose two-hand box is a quarter of their
        width, packed by the config's inference pipeline."""
        from mmengine.dataset import Compose, pseudo_collate
        frame = torch.randint(0, 256, (480, 640, 3), generator=g,
                              dtype=torch.uint8).numpy()
        pipeline = Compose(cfg.infer_pipeline)
        return pseudo_collate([
            pipeline(dict(img=frame, img_path=f'{i}.jpg',
                          bbox=np.array([[240, 160, 400, 320]], np.float32),
                          bbox_score=np.ones(1, np.float32)))
            for i in range(n)
        ])
