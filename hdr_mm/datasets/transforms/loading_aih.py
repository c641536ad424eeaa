"""Load an AIH sample (AIH_render pair or AIH_syn composition)."""
from typing import Dict, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from ..image_io import check_not_empty, check_same_size, read_image, read_mask


def syn_aug_matrix(aug: Sequence[float], width: int,
                   height: int) -> np.ndarray:
    """Affine of one AIH_syn augmentation ``[tx, ty, scale, rot, ...]``.

    The image box ``[0, 0, width, height]`` is scaled by ``scale`` and
    rotated by ``rot`` degrees (counter-clockwise, as ``cv2``) about its
    centre, then shifted by ``(tx * width, ty * height)``.

    Args:
        aug: The augmentation list.
        width, height: Image size.

    Returns:
        np.ndarray: (2, 3) matrix for ``cv2.warpAffine``.
    """
    tx, ty, scale, rot = aug[:4]
    mat = cv2.getRotationMatrix2D((width / 2, height / 2), float(rot),
                                  float(scale))
    mat[0, 2] += tx * width
    mat[1, 2] += ty * height
    return mat


@TRANSFORMS.register_module()
class LoadAIHSample(BaseTransform):
    """Read the images and masks of an :class:`AIHDataset` sample.

    AIH_render: ``img`` = IH crop, ``gt_img`` = DR_gt crop, masks read from
    the target's label folder.

    AIH_syn: each single-hand crop and its amodal mask are (if the loop
    side is left, mirrored first, then) warped by their own augmentation
    (:func:`syn_aug_matrix`; values from index 4 on, if there are three,
    scale the colour channels of the loaded BGR image in that order). The
    target (loop side) image is the ground truth; the occluded image is
    the other hand pasted over it inside the other hand's amodal mask.
    After a left-side mirror the target plays the right hand: the sample
    is already in right-hand form and ``flip`` is True.

    Required keys: ``source``, ``img_path``, ``hand_type`` and
    ``gt_img_path``/``mask_paths`` (render) or ``syn_paths``/``aug``
    (syn).

    Added keys:
        - img (np.ndarray): (H, W, 3) uint8 BGR occluded image.
        - gt_img (np.ndarray): (H, W, 3) uint8 BGR target hand alone.
        - r_amodal, l_amodal (np.ndarray): (H, W) uint8 in {0, 1}.
        - rl_visible (np.ndarray): (H, W) uint8, 0 background, 1 right,
          2 left visible.
        - img_shape, ori_shape (tuple): ``(H, W)``.
        - flip (bool): Whether the sample was mirrored.

    Raises:
        FileNotFoundError, IOError, ValueError: missing or corrupt files,
        mask values outside {0, 1} ({0, 1, 2} for ``rl_visible``), sizes
        that differ, an empty target amodal mask; the message names the
        file.
    """

    def transform(self, results: Dict) -> Dict:
        if results['source'] == 'render':
            self._load_render(results)
        elif results['source'] == 'syn':
            self._load_syn(results)
        else:
            raise ValueError(f'unknown AIH source {results["source"]!r} '
                             f'for {results.get("img_path")}')
        h, w = results['img'].shape[:2]
        results['img_shape'] = (h, w)
        results['ori_shape'] = (h, w)
        return results

    @staticmethod
    def _load_render(results: Dict) -> None:
        img = read_image(results['img_path'])
        gt = read_image(results['gt_img_path'])
        paths = results['mask_paths']
        masks = {
            k: read_mask(paths[k], (0, 1, 2) if k == 'rl_visible' else
                         (0, 1))
            for k in ('r_amodal', 'l_amodal', 'rl_visible')
        }
        check_same_size((results['img_path'], img),
                        (results['gt_img_path'], gt),
                        *[(paths[k], m) for k, m in masks.items()])
        t = results['hand_type'][0]
        check_not_empty(paths[f'{t}_amodal'], masks[f'{t}_amodal'],
                        'target amodal mask')
        results.update(img=img, gt_img=gt, flip=False, **masks)

    @staticmethod
    def _load_syn(results: Dict) -> None:
        loop = results['hand_type']
        other = 'left' if loop == 'right' else 'right'
        mirror = loop == 'left'
        imgs, amodal = {}, {}
        for side in ('right', 'left'):
            p = results['syn_paths'][side]
            img = read_image(p['img'])
            mask = read_mask(p['amodal'], (0, 1))
            check_same_size((p['img'], img), (p['amodal'], mask))
            check_not_empty(p['amodal'], mask, 'amodal mask')
            if mirror:
                img = np.ascontiguousarray(img[:, ::-1])
                mask = np.ascontiguousarray(mask[:, ::-1])
            aug = results['aug'][side]
            h, w = img.shape[:2]
            mat = syn_aug_matrix(aug, w, h)
            img = cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT)
            mask = cv2.warpAffine(mask, mat, (w, h),
                                  flags=cv2.INTER_NEAREST,
                                  borderMode=cv2.BORDER_CONSTANT)
            if len(aug) >= 7:
                img = np.clip(img * np.asarray(aug[4:7], np.float32), 0,
                              255).astype(np.uint8)
            imgs[side], amodal[side] = img, mask
        tgt, occ = imgs[loop], imgs[other]
        a_t, a_o = amodal[loop], amodal[other]
        check_same_size((results['syn_paths'][loop]['img'], tgt),
                        (results['syn_paths'][other]['img'], occ))
        check_not_empty(results['syn_paths'][loop]['amodal'], a_t,
                        'target amodal mask after augmentation of')
        occluded = np.where(a_o[..., None] > 0, occ, tgt)
        vis_t = a_t * (1 - a_o)
        # right-hand form: the target is 'r' (label 1), the other 'l' (2)
        results.update(
            img=occluded,
            gt_img=tgt,
            r_amodal=a_t,
            l_amodal=a_o,
            rl_visible=(vis_t + 2 * a_o).astype(np.uint8),
            flip=mirror)
