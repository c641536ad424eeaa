"""Build an AIH_syn tree (docs/method.md section 4) from generated AIH_render
crops: the DR_gt crops (one hand alone) play the single-hand images."""
import os
import os.path as osp
import shutil
from typing import Sequence

import numpy as np


def write_aih_syn(data_root: str,
                  split: str,
                  num_pairs: int,
                  syn_dir: str = 'AIH_syn',
                  annot: str = 'machine_annot',
                  seed: int = 0,
                  max_shift: float = 0.15,
                  scale_range: Sequence[float] = (0.9, 1.1),
                  max_rotation: float = 20.0) -> str:
    """Write ``data_root/syn_dir`` for one split from
    ``data_root/AIH_render/<annot>/<split>``.

    Right-target DR_gt crops become ``r_images`` (amodal from their
    ``r_amodal`` label), left-target ones ``l_images``; the filtered lists
    hold every id; ``num_pairs`` random syn_cfgs pair them with random
    augmentations ``[tx, ty, scale, rotation, c_b, c_g, c_r]`` and a loop
    side alternating right/left.

    Args:
        data_root: Generated dataset root (holds ``AIH_render``).
        split: Split to convert.
        num_pairs: Entries of the syn_cfgs list.
        syn_dir: Output sub-folder.
        annot: Annotation kind.
        seed: Random seed of the pairs and augmentations.
        max_shift: Largest translation, as a fraction of the image side.
        scale_range: Range of the scale augmentation.
        max_rotation: Largest rotation, degrees.

    Returns:
        str: The AIH_syn folder.
    """
    src = osp.join(data_root, 'AIH_render', annot, split)
    dst_root = osp.join(data_root, syn_dir)
    dst = osp.join(dst_root, annot, split)
    rng = np.random.default_rng(seed)
    ids = {}
    for t, side in (('r', 'right'), ('l', 'left')):
        img_dir = osp.join(src, 'images', f'{t}_images', 'DR_gt')
        if not osp.isdir(img_dir):
            raise FileNotFoundError(f'AIH_render DR_gt folder not found: '
                                    f'{img_dir}')
        names = sorted(osp.splitext(f)[0] for f in os.listdir(img_dir)
                       if f.endswith('.jpg'))
        if not names:
            raise ValueError(f'no DR_gt image in {img_dir}')
        os.makedirs(osp.join(dst, 'images', f'{t}_images'), exist_ok=True)
        lab = osp.join(dst, 'labels', f'in_{t}_images', f'{t}_amodal')
        os.makedirs(lab, exist_ok=True)
        for n in names:
            shutil.copyfile(osp.join(img_dir, n + '.jpg'),
                            osp.join(dst, 'images', f'{t}_images',
                                     n + '.jpg'))
            shutil.copyfile(
                osp.join(src, 'labels', f'in_{t}_images', f'{t}_amodal',
                         n + '.png'), osp.join(lab, n + '.png'))
        ids[side] = names
        os.makedirs(osp.join(dst_root, 'filtered_list'), exist_ok=True)
        with open(osp.join(dst_root, 'filtered_list',
                           f'{annot}_{split}_sh_{side}_filtered.txt'),
                  'w') as f:
            f.write('\n'.join(names) + '\n')

    def aug():
        return [float(rng.uniform(-max_shift, max_shift)),
                float(rng.uniform(-max_shift, max_shift)),
                float(rng.uniform(*scale_range)),
                float(rng.uniform(-max_rotation, max_rotation))] + \
            rng.uniform(0.9, 1.1, 3).tolist()

    cfgs = []
    for i in range(num_pairs):
        loop = 'right' if i % 2 == 0 else 'left'
        other = 'left' if loop == 'right' else 'right'
        cfgs.append(dict(
            loop_side=loop,
            loop_side_idx=int(rng.integers(len(ids[loop]))),
            another_side_idx=int(rng.integers(len(ids[other]))),
            r_aug_list=aug(),
            l_aug_list=aug(),
            occlusion_rate=-1.0))
    os.makedirs(osp.join(dst_root, 'syn_cfgs'), exist_ok=True)
    np.save(osp.join(dst_root, 'syn_cfgs',
                     f'all_{annot}_{split}_syn_cfgs.npy'),
            np.array(cfgs, dtype=object), allow_pickle=True)
    return dst_root
