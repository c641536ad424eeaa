"""ONNX export of the three stage networks.

What is exported is each stage's *network*, from its normalised input to
its raw outputs; the data pre-processing before it and the read-out
after it stay in the pipeline (torch/numpy), shared by every backend:

========  =========================  ==================================
stage     inputs                     outputs
========  =========================  ==================================
``hasm``  ``inputs`` (N, C, S, S):   ``logits`` (N, 2M, S/4, S/4): the
          the segmentor's data       stacked two-class logits of the M
          pre-processor's output     masks (``decode_head.forward``)
``tdr``   ``x``, ``mask``            ``out`` (N, 3, S, S) generator
          (N, 8, S, S) as            output, ``out_mask`` (N, 3, S, S)
          ``build_tdr_inputs``
``shpe``  ``inputs`` (N, 3, S, S)    ``heatmaps`` (N, K, S/4, S/4),
          normalised crops           ``delta_maps`` and
                                     ``location_maps`` (N, K, 3, S/4,
                                     S/4)
========  =========================  ==================================

The batch axis is dynamic. The graph's metadata records the stage, the
input size and, for HASM, what the logits' resizing needs
(``align_corners``), so a runner (:mod:`.ort_backend`) needs no config.
The file is written atomically (a temporary file in the target folder,
then a rename): a failed or killed export leaves an existing file as it
was, and an unwritable folder is named before torch runs.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from hdr_mm.utils.atomic_file import atomic_write

#: stage -> (input names, output names)
STAGE_NETWORKS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = dict(
    hasm=(('inputs', ), ('logits', )),
    tdr=(('x', 'mask'), ('out', 'out_mask')),
    shpe=(('inputs', ), ('heatmaps', 'delta_maps', 'location_maps')),
)
#: default ONNX opset (SDPA and LayerNorm export natively from 17 on)
DEFAULT_OPSET = 17


class HASMLogitsNet(nn.Module):
    """HASM's network: backbone and four-branch decode head.

    Args:
        segmentor: A :class:`~hdr_mm.models.hasm.HandAmodalSegmentor`.

    Shapes:
        (N, C, S, S) pre-processed crops -> (N, 2M, S/4, S/4) logits.
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        seg = self.segmentor
        return seg.decode_head.forward(seg.extract_feat(inputs))


class TDRGeneratorNet(nn.Module):
    """TDR's generator (partial-conv U-Net), discriminator left out.

    Args:
        tdr: A :class:`~hdr_mm.models.tdr.TDR` model or its generator.

    Shapes:
        x, mask (N, 8, S, S) -> out (N, 3, S, S), out_mask (N, 3, S, S).
    """

    def __init__(self, tdr: nn.Module) -> None:
        super().__init__()
        self.generator = getattr(tdr, 'generator', tdr)

    def forward(self, x: torch.Tensor,
                mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.generator(x, mask)


class SHPEMapsNet(nn.Module):
    """SHPE's network: DetNet trunk and the heat/delta/location maps.

    Args:
        pose_estimator: A ``TopdownPoseEstimator`` with a ``DetNetHead``.

    Shapes:
        (N, 3, S, S) normalised crops -> heatmaps (N, K, S/4, S/4), delta
        and location maps (N, K, 3, S/4, S/4).
    """

    def __init__(self, pose_estimator: nn.Module) -> None:
        super().__init__()
        self.pose_estimator = pose_estimator

    def forward(self, inputs: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pe = self.pose_estimator
        return pe.head.forward(pe.extract_feat(inputs))


#: stage -> the module that wraps its network for export
STAGE_WRAPPERS = dict(hasm=HASMLogitsNet, tdr=TDRGeneratorNet,
                      shpe=SHPEMapsNet)


def example_inputs(stage: str, model: nn.Module, size: int,
                   batch_size: int = 1) -> Tuple[torch.Tensor, ...]:
    """Inputs of the right shape for a stage network (random values).

    Args:
        stage: ``'hasm'``, ``'tdr'`` or ``'shpe'``.
        model: The stage model (segmentor, TDR, pose estimator).
        size: Side S of the stage's square input.
        batch_size: N.

    Returns:
        tuple of tensors: HASM: the data pre-processor's output for N
        random uint8 crops (so extra channels, e.g. coordinates, are
        there); TDR: ``x`` and a 0/1 ``mask`` (N, in_channels, S, S);
        SHPE: (N, 3, S, S).
    """
    g = torch.Generator().manual_seed(0)
    if stage == 'hasm':
        imgs = [torch.randint(0, 256, (3, size, size), generator=g,
                              dtype=torch.uint8) for _ in range(batch_size)]
        return (model.data_preprocessor(dict(inputs=imgs),
                                        False)['inputs'], )
    if stage == 'tdr':
        gen = getattr(model, 'generator', model)
        c = gen.in_channels
        x = torch.randn(batch_size, c, size, size, generator=g)
        mask = (torch.rand(batch_size, 1, size, size, generator=g) >
                0.3).float().expand(-1, c, -1, -1).contiguous()
        return x * mask, mask
    if stage == 'shpe':
        return (torch.randn(batch_size, 3, size, size, generator=g), )
    raise ValueError(f'unknown stage {stage!r}; expected one of '
                     f'{sorted(STAGE_NETWORKS)}')


def _metadata(stage: str, model: nn.Module, size: int) -> Dict[str, str]:
    meta = dict(hdr_mm_stage=stage, input_size=str(size))
    if stage == 'hasm':
        meta['align_corners'] = str(
            bool(getattr(model.decode_head, 'align_corners', False)))
        meta['num_masks'] = str(len(model.decode_head.mask_names))
    return meta


def export_stage(stage: str,
                 model: nn.Module,
                 out_file: str,
                 size: int,
                 opset: int = DEFAULT_OPSET,
                 inputs: Optional[Sequence[torch.Tensor]] = None,
                 check: bool = True) -> str:
    """Export one stage network to ONNX (float32, dynamic batch).

    Args:
        stage: ``'hasm'``, ``'tdr'`` or ``'shpe'``.
        model: The stage model in float32 (not prepared for bf16; a
            model prepared for fp32 inference, with BatchNorms folded,
            exports too).
        out_file: Path of the ``.onnx`` file (written atomically; an
            existing file is replaced only once the new one is complete).
        size: Side S of the stage's square input.
        opset: ONNX opset version.
        inputs: Example inputs; default :func:`example_inputs`.
        check: Run ``onnx.checker`` on the result.

    Returns:
        str: ``out_file``.

    Raises:
        ValueError: an unknown stage or a model that is not float32.
        UnwritableFolderError: the folder of ``out_file`` does not exist
            or is not writable.
    """
    import onnx
    if stage not in STAGE_WRAPPERS:
        raise ValueError(f'unknown stage {stage!r}; expected one of '
                         f'{sorted(STAGE_WRAPPERS)}')
    if any(p.dtype != torch.float32 for p in model.parameters()):
        raise ValueError(f'export_stage({stage!r}): the model has '
                         'non-float32 parameters (prepared for bf16?); '
                         'export the float32 model')
    net = STAGE_WRAPPERS[stage](model).eval()
    inputs = tuple(inputs if inputs is not None else
                   example_inputs(stage, model, size))
    in_names, out_names = STAGE_NETWORKS[stage]
    dynamic = {name: {0: 'batch'} for name in in_names + out_names}

    def write(tmp: str) -> None:
        with torch.no_grad():
            torch.onnx.export(
                net, inputs, tmp, input_names=list(in_names),
                output_names=list(out_names), dynamic_axes=dynamic,
                opset_version=opset, do_constant_folding=True, dynamo=False)
        proto = onnx.load(tmp)
        for key, value in _metadata(stage, model, size).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        if check:
            onnx.checker.check_model(proto)
        onnx.save(proto, tmp)

    atomic_write(out_file, write, overwrite=True)
    return out_file
