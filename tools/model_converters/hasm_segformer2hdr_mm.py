"""Convert the authors' mmseg 0.x HASM checkpoint to hdr_mm.

Usage::

    python tools/model_converters/hasm_segformer2hdr_mm.py SRC DST \
        [--config configs/hasm/<config>.py] [--overwrite]

SRC is the authors' file (``{'meta', 'state_dict', ...}`` or a bare state
dict, ``module.`` prefixes allowed). Every key is renamed
(:mod:`hdr_mm.models.hasm.checkpoint_conversion` lists the rules); the
unused 0.x ``decode_head.conv_seg`` classifier is dropped and reported.
With ``--config`` the model is built and the converted weights are loaded
into it strictly, which checks every key and shape. DST is an mmengine
checkpoint usable as ``load_from``; an existing DST is only replaced with
``--overwrite``.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.registry import init_default_scope

# the checkout's hdr_mm first, as tools/train.py does
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from hdr_mm.utils.checkpoint_loading import UNSAFE_HELP  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an mmseg 0.x HASM (four-branch SegFormer) '
        'checkpoint to hdr_mm.')
    parser.add_argument('src', help="the authors' checkpoint")
    parser.add_argument('dst', help='output mmengine checkpoint')
    parser.add_argument(
        '--config', help='hdr_mm HASM config to check the result against')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing dst')
    parser.add_argument(
        '--unsafe-load', action='store_true', help=UNSAFE_HELP)
    return parser.parse_args(argv)


def check_against_config(state_dict, config: str) -> None:
    """Build the config's model and load ``state_dict`` strictly.

    Raises:
        CheckpointKeyError: keys differ.
        ValueError: shapes differ.
    """
    import hdr_mm  # noqa: F401  registers the HASM modules
    from mmengine.registry import MODELS

    from hdr_mm.utils import check_keys
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model = MODELS.build(cfg.model)
    expected = model.state_dict()
    check_keys(state_dict.keys(), expected.keys(),
               f'converted checkpoint vs. model of {config}')
    bad = [(k, tuple(v.shape), tuple(expected[k].shape))
           for k, v in state_dict.items() if v.shape != expected[k].shape]
    if bad:
        raise ValueError(f'converted checkpoint vs. model of {config}: '
                         f'{len(bad)} shape mismatch(es) (key, ours, '
                         f'model): {bad[:10]}')
    model.load_state_dict(state_dict, strict=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    from hdr_mm.models.hasm.checkpoint_conversion import convert_hasm_mmseg0x
    from hdr_mm.utils import (load_reference_state_dict,
                              save_mmengine_checkpoint)
    src = load_reference_state_dict(args.src, unsafe_load=args.unsafe_load)
    state_dict, dropped = convert_hasm_mmseg0x(src)
    if args.config:
        check_against_config(state_dict, args.config)
    save_mmengine_checkpoint(
        state_dict,
        args.dst,
        meta=dict(
            converted_from=args.src,
            converter=osp.basename(__file__),
            dropped_keys=dropped),
        overwrite=args.overwrite)
    print(f'converted {len(src)} keys: {len(state_dict)} written to '
          f'{args.dst}, {len(dropped)} unused dropped {dropped}' +
          (f', checked against {args.config}' if args.config else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
