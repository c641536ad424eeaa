"""Ground truth of HDR's intermediate stages for a full frame.

The pipeline evaluation (``configs/hdr``) reports, next to the MPJPE, how
well HASM segments the two-hand crop and how close each hand's crop after
TDR is to the same hand rendered alone. :class:`LoadHDRTargets` reads the
targets of both from the files that sit next to an InterHand2.6M-format
frame in the generated data (docs/data_layout.md)::

    <root>/images/<split>/<rel>.jpg                 the frame (img_path)
    <root>/masks/<split>/<rel>_{r_amodal,l_amodal,rl_visible}.png
    <root>/images_alone/<split>/<rel>_{right,left}.jpg   (two-hand frames)

``CropBothHands`` then warps the masks into the two-hand crop and cuts
the renders like the context window, and :class:`PackHDRInputs` puts them
in the data sample.
"""
import os.path as osp
from typing import Dict, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from hdr_mm.structures import HAND_MASK_NAMES, HANDS
from hdr_mm.structures.hand_masks import stack_hand_masks
from ..image_io import check_same_size, read_image, read_mask


@TRANSFORMS.register_module()
class LoadHDRTargets(BaseTransform):
    """Load the masks and the single-hand renders of a frame.

    Required keys: ``img_path`` (under ``.../<img_dir>/...``), ``img``
    (to check sizes) and ``hand_type`` (``(1, 2)`` right/left presence,
    from ``InterHand3DDataset``).

    Added keys:

    - ``gt_hand_masks`` (H, W, 4) uint8 0/1 in ``mask_names`` order;
    - ``gt_alone_right``, ``gt_alone_left`` (H, W, 3) uint8 BGR: the hand
      rendered alone; for a one-hand frame the frame itself for the
      present hand and zeros for the absent one;
    - ``gt_alone_valid`` (2,) bool: which of the two is a real target.

    Args:
        img_dir: Folder name of the frames in ``img_path``.
        mask_dir: Folder name that replaces it for the masks.
        alone_dir: Folder name that replaces it for the single-hand
            renders.
        mask_names: Channel order of ``gt_hand_masks``.

    Raises:
        ValueError: ``img_path`` has no ``img_dir`` component, or a file
            does not match the frame's size (naming the file).
        FileNotFoundError: a mask or render is missing (naming it).
    """

    def __init__(self,
                 img_dir: str = 'images',
                 mask_dir: str = 'masks',
                 alone_dir: str = 'images_alone',
                 mask_names: Sequence[str] = HAND_MASK_NAMES) -> None:
        unknown = set(mask_names) - set(HAND_MASK_NAMES)
        if unknown:
            raise ValueError(f'mask_names must be taken from '
                             f'{HAND_MASK_NAMES}, got {list(mask_names)}')
        self.img_dir = img_dir
        self.mask_dir = mask_dir
        self.alone_dir = alone_dir
        self.mask_names = tuple(mask_names)

    def _sibling(self, img_path: str, folder: str, suffix: str) -> str:
        """``img_path`` with its ``img_dir`` component replaced by
        ``folder`` and ``suffix`` appended to the stem."""
        parts = osp.normpath(img_path).split(osp.sep)
        if self.img_dir not in parts:
            raise ValueError(
                f'LoadHDRTargets: {img_path} has no {self.img_dir!r} folder '
                'to find its masks and single-hand renders from')
        # the last occurrence: data roots may contain the name too
        k = len(parts) - 1 - parts[::-1].index(self.img_dir)
        parts[k] = folder
        stem, ext = osp.splitext(osp.sep.join(parts))
        return stem + suffix + (ext if folder == self.alone_dir else '.png')

    def transform(self, results: Dict) -> Dict:
        img_path = results['img_path']
        img = results['img']
        paths = {k: self._sibling(img_path, self.mask_dir, f'_{k}')
                 for k in ('r_amodal', 'l_amodal', 'rl_visible')}
        raw = {k: read_mask(p, (0, 1, 2) if k == 'rl_visible' else (0, 1))
               for k, p in paths.items()}
        check_same_size((img_path, img),
                        *((paths[k], m) for k, m in raw.items()))
        results['gt_hand_masks'] = stack_hand_masks(
            raw['r_amodal'], raw['l_amodal'], raw['rl_visible'],
            self.mask_names)

        present = np.asarray(results['hand_type']).reshape(-1)[:2] > 0
        valid = np.zeros(2, bool)
        for h, side in enumerate(HANDS):
            alone = np.zeros_like(img)
            if present.all():
                path = self._sibling(img_path, self.alone_dir, f'_{side}')
                alone = read_image(path)
                check_same_size((img_path, img), (path, alone))
                valid[h] = True
            elif present[h]:
                alone = img.copy()
                valid[h] = True
            results[f'gt_alone_{side}'] = alone
        results['gt_alone_valid'] = valid
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(img_dir={self.img_dir!r}, '
                f'mask_dir={self.mask_dir!r}, '
                f'alone_dir={self.alone_dir!r})')
