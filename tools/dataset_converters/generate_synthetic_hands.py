"""Generate the synthetic interacting-hands dataset (AIH_render crops plus
InterHand2.6M-format frames and annotations), see docs/data_layout.md.

Example::

    python tools/dataset_converters/generate_synthetic_hands.py \\
        --out-dir data/synthetic_hands --num-samples 300 --img-size 256 \\
        --seed 0 --occlusion-range 0.1 0.7
"""
import argparse
import os.path as osp
import sys

# the checkout's hdr_mm first, as tools/train.py does
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from hdr_mm.datasets.synthetic import generate_synthetic_hands  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--num-samples', type=int, default=300,
                        help='full frames over all splits')
    parser.add_argument('--img-size', type=int, default=256,
                        help='side of frames and crops (pixels)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--occlusion-range', type=float, nargs=2,
                        default=(0.1, 0.7), metavar=('LOW', 'HIGH'),
                        help='hidden fraction of the back hand')
    parser.add_argument('--single-hand-ratio', type=float, default=0.2,
                        help='fraction of single-hand frames')
    parser.add_argument('--split-ratios', type=float, nargs=3,
                        default=(0.8, 0.1, 0.1),
                        metavar=('TRAIN', 'VAL', 'TEST'))
    parser.add_argument('--workers', type=int, default=1,
                        help='worker processes')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out-dir')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    meta = generate_synthetic_hands(
        args.out_dir, args.num_samples, img_size=args.img_size,
        seed=args.seed, occlusion_range=tuple(args.occlusion_range),
        single_hand_ratio=args.single_hand_ratio,
        split_ratios=tuple(args.split_ratios), workers=args.workers,
        overwrite=args.overwrite)
    for split, stats in meta['splits'].items():
        print(f'{split}: {stats}')
    print(f'wrote {args.num_samples} samples to {args.out_dir} in '
          f'{meta["seconds"]:.1f} s: {meta["samples_per_s"]:.1f} samples/s '
          f'at {args.img_size}x{args.img_size}')


if __name__ == '__main__':
    main()
