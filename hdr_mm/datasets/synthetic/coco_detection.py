"""COCO detection annotations of the generated frames: one box per hand.

The generated InterHand2.6M-style annotations (``docs/data_layout.md``)
carry one box per *frame* (the union of both hands). A hand detector
needs one box per *hand*; this module derives them from the frame's
masks (or joints) and writes a standard COCO detection json that mmdet's
``CocoDataset`` and ``CocoMetric`` read as they are.

Categories (``HAND_SIDE_CATEGORIES``): ``1 right``, ``2 left``, so the
class of a detection is the side of the hand (mmdet labels 0 and 1, in
the order of HDR's ``hand_type`` = ``[right, left]``). With
``single_class=True`` every box is category ``1 hand``, the convention
of mmpose's published hand detector.

Box source (``box``):

- ``'visible'`` (default): the tight box of the hand's visible pixels
  (``rl_visible``). It is what a detector can see, so it can be
  localised precisely; and since every hidden pixel of one hand is a
  visible pixel of the other, the union of the two visible boxes equals
  the union of the two amodal boxes, i.e. the two-hand box HDR crops.
- ``'amodal'``: the box of the whole hand, hidden parts included (what
  HASM segments); its hidden extent has to be guessed from the image.
- ``'joints'``: the box of the hand's valid 2D joints (the keypoint-box
  convention of mmpose's hand datasets), which stops at the joint
  centres, inside the skin.
"""
import fcntl
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmpose.structures.bbox import bbox_clip_border

from hdr_mm.structures import HANDS as HAND_SIDES
from hdr_mm.structures import bbox_of_mask, bbox_of_points
from hdr_mm.utils import atomic_write
from ..image_io import read_mask

#: COCO categories of the hand-side detector (category id = label + 1)
HAND_SIDE_CATEGORIES = [dict(id=1, name='right'), dict(id=2, name='left')]
#: the single category of a side-agnostic hand detector
HAND_CATEGORY = [dict(id=1, name='hand')]
BOX_SOURCES = ('visible', 'amodal', 'joints')
#: joints of each side in the 42-joint InterHand2.6M order
_JOINT_SLICES = {'right': slice(0, 21), 'left': slice(21, 42)}


def _ih_paths(data_root: str, split: str) -> Tuple[str, str, str]:
    ih = osp.join(data_root, 'interhand2.6m')
    return (osp.join(ih, 'annotations', split,
                     f'InterHand2.6M_{split}_data.json'),
            osp.join(ih, 'images', split), osp.join(ih, 'masks', split))


def _box_of(mask: np.ndarray) -> Optional[np.ndarray]:
    """COCO box ``x1, y1, x2, y2`` of a mask, None when empty.

    :func:`~hdr_mm.structures.bbox_of_mask` gives the exact extent with
    pixel centres at integer coordinates (``[first - 0.5, last + 0.5]``,
    the convention of HDR's geometry); COCO's has pixel ``i`` covering
    ``[i, i + 1)``, so the same extent is shifted by half a pixel
    (``[first, last + 1]``, never negative).
    """
    box = bbox_of_mask(mask)
    return None if box is None else box.astype(np.float64) + 0.5


def hand_boxes_of_frame(mask_stem: str,
                        ann: dict,
                        box: str = 'visible',
                        min_visible_pixels: int = 1) -> List[dict]:
    """Per-hand boxes of one generated frame.

    Args:
        mask_stem: Mask path without ``_<name>.png`` (``.../image00012``).
        ann: The frame's annotation (``joint_valid``, ``joint_2d``).
        box: Box source, one of :data:`BOX_SOURCES`.
        min_visible_pixels: A hand with fewer visible pixels is left out
            (a detector cannot find it).

    Returns:
        list[dict]: per present hand, right first: ``side``, ``bbox``
        (4,) ``x1, y1, x2, y2`` float, ``visible_pixels``,
        ``amodal_pixels``.
    """
    if box not in BOX_SOURCES:
        raise ValueError(f'box must be one of {BOX_SOURCES}, got {box!r}')
    visible = read_mask(mask_stem + '_rl_visible.png', allowed=(0, 1, 2))
    valid = np.asarray(ann['joint_valid']).reshape(-1)
    joints = np.asarray(ann['joint_2d'], np.float64).reshape(-1, 2)
    hands = []
    for label, side in enumerate(HAND_SIDES):
        sl = _JOINT_SLICES[side]
        if not valid[sl].any():
            continue  # the absent hand of a single-hand frame
        vis = visible == label + 1
        n_vis = int(np.count_nonzero(vis))
        if n_vis < min_visible_pixels:
            continue
        amodal = read_mask(f'{mask_stem}_{side[0]}_amodal.png')
        if box == 'visible':
            b = _box_of(vis)
        elif box == 'amodal':
            b = _box_of(amodal)
        else:
            b = bbox_of_points(joints[sl], valid[sl])
        if b is None:  # visible pixels but no amodal mask / valid joints
            raise ValueError(
                f'{mask_stem}: the {side} hand has {n_vis} visible pixels '
                f'but no {box} box (empty {side[0]}_amodal mask or no '
                'finite valid joints)')
        b = bbox_clip_border(b, visible.shape[::-1])
        if b[2] - b[0] <= 0 or b[3] - b[1] <= 0:
            continue
        hands.append(
            dict(side=side, bbox=b, visible_pixels=n_vis,
                 amodal_pixels=int(np.count_nonzero(amodal))))
    return hands


def synthetic_to_coco_det(data_root: str,
                          split: str,
                          out_file: Optional[str] = None,
                          box: str = 'visible',
                          single_class: bool = False,
                          min_visible_pixels: int = 1) -> dict:
    """Convert one split of a generated dataset to COCO detection json.

    Args:
        data_root: Generated dataset folder (with ``interhand2.6m/``).
        split: ``'train'``, ``'val'`` or ``'test'``.
        out_file: Where to write the json (atomically); None: only return
            it.
        box: Box source, one of :data:`BOX_SOURCES` (module docstring).
        single_class: One category ``hand`` instead of ``right``/``left``.
        min_visible_pixels: Hands with fewer visible pixels get no box.

    Returns:
        dict: The COCO json: ``images`` (``file_name`` relative to
        ``interhand2.6m/images/<split>/``, ``hand_type`` of the frame),
        ``annotations`` (``bbox`` xywh, ``area`` = box area, ``iscrowd``
        0, ``category_id``, ``hand_side``, ``visible_pixels``,
        ``amodal_pixels``), ``categories`` and ``info``. Frames with a
        single hand have one annotation.

    Raises:
        FileNotFoundError: the split's annotation file or a mask is
        missing.
    """
    ann_path, _, mask_dir = _ih_paths(data_root, split)
    if not osp.isfile(ann_path):
        raise FileNotFoundError(
            f'{ann_path} not found: {data_root} is not a generated dataset '
            f'with a {split!r} split (tools/dataset_converters/'
            'generate_synthetic_hands.py)')
    with open(ann_path) as f:
        src = json.load(f)
    frame_anns: Dict[int, dict] = {a['image_id']: a
                                   for a in src['annotations']}
    images, annotations = [], []
    for img in src['images']:
        ann = frame_anns.get(img['id'])
        if ann is None:
            continue
        images.append(
            dict(id=img['id'], file_name=img['file_name'],
                 width=img['width'], height=img['height'],
                 hand_type=ann.get('hand_type')))
        stem = osp.join(mask_dir, osp.splitext(img['file_name'])[0])
        for hand in hand_boxes_of_frame(stem, ann, box, min_visible_pixels):
            x1, y1, x2, y2 = (float(v) for v in hand['bbox'])
            annotations.append(
                dict(id=len(annotations) + 1, image_id=img['id'],
                     category_id=1 if single_class else
                     HAND_SIDES.index(hand['side']) + 1,
                     bbox=[x1, y1, x2 - x1, y2 - y1],
                     area=(x2 - x1) * (y2 - y1), iscrowd=0,
                     hand_side=hand['side'],
                     visible_pixels=hand['visible_pixels'],
                     amodal_pixels=hand['amodal_pixels']))
    coco = dict(
        info=dict(description='hdr_mm generated hands, one box per hand',
                  source=osp.abspath(data_root), split=split, box=box,
                  single_class=bool(single_class)),
        images=images, annotations=annotations,
        categories=HAND_CATEGORY if single_class else HAND_SIDE_CATEGORIES)
    if out_file is not None:
        os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
        atomic_write(out_file, lambda tmp: _dump_json(coco, tmp),
                     overwrite=True)
    return coco


def _dump_json(obj: dict, path: str) -> None:
    with open(path, 'w') as f:
        json.dump(obj, f)


def coco_det_file(data_root: str,
                  split: str,
                  box: str = 'visible',
                  single_class: bool = False) -> str:
    """Default path of a converted split:
    ``<data_root>/coco_det/<split>_<box>[_hand].json``."""
    suffix = '_hand' if single_class else ''
    return osp.join(data_root, 'coco_det', f'{split}_{box}{suffix}.json')


def ensure_coco_det(data_root: str,
                    splits: Sequence[str] = ('train', 'val', 'test'),
                    box: str = 'visible',
                    single_class: bool = False) -> List[str]:
    """Convert the splits whose json (:func:`coco_det_file`) is missing.

    Processes that start together (distributed training) wait on a lock
    file, so each split is converted once.

    Returns:
        list[str]: The json path of each split.
    """
    paths = []
    for split in splits:
        path = coco_det_file(data_root, split, box, single_class)
        if not osp.isfile(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path + '.lock', 'w') as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    if not osp.isfile(path):
                        synthetic_to_coco_det(data_root, split, path, box,
                                              single_class)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        paths.append(path)
    return paths
