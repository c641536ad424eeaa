"""Quantize the HDR stage graphs to int8, calibrated on a config's frames.

    python tools/deployment/quantize_int8.py CONFIG CHECKPOINT \
        --onnx-dir DIR [--num-frames 64] [--stages hasm tdr shpe] \
        [--calibrate-method minmax] [--reduce-range] [--cfg-options ...] \
        [--unsafe-load]

``CONFIG`` is an HDR pipeline config (``configs/hdr/*``) and
``CHECKPOINT`` its combined checkpoint, read as ``tools/test.py`` reads
them: the config's types checked, its generated data made on first use
(``synthetic_data``), the checkpoint weights-only and strictly
(``--unsafe-load`` is the opt-in to a full unpickle of a trusted file).
Then:

1. the float32 graphs ``DIR/<stage>.onnx`` are exported from the
   checkpoint's weights, as the pipeline's graph backends export them
   (into the same export cache: a file of that name that hdr_mm did not
   write is refused, never replaced);
2. the float32 pipeline (PyTorch, as built) runs on ``--num-frames``
   frames of the config's test dataloader, spread over the whole set,
   and records what reaches each stage network: HASM's pre-processed
   two-hand crops, TDR's ``x`` and ``mask``, SHPE's normalised hand
   crops (the inputs a graph runner would be given, through the
   pipeline's runtime, :class:`~hdr_mm.models.hdr.runtime.StageRuntime`);
3. each stage's graph is quantized with those inputs
   (:func:`hdr_mm.deploy.int8.quantize_stage`: QDQ, int8 weights per
   channel, 7-bit with ``--reduce-range``, 8-bit activations, the
   stage's fp32 islands) into
   ``DIR/<stage>.int8.onnx``, written atomically, and listed.

The pipeline then runs them with ``precision='int8'`` and
``backend='onnxruntime'`` or ``'openvino'``, ``onnx_dir=DIR``; a graph
quantized from another export (the weights changed since) is refused
there, naming it.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

STAGES = ('hasm', 'tdr', 'shpe')
#: who writes into the export cache, as its messages name it
WRITER = 'quantize_int8'


def build_pipeline(config: str, checkpoint: str,
                   cfg_options: Optional[dict] = None,
                   unsafe_load: bool = False):
    """The HDR pipeline of a config with a checkpoint's weights, and the
    config (its data generated if it is missing).

    Args:
        config: HDR pipeline config.
        checkpoint: Its combined checkpoint.
        cfg_options: ``--cfg-options``.
        unsafe_load: Read the checkpoints with a full unpickle.

    Returns:
        tuple: the config and the ``HDRPoseEstimator`` (eval mode, float32,
        PyTorch as built).

    Raises:
        FileNotFoundError: the config or the checkpoint does not exist.
        ConfigFileError: the config cannot be read or is not an HDR
            pipeline config.
        ConfigCheckError, ConfigOptionError: it names an unregistered type
            or an option that nothing reads.
        UnsafeCheckpointError, CheckpointMismatchError: the checkpoint
            holds objects a weights-only load refuses, or does not fit.
    """
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import hdr_mm  # noqa: F401
    from hdr_mm.engine.config_options import merge_cfg_options
    from hdr_mm.engine.runner_setup import check_config, ensure_config_data
    from hdr_mm.utils import (ConfigFileError, checkpoint_loading,
                              load_weights, read_config)
    cfg = read_config(config, 'config')
    merge_cfg_options(cfg, cfg_options)
    model_type = str(cfg.model.get('type', '')).rsplit('.', 1)[-1]
    if model_type != 'HDRPoseEstimator':
        raise ConfigFileError(
            f'{config} is not an HDR pipeline config: its model is '
            f'{model_type!r}, expected HDRPoseEstimator (configs/hdr/)')
    ensure_config_data(cfg)
    check_config(cfg)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    with checkpoint_loading(unsafe=unsafe_load):
        model = MODELS.build(dict(cfg.model, precision=None,
                                  backend='pytorch'))
        load_weights(model, checkpoint, 'HDR checkpoint',
                     f'the model of {config}')
    return cfg, model.eval()


def recording_runtime(model, record: Dict[str, List[Dict[str, np.ndarray]]]):
    """A runtime whose networks are the pipeline's own, each recording
    what it is given (what a graph runner would be given).

    Args:
        model: The ``HDRPoseEstimator`` (as built).
        record: Stage name -> list to append the inputs to (one dict per
            call, input name -> float32 array; stages left out are not
            recorded).

    Returns:
        StageRuntime: PyTorch, as built, to set as ``model.runtime``.
    """
    from hdr_mm.deploy import STAGE_NETWORKS, STAGE_WRAPPERS
    from hdr_mm.models.hdr.runtime import StageRuntime

    def keep(stage: str, *inputs: torch.Tensor) -> None:
        if stage in record:
            record[stage].append({
                name: t.detach().float().cpu().numpy()
                for name, t in zip(STAGE_NETWORKS[stage][0], inputs)})

    def hasm(inputs, batch_img_metas):
        keep('hasm', inputs)
        return model.hasm.encode_decode(inputs, batch_img_metas)

    nets = {s: STAGE_WRAPPERS[s](getattr(model, s)).eval()
            for s in ('tdr', 'shpe') if getattr(model, s) is not None}

    def tdr(x, mask):
        keep('tdr', x, mask)
        return nets['tdr'](x, mask)

    def shpe(inputs):
        keep('shpe', inputs)
        return nets['shpe'](inputs)

    return StageRuntime(None, 'pytorch', hasm=hasm,
                        tdr=tdr if 'tdr' in nets else None, shpe=shpe)


def record_stage_inputs(cfg, model, num_frames: int,
                        stages: Sequence[str]
                        ) -> Dict[str, List[Dict[str, np.ndarray]]]:
    """Run the float32 pipeline on frames of the config's test dataloader
    and record each stage network's inputs.

    Args:
        cfg: The config (its ``test_dataloader``).
        model: The pipeline (:func:`build_pipeline`).
        num_frames: How many frames, evenly spread over the test set (all
            of them if it has fewer).
        stages: The stages whose inputs are recorded.

    Returns:
        dict: stage -> one dict per network call (a batch), input name ->
        float32 array.

    Raises:
        ValueError: the test set is empty, or a stage's network never ran
            (e.g. TDR with ``shpe_input='crop'``).
    """
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS
    loader = cfg.test_dataloader
    dataset = DATASETS.build(loader.dataset)
    if len(dataset) == 0:
        raise ValueError(f'the test set of {cfg.filename} is empty: no '
                         'frames to calibrate on')
    index = np.unique(np.linspace(0, len(dataset) - 1,
                                  min(num_frames, len(dataset))).round())
    batch_size = int(loader.get('batch_size', 1))
    record = {s: [] for s in stages}
    model.runtime = recording_runtime(model, record)
    try:
        with torch.no_grad():
            for start in range(0, len(index), batch_size):
                rows = index[start:start + batch_size]
                model.test_step(pseudo_collate(
                    [dataset[int(i)] for i in rows]))
    finally:
        model.runtime = None  # built again on the next predict
    silent = [s for s in stages if not record[s]]
    if silent:
        raise ValueError(
            f'the {", ".join(silent)} network(s) never ran on the '
            f'{len(index)} frames of {cfg.filename} (shpe_input='
            f'{model.shpe_input!r}): nothing to calibrate them on; leave '
            'them out of --stages')
    return record


def export_graphs(model, stages: Sequence[str],
                  onnx_dir: str) -> Dict[str, str]:
    """Export the stages' float32 graphs into ``onnx_dir`` as the
    pipeline's graph backends do, after checking that their quantized
    graphs may be written there.

    Args:
        model: The pipeline (float32, as built).
        stages: The stages to export.
        onnx_dir: Where ``<stage>.onnx`` goes (and later
            ``<stage>.int8.onnx``).

    Returns:
        dict: stage -> its ``<stage>.onnx``.

    Raises:
        FileExistsError: ``onnx_dir`` holds a ``<stage>.onnx`` or
            ``<stage>.int8.onnx`` that hdr_mm did not write, or that
            changed since (nothing is written then).
        UnwritableFolderError: ``onnx_dir`` cannot be written.
    """
    from hdr_mm.deploy import OnnxExportCache
    from hdr_mm.models.hdr.runtime import export_stage_graphs
    cache = OnnxExportCache(onnx_dir, writer=WRITER)
    for stage in stages:
        cache.claim(f'{stage}.onnx')
        cache.claim(f'{stage}.int8.onnx')
    return export_stage_graphs(
        onnx_dir, {s: getattr(model, s) for s in stages},
        {s: getattr(model, f'{s}_size') for s in stages}, WRITER)


def quantize_graphs(graphs: Dict[str, str],
                    calibration: Dict[str, List[Dict[str, np.ndarray]]],
                    calibrate_method: str = 'minmax',
                    reduce_range: bool = False) -> Dict[str, str]:
    """Quantize each float32 graph with its stage's recorded inputs into
    ``<stage>.int8.onnx`` next to it, and list what was written.

    Args:
        graphs: Stage -> its float32 graph (:func:`export_graphs`).
        calibration: Stage -> its recorded inputs
            (:func:`record_stage_inputs`).
        calibrate_method: See :func:`hdr_mm.deploy.int8.quantize_stage`.
        reduce_range: Weights in 7 bits (the same function).

    Returns:
        dict: stage -> its ``<stage>.int8.onnx``.
    """
    from hdr_mm.deploy import OnnxExportCache
    from hdr_mm.deploy.int8 import ISLANDS_KEY, quantize_stage
    written = {}
    for stage, path in graphs.items():
        cache = OnnxExportCache(osp.dirname(path) or '.', writer=WRITER)
        batches = calibration[stage]
        out = quantize_stage(path, batches,
                             cache.claim(f'{stage}.int8.onnx'),
                             calibrate_method=calibrate_method,
                             reduce_range=reduce_range)
        cache.record(out)
        written[stage] = out
        n = sum(len(next(iter(b.values()))) for b in batches)
        islands = _metadata(out).get(ISLANDS_KEY, '')
        print(f'{stage}: {out} ({osp.getsize(out) / 2**20:.1f} MiB; '
              f'float32 {path}, {osp.getsize(path) / 2**20:.1f} MiB); '
              f'calibrated on {n} inputs in {len(batches)} '
              f'batch{"es" if len(batches) > 1 else ""}; '
              f'{len(islands.split(",")) if islands else 0} '
              'quantizable nodes kept float32', flush=True)
    return written


def _metadata(onnx_file: str) -> Dict[str, str]:
    """The metadata of an ONNX file."""
    import onnx
    return {p.key: p.value for p in onnx.load(onnx_file).metadata_props}


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Quantize the stages.

    Args:
        argv: The command line (default ``sys.argv[1:]``).

    Returns:
        dict: stage name -> the ``<stage>.int8.onnx`` written.

    Raises:
        UnwritableFolderError: ``--onnx-dir`` cannot be written (checked
            before anything is built).
        And what :func:`build_pipeline`, :func:`export_graphs`,
        :func:`record_stage_inputs` and :func:`quantize_graphs` raise;
        each error names the file and what was expected.
    """
    from hdr_mm.deploy.int8 import CALIBRATE_METHODS
    from hdr_mm.engine.config_options import CFG_OPTIONS_HELP
    from hdr_mm.utils import ensure_writable_folder
    from hdr_mm.utils.checkpoint_loading import UNSAFE_HELP
    parser = argparse.ArgumentParser(
        description='Quantize the HDR stage graphs to int8 (QDQ), '
        "calibrated on the config's test frames")
    parser.add_argument('config', help='HDR pipeline config')
    parser.add_argument('checkpoint', help='combined HDR checkpoint')
    parser.add_argument('--onnx-dir', required=True,
                        help='where <stage>.onnx and <stage>.int8.onnx go '
                        "(the pipeline's onnx_dir)")
    parser.add_argument('--num-frames', type=int, default=64,
                        help='test frames to calibrate on (default 64)')
    parser.add_argument('--stages', nargs='+', choices=STAGES,
                        default=list(STAGES))
    parser.add_argument('--calibrate-method', choices=CALIBRATE_METHODS,
                        default='minmax')
    parser.add_argument('--reduce-range', action='store_true',
                        help='quantize the weights to 7 bits, so that the '
                        'int8 kernels of a CPU without VNNI (AVX2, AVX-512 '
                        'without VNNI) cannot saturate their 16-bit sums')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help=CFG_OPTIONS_HELP)
    parser.add_argument('--unsafe-load', action='store_true',
                        help=UNSAFE_HELP)
    args = parser.parse_args(argv)
    if args.num_frames < 1:
        parser.error('--num-frames must be at least 1')
    stages = [s for s in STAGES if s in args.stages]
    ensure_writable_folder(args.onnx_dir)
    cfg, model = build_pipeline(args.config, args.checkpoint,
                                args.cfg_options, args.unsafe_load)
    if 'tdr' in stages and model.tdr is None:
        raise SystemExit(f'{args.config} has no tdr stage; leave it out of '
                         '--stages')
    graphs = export_graphs(model, stages, args.onnx_dir)
    calibration = record_stage_inputs(cfg, model, args.num_frames, stages)
    return quantize_graphs(graphs, calibration, args.calibrate_method,
                           args.reduce_range)


if __name__ == '__main__':
    main()
