"""HASM's segmentation dataset over InterHand2.6M-format frames with masks.

The generated data (``docs/data_layout.md``) stores every full frame with
three full-frame masks::

    <data_root>/interhand2.6m/images/<split>/.../image<idx>.jpg
    <data_root>/interhand2.6m/masks/<split>/.../image<idx>_r_amodal.png   0/1
    <data_root>/interhand2.6m/masks/<split>/.../image<idx>_l_amodal.png   0/1
    <data_root>/interhand2.6m/masks/<split>/.../image<idx>_rl_visible.png 0/1/2

The pipeline (``LoadHandAmodalMasks``, ``CropBothHands``,
``PackHandSegInputs``) turns them into the four binary HASM targets
``[l_amodal, l_visible, r_amodal, r_visible]`` on the crop of both hands.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

#: Mask files stored beside every frame, as ``<stem>_<name><suffix>``.
MASK_FILES = ('l_amodal', 'r_amodal', 'rl_visible')


@DATASETS.register_module()
class HandAmodalSegDataset(BaseSegDataset):
    """Frames and hand masks of an InterHand2.6M-format split.

    mmseg's :class:`BaseSegDataset` expects one label map per image; HASM
    needs three mask files per frame, so ``load_data_list`` is replaced: it
    lists every image below ``data_prefix['img_path']`` and requires the
    three masks at the same relative place below
    ``data_prefix['seg_map_path']``.

    Args:
        split: ``'train'``, ``'val'`` or ``'test'``; sets the default
            ``data_prefix`` to ``interhand2.6m/{images,masks}/<split>``.
        data_prefix: Overrides the image and mask folders (relative to
            ``data_root``).
        sequences: Keep only frames whose path contains one of these
            folder names (e.g. ``['synthetic_interacting']``); None keeps
            all.
        img_suffix: Image file suffix. Defaults to ``'.jpg'``.
        seg_map_suffix: Mask file suffix. Defaults to ``'.png'``.
        **kwargs: Passed to :class:`BaseSegDataset` (``data_root``,
            ``pipeline``, ``test_mode``, ``indices``, ...).

    Each data info holds ``img_path``, ``mask_paths`` (``{l_amodal,
    r_amodal, rl_visible}`` -> path), ``seg_map_path`` (the
    ``rl_visible`` file, for mmseg tools that show one label map),
    ``label_map``, ``reduce_zero_label`` and ``seg_fields``.

    Raises:
        FileNotFoundError: the image folder does not exist, holds no image,
            or an image lacks one of its mask files (the message names it).
    """

    METAINFO = dict(classes=('background', 'hand'),
                    palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 split: str = 'train',
                 data_prefix: Optional[dict] = None,
                 sequences: Optional[Sequence[str]] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        if data_prefix is None:
            data_prefix = dict(
                img_path=f'interhand2.6m/images/{split}',
                seg_map_path=f'interhand2.6m/masks/{split}')
        self.split = split
        self.sequences = None if sequences is None else tuple(sequences)
        super().__init__(
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """List the frames of the split and check their mask files.

        Returns:
            list[dict]: one data info per frame, sorted by path.
        """
        img_dir = self.data_prefix.get('img_path', '')
        mask_dir = self.data_prefix.get('seg_map_path', '')
        if not osp.isdir(img_dir):
            raise FileNotFoundError(
                f'{type(self).__name__}: image folder not found: {img_dir}')
        rel_paths = []
        for root, _, files in os.walk(img_dir):
            for name in files:
                if name.endswith(self.img_suffix):
                    rel_paths.append(
                        osp.relpath(osp.join(root, name), img_dir))
        if self.sequences is not None:
            rel_paths = [
                p for p in rel_paths
                if any(s in p.split(os.sep) for s in self.sequences)
            ]
        if not rel_paths:
            raise FileNotFoundError(
                f'{type(self).__name__}: no *{self.img_suffix} image below '
                f'{img_dir}' + (f' in sequences {list(self.sequences)}'
                                if self.sequences else ''))
        data_list = []
        for rel in sorted(rel_paths):
            stem = rel[:-len(self.img_suffix)]
            img_path = osp.join(img_dir, rel)
            mask_paths = {
                name: osp.join(mask_dir, f'{stem}_{name}{self.seg_map_suffix}')
                for name in MASK_FILES
            }
            for name, path in mask_paths.items():
                if not osp.isfile(path):
                    raise FileNotFoundError(
                        f'missing {name} mask for image {img_path}: '
                        f'{path} does not exist')
            data_list.append(
                dict(
                    img_path=img_path,
                    mask_paths=mask_paths,
                    seg_map_path=mask_paths['rl_visible'],
                    label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[]))
        return data_list
