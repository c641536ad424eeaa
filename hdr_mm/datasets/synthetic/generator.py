"""Write the synthetic interacting-hands dataset (see docs/data_layout.md).

Every sample ``i`` draws from its own generator ``default_rng([seed, i])``,
so the output is deterministic for a seed and independent of the number
of worker processes. Files are written into a temporary folder next to
``out_dir`` that is renamed to ``out_dir`` once ``meta.json`` is written:
an interrupted run never leaves a half-written ``out_dir`` behind.

A run holds a lock on ``<out_dir>.lock`` (``fcntl.flock``, released by
the kernel when the process dies) from its first check of ``out_dir`` to
the rename: a second run into the same ``out_dir`` waits, then finds the
first one's dataset and, without ``overwrite``, refuses to replace it.
The temporary folders of runs that were killed are removed by the next
run into the same ``out_dir``.
"""
import contextlib
import fcntl
import glob
import json
import multiprocessing
import os
import os.path as osp
import shutil
import tempfile
import time
from functools import partial
from typing import Dict, Iterator, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

from hdr_mm.structures import (HANDS, bbox_of_mask, crop_warp_matrix,
                               square_crop_cs, union_bbox, warp_to_crop)
from .scene import render_view, sample_scene

SPLITS = ('train', 'val', 'test')
SEQ_NAMES = {'interacting': 'synthetic_interacting',
             'right': 'synthetic_single', 'left': 'synthetic_single'}
#: InterHand2.6M capture / camera names used for every generated frame
CAPTURE = '0'
CAMERA = '0'
#: what the generator draws; a folder written by another version has
#: other images for the same arguments and is refused
#: (:func:`ensure_synthetic_hands`). 2: each side's tint also moves green
#: against red and blue (scene.SIDE_TINT_BGR)
GENERATOR_VERSION = 2
_JPG = [cv2.IMWRITE_JPEG_QUALITY, 95]
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1]


def focal_length(img_size: int) -> float:
    """Focal length (pixels) of the generated camera: 1.5 x image side
    (a 37 degree field of view)."""
    return 1.5 * img_size


def camera(img_size: int) -> Tuple[float, float, float, float]:
    """``(fx, fy, cx, cy)`` of the generated full frames."""
    f = focal_length(img_size)
    return (f, f, img_size / 2, img_size / 2)


def _write(path: str, img: np.ndarray, params) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img, params):
        raise IOError(f'could not write {path}')


def split_of(index: int, num_samples: int,
             split_ratios: Sequence[float]) -> str:
    """Split of sample ``index``: the first ``round(r_train * n)`` samples
    are train, the next ``round(r_val * n)`` val, the rest test."""
    n_train = int(round(split_ratios[0] * num_samples))
    n_val = int(round(split_ratios[1] * num_samples))
    if index < n_train:
        return 'train'
    if index < n_train + n_val:
        return 'val'
    return 'test'


def make_sample(index: int, root: str, num_samples: int, img_size: int,
                seed: int, occlusion_range: Tuple[float, float],
                single_hand_ratio: float,
                split_ratios: Sequence[float]) -> dict:
    """Generate and write sample ``index``; return its annotation record.

    Args:
        index: Global sample index (also the frame index and the id).
        root: Output root (the temporary folder during generation).
        num_samples, img_size, seed, occlusion_range, single_hand_ratio,
        split_ratios: See :func:`generate_synthetic_hands`.

    Returns:
        dict: ``split``, ``image`` (COCO image entry), ``annotation``
        (COCO annotation entry), ``world_coord`` (42 x 3 list) and
        ``occlusion_ratio``.
    """
    rng = np.random.default_rng([seed, index])
    cam = camera(img_size)
    scene = sample_scene(rng, img_size, cam, occlusion_range,
                         single_hand_ratio)
    split = split_of(index, num_samples, split_ratios)
    seq = SEQ_NAMES[scene.hand_type]
    stem = f'image{index:05d}'
    rel = f'Capture{CAPTURE}/{seq}/cam{CAMERA}/{stem}'
    ih_root = osp.join(root, 'interhand2.6m')

    img, amodal, rl_vis = render_view(scene, cam, img_size, scene.background)
    _write(osp.join(ih_root, 'images', split, rel + '.jpg'), img, _JPG)
    mask_dir = osp.join(ih_root, 'masks', split)
    _write(osp.join(mask_dir, rel + '_r_amodal.png'), amodal['right'], _PNG)
    _write(osp.join(mask_dir, rel + '_l_amodal.png'), amodal['left'], _PNG)
    _write(osp.join(mask_dir, rel + '_rl_visible.png'), rl_vis, _PNG)

    if scene.back is not None:
        # each hand alone on the same background: what de-occlusion and
        # removal should produce, and single-hand training images for SHPE
        alone_dir = osp.join(ih_root, 'images_alone', split)
        for side in HANDS:
            alone, _, _ = render_view(scene, cam, img_size, scene.background,
                                      only=side)
            _write(osp.join(alone_dir, f'{rel}_{side}.jpg'), alone, _JPG)

    present = [s for s in HANDS if amodal[s].any()]
    x1, y1, x2, y2 = union_bbox(
        np.stack([bbox_of_mask(amodal[s]) for s in present]))
    fx, fy, cx, cy = cam
    j = scene.joints
    joint_2d = np.stack([fx * j[:, 0] / j[:, 2] + cx,
                         fy * j[:, 1] / j[:, 2] + cy], axis=1)
    valid = np.zeros(42, dtype=int)
    if 'right' in scene.capsules:
        valid[:21] = 1
    if 'left' in scene.capsules:
        valid[21:] = 1
    occlusion = 0.0
    if scene.back is not None:
        back_label = 1 if scene.back == 'right' else 2
        occlusion = 1.0 - (np.count_nonzero(rl_vis == back_label) /
                           max(np.count_nonzero(amodal[scene.back]), 1))

        # AIH_render: one crop per target hand, IH and DR_gt
        aih = osp.join(root, 'AIH_render', 'machine_annot', split)
        name = f'{index:06d}'
        for side in HANDS:
            t = side[0]
            center, side_px = square_crop_cs(bbox_of_mask(amodal[side]), 2.0)
            mat = crop_warp_matrix(center, side_px, img_size)
            bg = warp_to_crop(scene.background, mat, img_size)
            s = mat[0, 0]
            ccam = (fx * s, fy * s, cx * s + mat[0, 2], cy * s + mat[1, 2])
            ih, c_amodal, c_vis = render_view(scene, ccam, img_size, bg)
            gt, _, _ = render_view(scene, ccam, img_size, bg, only=side)
            base = osp.join(aih, 'images', f'{t}_images')
            _write(osp.join(base, 'IH', name + '.jpg'), ih, _JPG)
            _write(osp.join(base, 'DR_gt', name + '.jpg'), gt, _JPG)
            lab = osp.join(aih, 'labels', f'in_{t}_images')
            _write(osp.join(lab, 'r_amodal', name + '.png'),
                   c_amodal['right'], _PNG)
            _write(osp.join(lab, 'l_amodal', name + '.png'),
                   c_amodal['left'], _PNG)
            _write(osp.join(lab, 'rl_visible', name + '.png'), c_vis, _PNG)

    image = dict(
        id=index, file_name=rel + '.jpg', width=img_size, height=img_size,
        capture=int(CAPTURE), subject=0, seq_name=seq, camera=CAMERA,
        frame_idx=index)
    annotation = dict(
        id=index, image_id=index, category_id=1, iscrowd=0,
        bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
        joint_valid=valid.tolist(), hand_type=scene.hand_type,
        hand_type_valid=1, joint_2d=joint_2d.round(4).tolist(),
        occlusion_ratio=round(float(occlusion), 4))
    return dict(split=split, image=image, annotation=annotation,
                world_coord=j.round(4).tolist(),
                occlusion_ratio=float(occlusion))


def _write_annotations(root: str, records: Sequence[dict],
                       img_size: int) -> Dict[str, dict]:
    """Write the three InterHand2.6M json files of each split."""
    fx, fy, cx, cy = camera(img_size)
    cam_json = {CAPTURE: dict(
        campos={CAMERA: [0.0, 0.0, 0.0]},
        camrot={CAMERA: np.eye(3).tolist()},
        focal={CAMERA: [fx, fy]},
        princpt={CAMERA: [cx, cy]})}
    stats = {}
    for split in SPLITS:
        recs = [r for r in records if r['split'] == split]
        ann_dir = osp.join(root, 'interhand2.6m', 'annotations', split)
        os.makedirs(ann_dir, exist_ok=True)
        prefix = osp.join(ann_dir, f'InterHand2.6M_{split}')
        data = dict(images=[r['image'] for r in recs],
                    annotations=[r['annotation'] for r in recs],
                    categories=[dict(id=1, name='hand')])
        with open(prefix + '_data.json', 'w') as f:
            json.dump(data, f)
        with open(prefix + '_camera.json', 'w') as f:
            json.dump(cam_json, f)
        with open(prefix + '_joint_3d.json', 'w') as f:
            json.dump({CAPTURE: {str(r['image']['frame_idx']): dict(
                world_coord=r['world_coord'],
                joint_valid=r['annotation']['joint_valid'],
                hand_type=r['annotation']['hand_type'],
                hand_type_valid=1) for r in recs}}, f)
        occ = [r['occlusion_ratio'] for r in recs
               if r['annotation']['hand_type'] == 'interacting']
        stats[split] = dict(
            num_frames=len(recs), num_interacting=len(occ),
            num_single=len(recs) - len(occ),
            mean_occlusion_ratio=round(float(np.mean(occ)), 4)
            if occ else None)
    return stats


def _tmp_prefix(out_dir: str) -> str:
    """Name prefix of the temporary folders of runs into ``out_dir``."""
    return osp.basename(out_dir) + '.tmp-'


@contextlib.contextmanager
def out_dir_lock(out_dir: str) -> Iterator[None]:
    """Hold the lock of ``out_dir`` (the file ``<out_dir>.lock``).

    Waits, saying so, while another process holds it. The kernel releases
    the lock when its holder exits, even when it is killed.

    Args:
        out_dir: Absolute dataset folder.
    """
    path = out_dir.rstrip('/') + '.lock'
    with open(path, 'a') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print_log(f'{out_dir}: another run is generating into it '
                      f'(lock {path}); waiting for it to finish', 'current')
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_stale_tmp_dirs_if_idle(out_dir: str) -> None:
    """:func:`remove_stale_tmp_dirs` unless a run holds the lock now."""
    out_dir = osp.abspath(out_dir)
    pattern = osp.join(osp.dirname(out_dir), _tmp_prefix(out_dir) + '*')
    if not glob.glob(pattern):
        return
    with open(out_dir.rstrip('/') + '.lock', 'a') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a run is writing one of them
        try:
            remove_stale_tmp_dirs(out_dir)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_stale_tmp_dirs(out_dir: str) -> None:
    """Delete the temporary folders that killed runs into ``out_dir``
    left behind. Call it holding :func:`out_dir_lock`: no other run can
    be writing into one then.

    Args:
        out_dir: Absolute dataset folder.
    """
    pattern = osp.join(osp.dirname(out_dir), _tmp_prefix(out_dir) + '*')
    for tmp in sorted(glob.glob(pattern)):
        if osp.isdir(tmp):
            print_log(f'removing {tmp}, left behind by an interrupted run',
                      'current')
            shutil.rmtree(tmp, ignore_errors=True)


def generate_synthetic_hands(out_dir: str,
                             num_samples: int,
                             img_size: int = 256,
                             seed: int = 0,
                             occlusion_range: Tuple[float,
                                                    float] = (0.1, 0.7),
                             single_hand_ratio: float = 0.2,
                             split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
                             workers: int = 1,
                             overwrite: bool = False,
                             progress: bool = True) -> dict:
    """Generate the synthetic dataset into ``out_dir``.

    Args:
        out_dir: Output folder (layout in docs/data_layout.md).
        num_samples: Number of full frames over all splits.
        img_size: Side of full frames and of AIH_render crops, pixels.
        seed: Random seed; the same arguments give identical files.
        occlusion_range: ``(low, high)`` range of the fraction of the back
            hand hidden by the front hand in interacting frames.
        single_hand_ratio: Fraction of frames with a single hand (right or
            left, equally likely); these get no AIH_render crops.
        split_ratios: Fractions of train, val and test frames.
        workers: Worker processes (1 = in this process).
        overwrite: Replace an existing ``out_dir``. Without it an existing
            ``out_dir`` (also one that another run finished while this
            one waited for the lock) raises :class:`FileExistsError`.
        progress: Show a tqdm progress bar.

    Returns:
        dict: The content of ``meta.json`` (arguments, counts per split,
        ``samples_per_s``).
    """
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}')
    if img_size < 32:
        raise ValueError(f'img_size must be >= 32, got {img_size}')
    lo, hi = occlusion_range
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError('occlusion_range must satisfy 0 <= low <= high <= 1,'
                         f' got {occlusion_range}')
    if len(split_ratios) != 3 or abs(sum(split_ratios) - 1) > 1e-6:
        raise ValueError(f'split_ratios must be 3 fractions summing to 1, '
                         f'got {split_ratios}')
    out_dir = osp.abspath(out_dir)
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    with out_dir_lock(out_dir):
        if osp.exists(out_dir) and not overwrite:
            raise FileExistsError(
                f'{out_dir} already exists; pass overwrite=True '
                '(--overwrite) to replace it or choose another out_dir')
        remove_stale_tmp_dirs(out_dir)
        return _generate(out_dir, num_samples, img_size, seed, (lo, hi),
                         single_hand_ratio, split_ratios, workers,
                         progress)


def _generate(out_dir: str, num_samples: int, img_size: int, seed: int,
              occlusion_range: Tuple[float, float], single_hand_ratio: float,
              split_ratios: Sequence[float], workers: int,
              progress: bool) -> dict:
    """Write the dataset into a temporary folder and rename it onto
    ``out_dir`` (replacing it); the caller holds the lock."""
    lo, hi = occlusion_range
    tmp = tempfile.mkdtemp(prefix=_tmp_prefix(out_dir),
                           dir=osp.dirname(out_dir))
    args = dict(num_samples=int(num_samples), img_size=int(img_size),
                seed=int(seed),
                occlusion_range=[float(lo), float(hi)],
                single_hand_ratio=float(single_hand_ratio),
                split_ratios=[float(r) for r in split_ratios])
    job = partial(make_sample, root=tmp, num_samples=num_samples,
                  img_size=img_size, seed=seed,
                  occlusion_range=(lo, hi),
                  single_hand_ratio=single_hand_ratio,
                  split_ratios=split_ratios)
    start = time.perf_counter()
    try:
        from tqdm import tqdm
        bar = partial(tqdm, total=num_samples, disable=not progress,
                      desc='synthetic hands', unit='sample')
        if workers > 1:
            with multiprocessing.get_context('fork').Pool(workers) as pool:
                records = list(bar(pool.imap(job, range(num_samples),
                                             chunksize=4)))
        else:
            records = [job(i) for i in bar(range(num_samples))]
        elapsed = time.perf_counter() - start
        stats = _write_annotations(tmp, records, img_size)
        meta = dict(generator='hdr_mm.datasets.synthetic',
                    version=GENERATOR_VERSION, args=args,
                    splits=stats, camera=list(camera(img_size)),
                    seconds=round(elapsed, 3),
                    samples_per_s=round(num_samples / elapsed, 2))
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=2)
        if osp.exists(out_dir):  # overwrite=True, checked under the lock
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def ensure_synthetic_hands(out_dir: str, **kwargs) -> dict:
    """Generate the synthetic dataset unless ``out_dir/meta.json`` exists.

    Datasets and configs call this on first use, so that a fresh machine
    needs no manual step. If the data exists, the arguments given here
    must match the ones it was generated with.

    Args:
        out_dir: Dataset folder.
        **kwargs: Arguments of :func:`generate_synthetic_hands`
            (``num_samples`` is required when generating).

    Returns:
        dict: The dataset's ``meta.json`` content.

    Raises:
        FileExistsError: ``out_dir`` exists without ``meta.json`` (not a
            generated dataset, or an unfinished one).
        ValueError: the existing data was generated with other arguments
            or by another :data:`GENERATOR_VERSION`.
    """
    meta_path = osp.join(out_dir, 'meta.json')
    if osp.isfile(meta_path):
        try:
            with open(meta_path) as f:
                meta = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{meta_path} is not valid json ({e})') from e
        version = meta.get('version', 1)
        if version != GENERATOR_VERSION:
            raise ValueError(
                f'{out_dir} was written by version {version} of the '
                f'synthetic-hand generator, this hdr_mm draws version '
                f'{GENERATOR_VERSION} (other images for the same '
                'arguments); delete the folder to generate it again')
        given = {k: v for k, v in kwargs.items()
                 if k in meta.get('args', {})}
        for k, v in given.items():
            have = meta['args'][k]
            v = list(v) if isinstance(v, (tuple, list)) else v
            if (list(map(float, have)) != list(map(float, v))
                    if isinstance(have, list) else have != v):
                raise ValueError(
                    f'{out_dir} was generated with {k}={have}, but {k}={v} '
                    'was asked for; delete the folder or use another one')
        _remove_stale_tmp_dirs_if_idle(out_dir)
        return meta
    if osp.exists(out_dir):
        raise FileExistsError(
            f'{out_dir} exists but has no meta.json: it is not a complete '
            'generated dataset; remove it or point to another folder')
    if 'num_samples' not in kwargs:
        raise ValueError('ensure_synthetic_hands needs num_samples to '
                         f'generate the missing {out_dir}')
    print_log(f'Synthetic hands not found in {out_dir}: generating '
              f'{kwargs["num_samples"]} samples on first use', 'current')
    kwargs.setdefault('progress', False)
    try:
        return generate_synthetic_hands(out_dir, **kwargs)
    except FileExistsError:
        # another process finished first
        return ensure_synthetic_hands(out_dir, **{
            k: v for k, v in kwargs.items() if k != 'progress'})
