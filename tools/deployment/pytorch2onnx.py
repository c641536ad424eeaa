"""Export the HDR stage networks to ONNX and check them with onnxruntime.

    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT] \
        --out-dir work_dirs/onnx [--stages hasm,tdr,shpe] [--opset 17] \
        [--verify] [--unsafe-load]

``CONFIG`` is either an HDR pipeline config (``configs/hdr/*``: its three
stages are exported, with the weights of ``CHECKPOINT``, a combined HDR
checkpoint, or each stage's own ``checkpoint`` in the config) or a single
stage config (``configs/{hasm,tdr,shpe}/*``, with that stage's
checkpoint). Without a checkpoint the weights are random (enough to
measure speed). The checkpoint is read weights-only and must fit the
model exactly (:func:`hdr_mm.utils.load_weights`); ``--unsafe-load`` is
the opt-in to a full unpickle for a trusted file.

Written: ``<out-dir>/<stage>.onnx`` per stage: HASM ``inputs -> logits``
(before resizing), the TDR generator ``x, mask -> out, out_mask`` (partial
convolutions included), SHPE ``inputs -> heatmaps, delta_maps,
location_maps`` (see :mod:`hdr_mm.deploy.onnx_export`). Run them with
:func:`hdr_mm.deploy.load_ort_stage`. ``--verify`` runs each graph in
onnxruntime on random inputs and prints the largest difference to
PyTorch float32. The out-dir is checked for writing before the models
are built, and each file is written atomically: an export that fails
leaves the file that was there before.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

STAGES = ('hasm', 'tdr', 'shpe')


def load_stages(config: str,
                checkpoint: Optional[str],
                stages: Sequence[str],
                unsafe_load: bool = False) -> Dict[str, torch.nn.Module]:
    """The stage models of an HDR config or the model of a stage config.

    Args:
        config: HDR pipeline config or stage config.
        checkpoint: Combined HDR checkpoint or stage checkpoint; None
            keeps random weights.
        stages: The stages wanted (of a pipeline config).
        unsafe_load: Read ``checkpoint`` with a full unpickle.

    Returns:
        dict: stage name -> model, float32, in eval mode, with the
        weights of ``checkpoint``.

    Raises:
        UnsafeCheckpointError: the checkpoint holds objects a weights-only
            load refuses.
        CheckpointMismatchError: it does not fit the model.
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import hdr_mm  # noqa: F401
    from hdr_mm.models.hdr.stage_builder import build_stage
    from hdr_mm.utils import load_weights
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_type = cfg.model.get('type', '')
    if model_type == 'HDRPoseEstimator':
        from mmpose.registry import MODELS
        pipeline = MODELS.build(cfg.model)
        if checkpoint:
            load_weights(pipeline, checkpoint, 'HDR checkpoint',
                         f'the model of {config}', unsafe_load)
        models = {s: getattr(pipeline, s) for s in stages
                  if getattr(pipeline, s, None) is not None}
    else:
        name = ('tdr' if model_type == 'TDR' else
                'hasm' if 'Segmentor' in model_type else 'shpe')
        if name not in stages:
            raise SystemExit(f'{config} is a {name} config; --stages '
                             f'{",".join(stages)} does not include it')
        models = {
            name: build_stage(name, config, checkpoint,
                              unsafe_load=unsafe_load)
        }
    for m in models.values():
        m.eval()
    return models


def verify(stage: str, model, onnx_file: str, size: int) -> float:
    """Largest |onnxruntime - PyTorch| over the outputs on random inputs
    (batch 2)."""
    from hdr_mm.deploy import STAGE_WRAPPERS, example_inputs, load_ort_stage
    net = STAGE_WRAPPERS[stage](model).eval()
    inputs = example_inputs(stage, model, size, batch_size=2)
    with torch.no_grad():
        ref = net(*inputs)
    ref = ref if isinstance(ref, tuple) else (ref, )
    out = load_ort_stage(onnx_file).run(*inputs)
    return max(float((a - b).abs().max()) for a, b in zip(out, ref))


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Export the stages; returns stage -> written file."""
    from hdr_mm.utils.checkpoint_loading import UNSAFE_HELP
    parser = argparse.ArgumentParser(
        description='Export the HDR stage networks to ONNX')
    parser.add_argument('config', help='HDR pipeline or stage config')
    parser.add_argument('checkpoint', nargs='?',
                        help='combined HDR or stage checkpoint')
    parser.add_argument('--out-dir', default='work_dirs/onnx')
    parser.add_argument('--stages', default=','.join(STAGES),
                        help='comma list of hasm,tdr,shpe')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--verify', action='store_true',
                        help='compare onnxruntime with PyTorch')
    parser.add_argument('--unsafe-load', action='store_true',
                        help=UNSAFE_HELP)
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(',') if s.strip()]
    if not stages or set(stages) - set(STAGES):
        parser.error(f'--stages: choose from {",".join(STAGES)}')
    from hdr_mm.deploy import export_stage
    from hdr_mm.models.hdr.stage_builder import stage_input_size
    from hdr_mm.utils import ensure_writable_folder
    ensure_writable_folder(args.out_dir)
    written = {}
    for name, model in load_stages(args.config, args.checkpoint, stages,
                                   args.unsafe_load).items():
        size = stage_input_size(model.cfg, name)
        path = osp.join(args.out_dir, f'{name}.onnx')
        export_stage(name, model, path, size, opset=args.opset)
        written[name] = path
        msg = f'{name}: {path} (input {size}x{size}, ' \
              f'{osp.getsize(path) / 2**20:.1f} MiB)'
        if args.verify:
            msg += f'; max |onnxruntime - torch| = ' \
                   f'{verify(name, model, path, size):.2e}'
        print(msg, flush=True)
    return written


if __name__ == '__main__':
    main()
