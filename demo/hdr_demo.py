"""HDR demo: one PNG panel per image, like the figures of the HDR paper.

    python demo/hdr_demo.py IMAGE CONFIG CHECKPOINT --out-dir DIR \
        [--bbox X1 Y1 X2 Y2 | --det-config DET --det-checkpoint DET.pth] \
        [--device cpu] [--precision auto] [--backend auto] \
        [--onnx-dir DIR] [--cfg-options KEY=VALUE ...] [--unsafe-load]

IMAGE is an image file or a folder of images. Each panel
(``DIR/<image stem>_hdr.png``, :meth:`HDRHandVisualizer.draw_panel`)
shows the input with HASM's masks, the hand boxes and both 2D skeletons;
per hand its crop before and after TDR and its 3D skeleton; and both
hands placed in the camera frame.

The box of both hands is ``--bbox``, else the hand detector's
(``--det-config``/``--det-checkpoint``: image -> detector -> HDR with no
box given), else the whole image, refined by a second run on the box of
the hands found in it (``--no-refine-box`` keeps the whole image).
Drawing uses matplotlib's Agg canvas: no display is needed.

The networks run as ``--precision`` / ``--backend`` say, by default as
the config says: ``'auto'`` in the shipped configs, the fastest path
measured for this machine's CPU ISA (``none`` / ``pytorch``: as built).
The demo prints the path and, when ``auto`` chose it, why. The graph
engines' ONNX exports go to ``--onnx-dir``, else to a temporary folder
removed once they are loaded.

``--cfg-options`` overrides settings of the config as in
``tools/test.py`` (e.g. ``model.depth_gap_mm=108`` to place the two
hands at the training data's depth gap); a key the config would ignore
is refused.

Every file handed over goes through hdr_mm's loading policy: configs
must read and name a model, checkpoints (``--det-checkpoint`` included)
are read weights-only whatever the environment says and must fit their
model exactly, and a detector needs both ``--det-config`` and
``--det-checkpoint``. A refusal exits with a message naming the file and
what was expected.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

# the checkout's hdr_mm first, as tools/*.py do
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from hdr_mm.engine.config_options import CFG_OPTIONS_HELP  # noqa: E402
from hdr_mm.utils.checkpoint_loading import UNSAFE_HELP  # noqa: E402


def precision_choices() -> Dict[str, Optional[str]]:
    """What ``--precision`` takes: ``'auto'``, the precisions
    (:data:`~hdr_mm.models.hdr.runtime.RUNTIME_PRECISIONS`) and ``'none'``
    (as built).

    Returns:
        dict: ``--precision`` value -> the inferencer's ``precision``.
    """
    from hdr_mm.models.hdr.runtime import AUTO, RUNTIME_PRECISIONS
    return {AUTO: AUTO, **{p: p for p in RUNTIME_PRECISIONS}, 'none': None}


def backend_choices() -> Tuple[str, ...]:
    """What ``--backend`` takes: ``'auto'`` and the registered pipeline
    backends (:data:`~hdr_mm.models.hdr.runtime.STAGE_BACKENDS`).

    Returns:
        tuple: the names.
    """
    from hdr_mm.models.hdr.runtime import AUTO, STAGE_BACKENDS
    return (AUTO, ) + tuple(STAGE_BACKENDS.module_dict)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The demo's arguments; a detector needs both its config and its
    checkpoint (argparse error otherwise)."""
    parser = argparse.ArgumentParser(
        description='HDR demo: 2D/3D hand poses, hand crops before and '
        'after de-occlusion/removal, one PNG panel per image')
    parser.add_argument('image', help='image file or folder of images')
    parser.add_argument('config', help='HDR pipeline config')
    parser.add_argument(
        'checkpoint',
        help="combined HDR checkpoint; 'none' runs the stages as the "
        'config loads them')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--bbox',
        type=float,
        nargs=4,
        metavar=('X1', 'Y1', 'X2', 'Y2'),
        help='box around both hands (pixels)')
    parser.add_argument(
        '--det-config', help='mmdet config of a hand detector (e.g. '
        'projects/rtmdet_hand_side); used when --bbox is not given; needs '
        '--det-checkpoint')
    parser.add_argument(
        '--det-checkpoint',
        help="the detector's weights, trained with --det-config (loaded "
        'strictly: a checkpoint of another model is refused)')
    parser.add_argument(
        '--no-refine-box',
        action='store_true',
        help='with neither --bbox nor a detector, keep the whole image as '
        'the two-hand box (default: run again on the box of the hands '
        'found in it)')
    parser.add_argument('--device', default='cpu', help='torch device')
    parser.add_argument(
        '--kpt-thr',
        type=float,
        default=0.0,
        help='joints scoring lower are not drawn (default 0: every joint of '
        'a found hand)')
    parser.add_argument(
        '--bone-length-mm',
        type=float,
        default=None,
        help='wrist-to-middle-MCP length that scales the 3D joints '
        "(default the model's bone_length_mm)")
    parser.add_argument(
        '--precision',
        choices=tuple(precision_choices()),
        help="how the networks run: 'auto' (the fastest path measured for "
        'this CPU; int8 where it pays if --onnx-dir holds the quantized '
        "graphs), 'fp32', 'bf16', 'int8' (the quantized graphs in "
        '--onnx-dir; see tools/deployment/quantize_int8.py) or '
        "'none' (as built); default "
        "the config's model.precision ('auto' in the shipped configs)")
    parser.add_argument(
        '--backend',
        choices=backend_choices(),
        help="what runs the networks: 'auto', PyTorch or a graph engine "
        "(exported to ONNX); default the config's model.backend ('auto' "
        'in the shipped configs)')
    parser.add_argument(
        '--onnx-dir',
        help='where the graph engines\' ONNX exports go, kept (default: a '
        'temporary folder removed once they are loaded)')
    parser.add_argument(
        '--dpi', type=int, default=100, help='panel resolution')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help=CFG_OPTIONS_HELP)
    parser.add_argument(
        '--unsafe-load', action='store_true', help=UNSAFE_HELP)
    args = parser.parse_args(argv)
    if args.det_checkpoint and not args.det_config:
        parser.error('--det-checkpoint needs --det-config: the mmdet config '
                     'the detector was trained with')
    if args.det_config and not args.det_checkpoint:
        parser.error('--det-config needs --det-checkpoint: an untrained '
                     'detector finds no hands (train one with '
                     'projects/rtmdet_hand_side)')
    return args


def run(args: argparse.Namespace) -> List[str]:
    """Run the demo: print what runs the networks (and why, when
    ``auto`` chose it), then one line per image.

    Args:
        args: :func:`parse_args` output.

    Returns:
        list[str]: the written panel files.
    """
    import cv2

    from hdr_mm.apis import HDRInferencer
    from hdr_mm.apis.hdr_inferencer import FROM_CONFIG
    from hdr_mm.engine.config_options import merge_cfg_options
    from hdr_mm.utils import read_config
    weights = None if args.checkpoint.lower() == 'none' else args.checkpoint
    config = args.config
    if args.cfg_options:
        config = read_config(args.config, 'HDR config')
        merge_cfg_options(config, args.cfg_options)
    inferencer = HDRInferencer(
        config,
        weights,
        device=args.device,
        det_model=args.det_config,
        det_weights=args.det_checkpoint,
        bone_length_mm=args.bone_length_mm,
        precision=(FROM_CONFIG if args.precision is None else
                   precision_choices()[args.precision]),
        backend=args.backend or FROM_CONFIG,
        onnx_dir=args.onnx_dir,
        unsafe_load=args.unsafe_load)
    print(f'runtime: {inferencer.model.runtime.describe()}')
    inputs = inferencer._inputs_to_list(args.image)
    bboxes = None if args.bbox is None else [list(args.bbox)] * len(inputs)
    os.makedirs(args.out_dir, exist_ok=True)
    written = []
    results = inferencer(
        inputs,
        return_datasamples=True,
        bboxes=bboxes,
        refine_box=not args.no_refine_box)
    for path, result in zip(inputs, results):
        sample = result['predictions'][0]
        image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        panel = inferencer.visualizer.draw_panel(
            image, sample, kpt_thr=args.kpt_thr, dpi=args.dpi)
        stem = osp.splitext(osp.basename(path))[0]
        out = osp.join(args.out_dir, f'{stem}_hdr.png')
        cv2.imwrite(out, cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
        inst = sample.pred_instances
        n_hands = int(inst.hand_type.sum()) if len(inst) else 0
        print(f'{path}: {n_hands} hand(s) found '
              f'(box from {sample.metainfo.get("box_source")}), panel {out}')
        written.append(out)
    return written


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    return run(parse_args(argv))


if __name__ == '__main__':
    from hdr_mm.utils import CheckpointMismatchError, UnsafeCheckpointError
    try:
        main()
    except (FileNotFoundError, IsADirectoryError, ValueError,
            CheckpointMismatchError, UnsafeCheckpointError) as e:
        # a refused file or input: its message names it, no traceback
        sys.exit(f'hdr_demo: {e}')
