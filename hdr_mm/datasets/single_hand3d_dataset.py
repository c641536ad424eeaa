"""InterHand2.6M as single right hands for the SHPE.

HDR's SHPE sees one hand per 256x256 crop, always as a right hand
(docs/method.md sections 1 and 3). This dataset reads InterHand2.6M (v1.0
layout: data, camera and joint_3d json; the generated data uses the same
layout) through mmpose's :class:`~mmpose.datasets.InterHand3DDataset` (as
:class:`CheckedInterHand3DDataset`, whose file errors name the file) and
turns every frame into one instance per valid hand, in SHPE joint order.
Left hands are flagged ``mirrored``; :class:`~hdr_mm.datasets.transforms.
MirrorHandCrop` mirrors their crops after ``TopdownAffine``.
"""
import copy
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
from mmpose.registry import DATASETS
from mmpose.structures.bbox import bbox_xyxy2cs

from hdr_mm.structures import (INTERHAND_TO_SHPE, LEFT_SLICE,
                               NUM_HAND_JOINTS, RIGHT_SLICE, SHPE_PARENTS,
                               SHPE_ROOT, bbox_of_mask, bbox_of_points)
from .checked_interhand3d_dataset import CheckedInterHand3DDataset
from .image_io import read_mask

_FINGERS = ('thumb', 'index', 'middle', 'ring', 'pinky')
_COLORS = ([255, 255, 255], [255, 128, 0], [255, 153, 255], [102, 178, 255],
           [255, 51, 51], [0, 255, 0])


def shpe_hand_metainfo() -> dict:
    """mmpose dataset meta information of one hand in SHPE order."""
    names = ['wrist'] + [f'{f}{k}' for f in _FINGERS for k in range(1, 5)]
    keypoint_info = {
        i: dict(name=n, id=i, color=_COLORS[(i + 3) // 4], type='', swap='')
        for i, n in enumerate(names)
    }
    skeleton_info = {
        i - 1: dict(link=(names[SHPE_PARENTS[i]], names[i]), id=i - 1,
                    color=_COLORS[(i + 3) // 4])
        for i in range(1, NUM_HAND_JOINTS)
    }
    return dict(
        dataset_name='shpe_single_hand3d',
        keypoint_info=keypoint_info,
        skeleton_info=skeleton_info,
        joint_weights=[1.] * NUM_HAND_JOINTS,
        sigmas=[0.025] * NUM_HAND_JOINTS)


@DATASETS.register_module()
class SingleHand3DDataset(CheckedInterHand3DDataset):
    """One instance per valid hand of InterHand2.6M-style frames.

    A hand is used when the frame's ``hand_type`` contains it and its wrist
    is annotated (``joint_valid``; InterHand's root-relative 3D is
    meaningless otherwise). Each instance holds, in SHPE joint order:

    - ``keypoints`` (1, 21, 2): image pixels,
    - ``keypoints_visible`` (1, 21): annotation validity,
    - ``keypoints_cam`` (1, 21, 3): camera coordinates in mm relative to the
      wrist (the hand's own frame, never mirrored),
    - ``root_cam`` (1, 3): the wrist's camera coordinates in mm (the ray
      an in-plane rotation of the crop turns the 3D joints about),
    - ``bbox`` (1, 4) xyxy: tight box of the annotated joints (the pipeline's
      ``GetBBoxCenterScale(padding=2.0)`` doubles it as in HDR; mmpose's
      ``PCKAccuracy`` normalises by it),
    - with ``box_mask_prefix`` also ``bbox_center`` (1, 2) and
      ``bbox_scale`` (1, 2): the centre and size of the hand's amodal mask
      box, which ``GetBBoxCenterScale`` then crops by instead of ``bbox``,
    - ``hand_side`` (``'right'``/``'left'``), ``mirrored`` (left hands),
      ``interacting`` (the frame shows two interacting hands).

    With ``alone_img_prefix``, a hand of an interacting frame is read from
    the frame rendered with that hand alone (the generated data's
    ``images_alone/``, named ``<frame stem>_<side>.jpg``), the same view
    without the other hand: a single-hand training set, the input HDR's
    de-occlusion and removal aim to produce. Frames with one hand keep
    their image.

    With ``box_mask_prefix``, each hand is cropped by the box of its amodal
    mask (``<frame stem>_{r,l}_amodal.png``, values 0/1) instead of its
    joints' box (which stays ``bbox``, the PCK's scale):
    the box HDR's pipeline cuts the SHPE's input by (the box of the
    amodal mask HASM predicts), so that the SHPE trains on hands of the
    size it is fed. On the generated data the amodal box is about 1.34x
    the joints' box (median; 1.24-1.51 for 80% of the hands): trained on
    joint boxes, the SHPE would see every pipeline hand a quarter
    smaller than in training. The masks are read once, when the
    annotations are loaded.

    Args:
        alone_img_prefix: Folder of the single-hand renders, relative to
            ``data_root`` and mirroring ``data_prefix['img']``; None reads
            every hand from its frame.
        box_mask_prefix: Folder of the amodal masks, relative to
            ``data_root`` and mirroring ``data_prefix['img']`` (e.g.
            ``'masks/train/'``); None boxes each hand by its joints.
        **kwargs: As :class:`~mmpose.datasets.InterHand3DDataset`
            (``ann_file``, ``camera_param_file``, ``joint_file``,
            ``data_root``, ``data_prefix``, ``pipeline``, ``test_mode``...).
    """

    METAINFO: dict = shpe_hand_metainfo()

    def __init__(self, alone_img_prefix: Optional[str] = None,
                 box_mask_prefix: Optional[str] = None,
                 **kwargs) -> None:
        if not kwargs.get('use_gt_root_depth', True):
            raise ValueError('SingleHand3DDataset needs use_gt_root_depth='
                             'True (root-relative joints, no RootNet)')
        data_root = kwargs.get('data_root') or ''
        self.alone_img_prefix, self.box_mask_prefix = (
            None if prefix is None else osp.join(data_root, prefix)
            for prefix in (alone_img_prefix, box_mask_prefix))
        super().__init__(**kwargs)

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        """Split every frame of the parent's list into hand instances."""
        frames, images = super()._load_annotations()
        instances = []
        for frame in frames:
            hands = self._split_hands(frame)
            if self.box_mask_prefix is not None:
                for hand in hands:
                    center, scale = bbox_xyxy2cs(self._amodal_box(
                        frame['img_path'], hand['hand_side']))
                    hand.update(bbox_center=center.astype(np.float32),
                                bbox_scale=scale.astype(np.float32))
            if self.alone_img_prefix is not None and len(hands) == 2:
                for hand in hands:
                    hand['img_path'] = self._alone_path(
                        frame['img_path'], hand['hand_side'])
            instances.extend(hands)
        if not instances:
            raise ValueError(f'{self.ann_file}: no valid hand (annotated '
                             'wrist) in any frame')
        return instances, images

    def _sibling_path(self, prefix: str, img_path: str, suffix: str) -> str:
        """The file below ``prefix`` at the frame's place below
        ``data_prefix['img']``, named ``<frame stem><suffix>``.

        Args:
            prefix: The sibling folder (``data_root`` joined).
            img_path: The frame's image.
            suffix: What replaces the frame's extension, e.g.
                ``'_right.jpg'``.

        Returns:
            str: the path (not checked).
        """
        rel = osp.relpath(img_path, self.data_prefix['img'])
        return osp.join(prefix, osp.splitext(rel)[0] + suffix)

    def _amodal_box(self, img_path: str, side: str) -> np.ndarray:
        """(1, 4) xyxy box of the amodal mask of ``side`` in the frame
        ``img_path``.

        Raises:
            FileNotFoundError / IOError / ValueError: the mask is missing,
            unreadable, not 0/1 or empty (naming the file).
        """
        path = self._sibling_path(self.box_mask_prefix, img_path,
                                  f'_{side[0]}_amodal.png')
        box = bbox_of_mask(read_mask(path, allowed=(0, 1)))
        if box is None:
            raise ValueError(
                f'{self.ann_file}: the {side} hand of {img_path} is '
                f'annotated but its amodal mask {path} is empty (no box; '
                f'box_mask_prefix={self.box_mask_prefix!r})')
        return box[None]

    def _alone_path(self, img_path: str, side: str) -> str:
        """The single-hand render of ``side`` for the frame ``img_path``."""
        ext = osp.splitext(img_path)[1]
        path = self._sibling_path(self.alone_img_prefix, img_path,
                                  f'_{side}{ext}')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{self.ann_file}: the {side} hand of {img_path} has no '
                f'single-hand render {path} (alone_img_prefix='
                f'{self.alone_img_prefix!r})')
        return path

    @staticmethod
    def _split_hands(frame: dict) -> List[dict]:
        present = frame['hand_type'].reshape(-1) > 0  # (right, left)
        out = []
        for side, sl, flag in (('right', RIGHT_SLICE, present[0]),
                               ('left', LEFT_SLICE, present[1])):
            kpts = frame['keypoints'][0, sl][INTERHAND_TO_SHPE]
            vis = frame['keypoints_visible'][0, sl][INTERHAND_TO_SHPE]
            cam = frame['keypoints_cam'][0, sl][INTERHAND_TO_SHPE]
            if not flag or vis[SHPE_ROOT] < 0.5:
                continue
            bbox = bbox_of_points(kpts, vis > 0.5)
            info = {
                k: v
                for k, v in frame.items()
                if k not in ('keypoints', 'keypoints_visible',
                             'keypoints_cam', 'bbox', 'raw_ann_info')
            }
            info.update(
                id=int(frame['id']) * 2 + (side == 'left'),
                ann_id=frame['id'],
                keypoints=kpts[None, :, :2].astype(np.float32),
                keypoints_visible=vis[None].astype(np.float32),
                keypoints_cam=(cam - cam[SHPE_ROOT])[None].astype(
                    np.float32),
                root_cam=cam[SHPE_ROOT][None].astype(np.float32),
                bbox=bbox[None],
                num_keypoints=NUM_HAND_JOINTS,
                hand_side=side,
                mirrored=side == 'left',
                interacting=bool(present.all()),
                raw_ann_info=copy.deepcopy(frame['raw_ann_info']))
            out.append(info)
        return out
