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
are built, each target before anything is exported (a folder named
``<stage>.onnx`` is refused), and each file is written atomically: an
export that fails leaves the file that was there before.

Every file handed over goes through hdr_mm's loading policy: the config
must read and name registered types and an HDR pipeline or stage model;
the checkpoints are read weights-only whatever the environment says
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` included) and must fit exactly.
Each refusal names the file and what was expected.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

STAGES = ('hasm', 'tdr', 'shpe')


def config_stage(cfg: 'mmengine.config.Config',
                 config: str) -> Optional[str]:
    """What a config builds: None for the HDR pipeline, else its stage.

    Args:
        cfg: The config.
        config: Its file, for the message.

    Returns:
        str or None: None (``HDRPoseEstimator``), ``'hasm'`` (a
        segmentor), ``'tdr'`` (``TDR``) or ``'shpe'`` (a pose estimator).

    Raises:
        ConfigFileError: its model is none of these (e.g. a detector).
    """
    from hdr_mm.utils import ConfigFileError
    model_type = str(cfg.model.get('type', '')).rsplit('.', 1)[-1]
    if model_type == 'HDRPoseEstimator':
        return None
    if model_type == 'TDR':
        return 'tdr'
    if model_type.endswith('Segmentor'):
        return 'hasm'
    if model_type.endswith('PoseEstimator'):
        return 'shpe'
    raise ConfigFileError(
        f'{config} is not an HDR pipeline or stage config: its model is '
        f'{model_type!r}, expected HDRPoseEstimator, a HASM segmentor, TDR '
        'or an SHPE pose estimator (configs/{hdr,hasm,tdr,shpe}/)')


def load_stages(config: str,
                checkpoint: Optional[str],
                stages: Sequence[str],
                unsafe_load: bool = False) -> Dict[str, torch.nn.Module]:
    """The stage models of an HDR config or the model of a stage config.

    Every file goes through hdr_mm's loading policy: the config is read
    and its types checked (:func:`hdr_mm.utils.read_config`), the
    checkpoints (``checkpoint`` and those the config names) weights-only
    whatever the environment says, and strictly.

    Args:
        config: HDR pipeline config or stage config.
        checkpoint: Combined HDR checkpoint or stage checkpoint; None
            keeps random weights.
        stages: The stages wanted (of a pipeline config).
        unsafe_load: Read the checkpoints with a full unpickle.

    Returns:
        dict: stage name -> model, float32, in eval mode, with the
        weights of ``checkpoint``.

    Raises:
        FileNotFoundError: the config or the checkpoint does not exist.
        ConfigFileError: the config cannot be read or builds no stage.
        ConfigCheckError: it names an unregistered type.
        UnsafeCheckpointError: a checkpoint holds objects a weights-only
            load refuses.
        CheckpointMismatchError: it does not fit the model.
    """
    from mmengine.registry import init_default_scope

    import hdr_mm  # noqa: F401
    from hdr_mm.engine.config_check import check_types
    from hdr_mm.models.hdr.stage_builder import build_stage
    from hdr_mm.utils import checkpoint_loading, load_weights, read_config
    cfg = read_config(config, 'config')
    check_types(cfg)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    name = config_stage(cfg, config)
    if name is not None and name not in stages:
        raise SystemExit(f'{config} is a {name} config; --stages '
                         f'{",".join(stages)} does not include it')
    with checkpoint_loading(unsafe=unsafe_load):
        if name is None:
            from mmpose.registry import MODELS
            pipeline = MODELS.build(cfg.model)
            if checkpoint:
                load_weights(pipeline, checkpoint, 'HDR checkpoint',
                             f'the model of {config}')
            models = {s: getattr(pipeline, s) for s in stages
                      if getattr(pipeline, s, None) is not None}
        else:
            models = {name: build_stage(name, config, checkpoint)}
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
    """Export the stages.

    Args:
        argv: The command line (default ``sys.argv[1:]``).

    Returns:
        dict: stage name -> the ``.onnx`` file written.

    Raises:
        UnwritableFolderError: ``--out-dir`` cannot be written.
        IsADirectoryError: a folder is in the place of ``<stage>.onnx``.
        And what :func:`load_stages` raises for the config and the
        checkpoint; each error names the file and what was expected.
    """
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
    from hdr_mm.utils import check_target
    models = load_stages(args.config, args.checkpoint, stages,
                         args.unsafe_load)
    paths = {name: check_target(osp.join(args.out_dir, f'{name}.onnx'))
             for name in models}
    written = {}
    for name, model in models.items():
        size = stage_input_size(model.cfg, name)
        path = paths[name]
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
