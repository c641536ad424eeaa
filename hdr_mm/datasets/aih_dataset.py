"""The AIH (Amodal InterHand) dataset of HDR for TDR training.

Reads the two layouts of docs/method.md section 4 (and docs/data_layout.md):

``AIH_render/<annot>/<split>/``
    ``images/{r,l}_images/{IH,DR_gt}/<name>.jpg`` (both hands / the target
    hand alone) and ``labels/in_{r,l}_images/{r_amodal,l_amodal,
    rl_visible}/<name>.png``. One sample per target crop.

``AIH_syn/``
    ``<annot>/<split>/images/{r,l}_images/<id>.jpg`` single-hand crops with
    ``labels/in_{r,l}_images/{r,l}_amodal/<id>.png``;
    ``filtered_list/<annot>_<split>_sh_{right,left}_filtered.txt`` (usable
    ids, one per line) and ``syn_cfgs/all_<annot>_<split>_syn_cfgs.npy``
    (pickled list of dicts: ``loop_side``, ``loop_side_idx``,
    ``another_side_idx``, ``r_aug_list``, ``l_aug_list``,
    ``occlusion_rate``; read by :func:`~hdr_mm.datasets.object_npy.
    load_object_npy`, so that a crafted file cannot run code). The pair
    is composed at load time by
    :class:`~hdr_mm.datasets.transforms.LoadAIHSample`.

Every file a sample needs is checked when the dataset is built; a missing
one raises an error naming it. Nothing is skipped.
"""
import os
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmpose.registry import DATASETS

from .object_npy import load_object_npy
from .synthetic import ensure_synthetic_hands

SIDE_NAMES = {'r': 'right', 'l': 'left'}
SYN_CFG_KEYS = ('loop_side', 'loop_side_idx', 'another_side_idx',
                'r_aug_list', 'l_aug_list')


def _require_dir(path: str, what: str) -> None:
    if not osp.isdir(path):
        raise FileNotFoundError(f'{what} folder not found: {path}')


def _require_file(path: str, what: str) -> None:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')


@DATASETS.register_module()
class AIHDataset(BaseDataset):
    """AIH_render and AIH_syn samples for de-occlusion and removal.

    Each data info holds paths and parameters only; images are read by
    the ``LoadAIHSample`` transform. ``hand_type`` is the target side
    (``'right'``/``'left'``); ``MirrorToRight`` turns left samples into
    right ones.

    Args:
        data_root: Folder that holds ``render_dir`` and/or ``syn_dir``.
        split: ``'train'``, ``'val'`` or ``'test'``.
        render_dir: Sub-folder of the AIH_render layout, or ``None``.
        syn_dir: Sub-folder of the AIH_syn layout, or ``None``.
        annot_types: Annotation kinds to read (``'machine_annot'``,
            ``'human_annot'``).
        sides: Target sides of AIH_render to read, subset of ``('r',
            'l')``.
        synthetic: If given, ``ensure_synthetic_hands(data_root,
            **synthetic)`` runs first: the generated data is created on
            first use (``render_dir`` must then be ``'AIH_render'``).
        check_files: Check at build time that every file of every sample
            exists.
        pipeline: Transforms.
        test_mode: Test phase.
        indices: Keep only these samples (see mmengine ``BaseDataset``).
        serialize_data, lazy_init: See mmengine ``BaseDataset``.
        max_refetch: Kept at 0 by default: a broken sample raises and is
            never replaced by another one.
    """

    METAINFO: dict = dict(dataset_name='aih')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 render_dir: Optional[str] = 'AIH_render',
                 syn_dir: Optional[str] = None,
                 annot_types: Sequence[str] = ('machine_annot', ),
                 sides: Sequence[str] = ('r', 'l'),
                 synthetic: Optional[dict] = None,
                 check_files: bool = True,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 max_refetch: int = 0):
        if split not in ('train', 'val', 'test'):
            raise ValueError(f'split must be train, val or test, got {split}')
        bad = set(sides) - set(SIDE_NAMES)
        if bad:
            raise ValueError(f'sides must be a subset of (r, l), got {sides}')
        if render_dir is None and syn_dir is None:
            raise ValueError('give render_dir, syn_dir or both')
        if synthetic is not None:
            ensure_synthetic_hands(data_root, **synthetic)
        self.split = split
        self.render_dir = render_dir
        self.syn_dir = syn_dir
        self.annot_types = tuple(annot_types)
        self.sides = tuple(sides)
        self.check_files = check_files
        super().__init__(
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            indices=indices,
            serialize_data=serialize_data,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    def load_data_list(self) -> List[dict]:
        """Index every sample of the chosen layouts, annotations and
        sides.

        Returns:
            list[dict]: One data info per sample.
        """
        _require_dir(self.data_root, 'AIH data root')
        data_list = []
        for annot in self.annot_types:
            if self.render_dir is not None:
                data_list += self._load_render(annot)
            if self.syn_dir is not None:
                data_list += self._load_syn(annot)
        if not data_list:
            raise ValueError(
                f'no AIH sample found under {self.data_root} for split '
                f'{self.split}, annotations {self.annot_types}')
        return data_list

    def _load_render(self, annot: str) -> List[dict]:
        root = osp.join(self.data_root, self.render_dir, annot, self.split)
        _require_dir(root, 'AIH_render split')
        infos = []
        for t in self.sides:
            ih_dir = osp.join(root, 'images', f'{t}_images', 'IH')
            _require_dir(ih_dir, 'AIH_render IH')
            names = sorted(
                osp.splitext(f)[0] for f in os.listdir(ih_dir)
                if f.endswith('.jpg'))
            for name in names:
                info = dict(
                    source='render',
                    annot=annot,
                    sample_id=name,
                    hand_type=SIDE_NAMES[t],
                    img_path=osp.join(ih_dir, name + '.jpg'),
                    gt_img_path=osp.join(root, 'images', f'{t}_images',
                                         'DR_gt', name + '.jpg'),
                    mask_paths={
                        k: osp.join(root, 'labels', f'in_{t}_images', k,
                                    name + '.png')
                        for k in ('r_amodal', 'l_amodal', 'rl_visible')
                    })
                if self.check_files:
                    _require_file(info['gt_img_path'], 'DR_gt image')
                    for p in info['mask_paths'].values():
                        _require_file(p, 'AIH_render label')
                infos.append(info)
        return infos

    def _read_list(self, path: str) -> List[str]:
        _require_file(path, 'AIH_syn filtered list')
        with open(path) as f:
            ids = [line.strip() for line in f]
        return [i for i in ids if i]

    def _load_syn(self, annot: str) -> List[dict]:
        syn = osp.join(self.data_root, self.syn_dir)
        _require_dir(syn, 'AIH_syn')
        root = osp.join(syn, annot, self.split)
        _require_dir(root, 'AIH_syn split')
        lists = {
            side: self._read_list(
                osp.join(syn, 'filtered_list',
                         f'{annot}_{self.split}_sh_{side}_filtered.txt'))
            for side in ('right', 'left')
        }
        cfg_path = osp.join(syn, 'syn_cfgs',
                            f'all_{annot}_{self.split}_syn_cfgs.npy')
        _require_file(cfg_path, 'AIH_syn syn_cfgs')
        # a restricted unpickler: a crafted .npy cannot run code
        cfgs = load_object_npy(cfg_path, 'syn_cfgs ')

        def paths(side: str, sid: str) -> dict:
            t = side[0]
            return dict(
                img=osp.join(root, 'images', f'{t}_images', sid + '.jpg'),
                amodal=osp.join(root, 'labels', f'in_{t}_images',
                                f'{t}_amodal', sid + '.png'))

        checked = set()
        infos = []
        for i, cfg in enumerate(cfgs):
            if not isinstance(cfg, dict) or any(k not in cfg
                                                for k in SYN_CFG_KEYS):
                raise ValueError(
                    f'{cfg_path}: entry {i} must be a dict with keys '
                    f'{SYN_CFG_KEYS}, got {cfg!r:.200}')
            loop = cfg['loop_side']
            if loop not in ('right', 'left'):
                raise ValueError(f'{cfg_path}: entry {i} has loop_side '
                                 f'{loop!r}; expected "right" or "left"')
            other = 'left' if loop == 'right' else 'right'
            ids = {}
            for side, key in ((loop, 'loop_side_idx'),
                              (other, 'another_side_idx')):
                idx = int(cfg[key])
                if not 0 <= idx < len(lists[side]):
                    raise IndexError(
                        f'{cfg_path}: entry {i} {key}={idx} is outside the '
                        f'{len(lists[side])} ids of the {side} filtered list')
                ids[side] = lists[side][idx]
            p = {side: paths(side, ids[side]) for side in ('right', 'left')}
            if self.check_files:
                for side in ('right', 'left'):
                    for kind, f in p[side].items():
                        if f not in checked:
                            _require_file(
                                f, f'AIH_syn {kind} of listed id '
                                f'{ids[side]}')
                            checked.add(f)
            augs = {}
            for side, key in (('right', 'r_aug_list'), ('left',
                                                        'l_aug_list')):
                aug = np.asarray(cfg[key], dtype=np.float64).ravel()
                if len(aug) < 4:
                    raise ValueError(
                        f'{cfg_path}: entry {i} {key} has {len(aug)} values;'
                        ' expected at least [tx, ty, scale, rotation]')
                augs[side] = aug.tolist()
            infos.append(
                dict(
                    source='syn',
                    annot=annot,
                    sample_id=f'{annot}_{self.split}_{i}',
                    hand_type=loop,
                    img_path=p[loop]['img'],
                    syn_paths=p,
                    syn_ids=ids,
                    aug=augs,
                    occlusion_rate=float(cfg.get('occlusion_rate', -1.0))))
        return infos
