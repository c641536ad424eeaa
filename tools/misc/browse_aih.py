"""Save PNG panels of dataset samples (headless), to check data by eye.

Modes:

- ``aih``: :class:`hdr_mm.datasets.AIHDataset` samples after loading and
  mirroring to a right hand. Columns: occluded input, target amodal
  (green) / visible (blue), other amodal (red) / visible (yellow), the
  region TDR repaints (``R = 1 - K_t K_o``), the ground truth.
- ``interhand``: InterHand2.6M-format frames of the generated data:
  image with the 2D joints (right hand green, left hand blue), full-frame
  ``rl_visible`` and amodal masks.

Example::

    python tools/misc/browse_aih.py --data-root data/synthetic_hands \\
        --mode aih --split train --num 4 --out work_dirs/browse_aih.png
"""
import argparse
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np

# the checkout's hdr_mm first, as tools/train.py does
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from hdr_mm.datasets import AIHDataset  # noqa: E402
from hdr_mm.datasets.transforms import (  # noqa: E402
    LoadAIHSample, MirrorToRight,
    TDRMaskAlgebra)
from hdr_mm.structures.hand_joints import (  # noqa: E402
    INTERHAND_TO_SHPE, SHPE_PARENTS)


def _tile(img: np.ndarray, size: int, label: str) -> np.ndarray:
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    cv2.putText(img, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (255, 255, 255), 1, cv2.LINE_AA)
    return img


def _overlay(img: np.ndarray, masks_colours) -> np.ndarray:
    out = (img * 0.45).astype(np.float32)
    for mask, colour in masks_colours:
        m = mask > 0
        out[m] = 0.5 * out[m] + 0.5 * np.array(colour, np.float32)
    return out.astype(np.uint8)


def aih_rows(args) -> list:
    ds = AIHDataset(args.data_root, split=args.split,
                    render_dir=None if args.no_render else 'AIH_render',
                    syn_dir=args.syn_dir, lazy_init=False)
    idx = np.linspace(0, len(ds) - 1, min(args.num, len(ds))).astype(int)
    rows = []
    for i in idx:
        r = dict(ds.get_data_info(int(i)))
        for t in (LoadAIHSample(), MirrorToRight(), TDRMaskAlgebra()):
            r = t(r)
        a_t, v_t, a_o, v_o = r['hand_masks']
        img, s = r['img'], args.tile
        name = f'{r["source"]} {r["hand_type"][0]} {r["sample_id"]}'
        rows.append(np.concatenate([
            _tile(img.copy(), s, name),
            _tile(_overlay(img, [(a_t, (0, 255, 0))]), s, 'A_t'),
            _tile(_overlay(img, [(v_t, (255, 0, 0))]), s, 'V_t'),
            _tile(_overlay(img, [(a_o, (0, 0, 255))]), s, 'A_o'),
            _tile(_overlay(img, [(v_o, (0, 255, 255))]), s, 'V_o'),
            _tile(_overlay(img, [(r['tdr_masks']['repaint'],
                                  (255, 0, 255))]), s, 'repaint R'),
            _tile(r['gt_img'].copy(), s, 'ground truth'),
        ], 1))
    return rows


def interhand_rows(args) -> list:
    root = osp.join(args.data_root, 'interhand2.6m')
    ann = osp.join(root, 'annotations', args.split,
                   f'InterHand2.6M_{args.split}_data.json')
    try:
        with open(ann) as f:
            data = json.load(f)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'annotation file not found: {ann}') from e
    except json.JSONDecodeError as e:
        raise ValueError(f'{ann} is not valid json ({e})') from e
    anns = {a['image_id']: a for a in data['annotations']}
    images = data['images']
    idx = np.linspace(0, len(images) - 1, min(args.num,
                                              len(images))).astype(int)
    rows = []
    colours = {0: (0, 255, 0), 21: (255, 128, 0)}
    for i in idx:
        info = images[int(i)]
        a = anns[info['id']]
        path = osp.join(root, 'images', args.split, info['file_name'])
        img = cv2.imread(path)
        if img is None:
            raise FileNotFoundError(f'cannot read image {path}')
        stem = osp.join(root, 'masks', args.split, info['file_name'][:-4])
        masks = [cv2.imread(f'{stem}_{k}.png', cv2.IMREAD_UNCHANGED)
                 for k in ('rl_visible', 'r_amodal', 'l_amodal')]
        scale = args.tile / img.shape[1]
        big = cv2.resize(img, (args.tile, args.tile))
        uv = np.array(a['joint_2d']) * scale
        for off, col in colours.items():
            if not a['joint_valid'][off]:
                continue
            p = uv[off:off + 21][INTERHAND_TO_SHPE]
            for j, par in enumerate(SHPE_PARENTS):
                if par >= 0:
                    cv2.line(big, tuple(map(int, p[j])),
                             tuple(map(int, p[par])), col, 1, cv2.LINE_AA)
        rl = np.zeros(img.shape, np.uint8)
        rl[masks[0] == 1] = (0, 255, 0)
        rl[masks[0] == 2] = (255, 128, 0)
        rows.append(np.concatenate([
            _tile(img.copy(), args.tile, f'{a["hand_type"]} {info["id"]}'),
            _tile(big, args.tile, '2D joints'),
            _tile(rl, args.tile, 'rl_visible'),
            _tile(masks[1] * 255, args.tile, 'r_amodal')[..., None].repeat(
                3, 2) if masks[1].ndim == 2 else masks[1],
            _tile(masks[2] * 255, args.tile, 'l_amodal')[..., None].repeat(
                3, 2),
        ], 1))
    return rows


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-root', required=True)
    p.add_argument('--mode', choices=['aih', 'interhand'], default='aih')
    p.add_argument('--split', default='train')
    p.add_argument('--syn-dir', default=None,
                   help='also read this AIH_syn sub-folder')
    p.add_argument('--no-render', action='store_true',
                   help='do not read AIH_render')
    p.add_argument('--num', type=int, default=4, help='samples (rows)')
    p.add_argument('--tile', type=int, default=128, help='tile side, px')
    p.add_argument('--out', required=True, help='output PNG')
    return p.parse_args()


def main():
    args = parse_args()
    rows = aih_rows(args) if args.mode == 'aih' else interhand_rows(args)
    panel = np.concatenate(rows, 0)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, panel):
        raise IOError(f'could not write {args.out}')
    print(f'saved {len(rows)} samples to {args.out} '
          f'({panel.shape[1]}x{panel.shape[0]})')


if __name__ == '__main__':
    main()
