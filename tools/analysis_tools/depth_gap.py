"""How far apart in depth the two hands of an interacting frame are.

Reads an InterHand2.6M-format split (``annotations/<split>/
InterHand2.6M_<split>_{data,camera,joint_3d}.json`` under ``DATA_ROOT``,
the layout of the real dataset and of the generated one) with mmpose's
InterHand3DDataset and prints the distribution of ``|left palm-centre
depth - right palm-centre depth|`` (mm; the palm centre is midway between
the wrist and the middle MCP, :func:`hdr_mm.structures.palm_centre`) over
its interacting frames with those four joints annotated. The median is the
value of ``HDRPoseEstimator``'s ``depth_gap_mm`` (the two hands placed
together, the palm centre of the one behind that much further away);
measure it on a training split, never on the split you evaluate on.

    python tools/analysis_tools/depth_gap.py \\
        data/synthetic_hands/interhand2.6m [--split train] [--json OUT]

Prints one line per statistic and ``depth_gap_mm=<median>``; ``--json``
also writes them to a file.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def interacting_depth_gaps(data_list: Sequence[dict]) -> np.ndarray:
    """The palm-centre depth gap (mm) of the interacting frames whose
    two wrists and middle MCPs are annotated.

    Args:
        data_list: ``InterHand3DDataset`` data infos (``hand_type`` (1, 2),
            ``keypoints_cam`` (1, 42, 3) mm, ``keypoints_visible``
            (1, 42)).

    Returns:
        np.ndarray: (M,) float64 ``|left - right|`` palm-centre depths,
        one per such frame.
    """
    from hdr_mm.structures import (INTERHAND_PALM_CENTRE, NUM_HAND_JOINTS,
                                   palm_centre)
    centre = list(INTERHAND_PALM_CENTRE)
    gaps = []
    for info in data_list:
        if not np.asarray(info['hand_type']).reshape(-1).all():
            continue
        visible = np.asarray(info['keypoints_visible']).reshape(2, -1)
        if not (visible[:, centre] > 0).all():
            continue
        joints = np.asarray(info['keypoints_cam'], np.float64).reshape(
            2, NUM_HAND_JOINTS, 3)
        right, left = palm_centre(joints)[:, 2]
        gaps.append(abs(left - right))
    return np.asarray(gaps, np.float64)


def measure_depth_gap(data_root: str, split: str = 'train') -> Dict:
    """The depth-gap statistics of one split (see the module docstring).

    Args:
        data_root: The folder holding ``annotations/`` and ``images/``.
        split: ``train``, ``val`` or ``test``.

    Returns:
        dict: ``frames`` (how many interacting frames), ``median``,
        ``q25``, ``q75`` (mm), ``split`` and ``data_root``.

    Raises:
        FileNotFoundError / AnnotationFileError: an annotation file is
            missing or broken (named).
        ValueError: the split has no interacting frame with both wrists
            and middle MCPs annotated.
    """
    from hdr_mm.datasets import CheckedInterHand3DDataset
    ann = f'annotations/{split}/InterHand2.6M_{split}'
    dataset = CheckedInterHand3DDataset(
        ann_file=f'{ann}_data.json',
        camera_param_file=f'{ann}_camera.json',
        joint_file=f'{ann}_joint_3d.json',
        data_root=data_root,
        data_prefix=dict(img='images/'),
        use_gt_root_depth=True,
        data_mode='topdown',
        test_mode=True,
        lazy_init=False,
        pipeline=[])
    gaps = interacting_depth_gaps(
        [dataset.get_data_info(i) for i in range(len(dataset))])
    if not len(gaps):
        raise ValueError(f'depth_gap: {data_root} ({split}) has no '
                         'interacting frame with both wrists and middle '
                         'MCPs annotated')
    q25, median, q75 = np.percentile(gaps, [25, 50, 75])
    return dict(data_root=data_root, split=split, frames=int(len(gaps)),
                median=float(median), q25=float(q25), q75=float(q75))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='InterHand2.6M-format folder')
    parser.add_argument('--split', default='train')
    parser.add_argument('--json', help='also write the statistics here')
    args = parser.parse_args()
    import hdr_mm  # noqa: F401
    try:
        stats = measure_depth_gap(args.data_root, args.split)
    except (OSError, ValueError) as e:
        sys.exit(str(e))
    print(f'frames: {stats["frames"]}')
    for key in ('q25', 'median', 'q75'):
        print(f'{key}: {stats[key]:.1f}')
    print(f'depth_gap_mm={stats["median"]:.1f}')
    if args.json:
        from hdr_mm.utils import atomic_write

        def write(tmp):
            with open(tmp, 'w') as f:
                json.dump(stats, f, indent=1)

        atomic_write(args.json, write, overwrite=True)


if __name__ == '__main__':
    main()
