"""Combine the three stage checkpoints into one HDR pipeline checkpoint.

    python tools/misc/combine_hdr_checkpoint.py OUT.pth \
        --hasm work_dirs/hasm/iter_3000.pth \
        --tdr work_dirs/tdr/iter_2000.pth \
        --shpe work_dirs/shpe/epoch_6.pth

The result is what ``tools/test.py configs/hdr/<config> OUT.pth`` and the
inferencer load.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from hdr_mm.models.hdr.stage_builder import \
    combine_stage_checkpoints  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', help='output checkpoint')
    parser.add_argument('--hasm', required=True, help='HASM checkpoint')
    parser.add_argument('--tdr', help='TDR checkpoint (omit for a '
                        'pipeline without TDR)')
    parser.add_argument('--shpe', required=True, help='SHPE checkpoint')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace OUT if it exists')
    args = parser.parse_args()
    stages = dict(hasm=args.hasm, tdr=args.tdr, shpe=args.shpe)
    counts = combine_stage_checkpoints(
        {k: v for k, v in stages.items() if v}, args.out, args.overwrite)
    print(f'wrote {args.out}: ' +
          ', '.join(f'{k} {n} tensors' for k, n in counts.items()))


if __name__ == '__main__':
    main()
