"""Combine the three stage checkpoints into one HDR pipeline checkpoint.

    python tools/misc/combine_hdr_checkpoint.py OUT.pth \
        --hasm work_dirs/hasm/iter_3000.pth \
        --tdr work_dirs/tdr/iter_2000.pth \
        --shpe work_dirs/shpe/epoch_6.pth \
        [--config configs/hdr/hdr_tiny_synthetic-256x256.py]

Each stage checkpoint is checked against the model that the pipeline
config builds for that stage (keys and shapes) before anything is
written, so swapped or foreign files are refused. The result is what
``tools/test.py CONFIG OUT.pth`` and the inferencer load.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from hdr_mm.models.hdr.stage_builder import (  # noqa: E402
    combine_stage_checkpoints, resolve_config_path)
from hdr_mm.utils.checkpoint_loading import UNSAFE_HELP  # noqa: E402

DEFAULT_CONFIG = 'configs/hdr/hdr_tiny_synthetic-256x256.py'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', help='output checkpoint')
    parser.add_argument('--hasm', required=True, help='HASM checkpoint')
    parser.add_argument('--tdr', help='TDR checkpoint (omit for a '
                        'pipeline config without TDR)')
    parser.add_argument('--shpe', required=True, help='SHPE checkpoint')
    parser.add_argument(
        '--config', default=DEFAULT_CONFIG,
        help='the pipeline config the result is for; each stage '
        'checkpoint must fit the stage model it builds (default: '
        f'{DEFAULT_CONFIG}, the main job\'s)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace OUT if it exists')
    parser.add_argument('--unsafe-load', action='store_true',
                        help=UNSAFE_HELP)
    args = parser.parse_args()
    stages = dict(hasm=args.hasm, tdr=args.tdr, shpe=args.shpe)
    counts = combine_stage_checkpoints(
        {k: v for k, v in stages.items() if v}, args.out,
        resolve_config_path('pipeline', args.config), args.overwrite,
        unsafe_load=args.unsafe_load)
    print(f'wrote {args.out}: ' +
          ', '.join(f'{k} {n} tensors' for k, n in counts.items()))


if __name__ == '__main__':
    main()
