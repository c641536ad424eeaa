"""Convert the authors' TDR checkpoints to one hdr_mm TDR checkpoint.

Example::

    python tools/model_converters/tdr_pconvunet2hdr_mm.py \
        --generator ckpt_iter_70000.pth.tar \
        --discriminator D_iter_70000.pth.tar \
        --out work_dirs/tdr_official.pth

The result loads strictly into ``TDR`` built from
``configs/tdr/tdr_pconv-unet_8xb16-70k_aih-256x256.py`` (the generator
alone when no discriminator file is given).
"""
import argparse
import os.path as osp
import sys

import torch

# the checkout's hdr_mm first, as tools/train.py does
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from hdr_mm.models.tdr.checkpoint_conversion import convert_tdr  # noqa: E402
from hdr_mm.utils.checkpoint import (  # noqa: E402
    load_reference_state_dict,
    save_mmengine_checkpoint)
from hdr_mm.utils.checkpoint_loading import UNSAFE_HELP  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--generator', required=True,
                   help="authors' generator checkpoint (PConvUNet)")
    p.add_argument('--discriminator', default=None,
                   help="authors' discriminator checkpoint (optional)")
    p.add_argument('--out', required=True, help='output .pth file')
    p.add_argument('--overwrite', action='store_true',
                   help='replace --out if it exists')
    p.add_argument('--unsafe-load', action='store_true', help=UNSAFE_HELP)
    return p.parse_args()


def main():
    args = parse_args()
    gen = load_reference_state_dict(args.generator,
                                    unsafe_load=args.unsafe_load)
    disc = (load_reference_state_dict(args.discriminator,
                                      unsafe_load=args.unsafe_load)
            if args.discriminator else None)
    state = convert_tdr(gen, disc)
    save_mmengine_checkpoint(
        state, args.out,
        meta=dict(converted_from=dict(generator=args.generator,
                                      discriminator=args.discriminator),
                  converter=osp.basename(__file__)),
        overwrite=args.overwrite)
    n = sum(v.numel() for v in state.values())
    print(f'wrote {args.out}: {len(state)} tensors, {n} values '
          f'(generator keys in: {len(gen)}, discriminator keys in: '
          f'{len(disc) if disc else 0})')


if __name__ == '__main__':
    with torch.no_grad():
        main()
