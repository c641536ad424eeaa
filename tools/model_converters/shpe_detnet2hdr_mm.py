"""Convert the authors' SHPE (DetNet) checkpoint to an hdr_mm checkpoint.

Usage::

    python tools/model_converters/shpe_detnet2hdr_mm.py SRC DST \
        [--config configs/shpe/detnet_shpe_interhand2.6m-256x256.py] \
        [--overwrite]

``SRC`` is the authors' file (a bare state dict or ``{'step',
'state_dict', 'optimizer'}``, keys optionally prefixed by ``module.``).
Every key is mapped (see :mod:`hdr_mm.models.shpe.checkpoint_conversion`);
the result is checked key by key and shape by shape against the model
built from ``--config`` and written as an mmengine checkpoint that
``load_from``/``tools/test.py`` accept. Missing or unexpected keys are
reported and nothing is written.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.registry import init_default_scope

# the checkout's hdr_mm first, as tools/train.py does
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from hdr_mm.models.shpe.checkpoint_conversion import (  # noqa: E402
    convert_shpe_detnet)
from hdr_mm.utils.checkpoint import (  # noqa: E402
    CheckpointKeyError,
    load_reference_state_dict,
    save_mmengine_checkpoint)
from hdr_mm.utils.checkpoint_loading import UNSAFE_HELP  # noqa: E402

DEFAULT_MODEL = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='DetNetResNet'),
    head=dict(type='DetNetHead', decoder=dict(type='DetNetHandCodec')))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help="the authors' SHPE checkpoint")
    parser.add_argument('dst', help='output hdr_mm checkpoint')
    parser.add_argument(
        '--config', help='hdr_mm config whose model receives the weights '
        '(default: the paper SHPE model)')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace DST if it exists')
    parser.add_argument(
        '--unsafe-load', action='store_true', help=UNSAFE_HELP)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import hdr_mm  # noqa: F401  (registers the modules)
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    model_cfg = Config.fromfile(args.config).model if args.config \
        else DEFAULT_MODEL
    model = MODELS.build(model_cfg)
    src = load_reference_state_dict(args.src, unsafe_load=args.unsafe_load)
    try:
        out = convert_shpe_detnet(src, model.state_dict())
    except (CheckpointKeyError, ValueError) as e:
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 1
    model.load_state_dict(out, strict=True)
    save_mmengine_checkpoint(
        out,
        args.dst,
        meta=dict(converted_from=args.src, converter=osp.basename(__file__)),
        overwrite=args.overwrite)
    print(f'converted {len(src)} keys -> {args.dst} (0 missing, '
          '0 unexpected)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
