"""Convert generated hands to COCO detection json, one box per hand.

Categories ``right``/``left`` (or ``hand`` with ``--single-class``); box
of the visible pixels by default (see
``hdr_mm/datasets/synthetic/coco_detection.py`` for why).

Example::

    python tools/dataset_converters/synthetic_hands_to_coco.py \\
        data/synthetic_hands --splits train val test

writes ``data/synthetic_hands/coco_det/<split>_visible.json`` (or
``--out-dir``), whose ``file_name`` entries are relative to
``data/synthetic_hands/interhand2.6m/images/<split>/``.
"""
import argparse
import os.path as osp
import sys
from collections import Counter

# the checkout's hdr_mm first, as tools/train.py does
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from hdr_mm.datasets.synthetic.coco_detection import (  # noqa: E402
    BOX_SOURCES, coco_det_file, synthetic_to_coco_det)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='generated dataset folder')
    parser.add_argument('--splits', nargs='+',
                        default=['train', 'val', 'test'])
    parser.add_argument('--box', choices=BOX_SOURCES, default='visible',
                        help='what each hand box encloses')
    parser.add_argument('--single-class', action='store_true',
                        help='one category "hand" instead of right/left')
    parser.add_argument('--out-dir',
                        help='output folder (default: DATA_ROOT/coco_det)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for split in args.splits:
        out = coco_det_file(args.data_root, split, args.box,
                            args.single_class)
        if args.out_dir:
            out = osp.join(args.out_dir, osp.basename(out))
        coco = synthetic_to_coco_det(args.data_root, split, out, args.box,
                                     args.single_class)
        per_cat = Counter(a['category_id'] for a in coco['annotations'])
        names = {c['id']: c['name'] for c in coco['categories']}
        print(f'{split}: {len(coco["images"])} images, '
              f'{len(coco["annotations"])} boxes ('
              + ', '.join(f'{names[k]} {v}' for k, v in sorted(
                  per_cat.items())) + f') -> {out}')


if __name__ == '__main__':
    main()
