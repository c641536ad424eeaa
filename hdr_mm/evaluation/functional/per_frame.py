"""What the hand metrics share per frame: its type (single or
interacting), the splits of frames they report, and the per-frame file
that bootstrap intervals and paired comparisons read
(:mod:`hdr_mm.evaluation.functional.bootstrap`)."""
import os
import os.path as osp
from typing import Dict

import numpy as np

from hdr_mm.utils.atomic_file import atomic_write


def frame_is_interacting(data_sample: dict, metric: str) -> bool:
    """Whether a frame shows two interacting hands: its metainfo
    ``interacting`` or, failing that, InterHand2.6M's ``hand_type`` (both
    hands set).

    Args:
        data_sample: One model output as a dict.
        metric: Name of the asking metric (for the error).

    Raises:
        KeyError: the sample has neither.
    """
    if 'interacting' in data_sample:
        return bool(data_sample['interacting'])
    if 'hand_type' in data_sample:
        return bool(np.asarray(data_sample['hand_type']).all())
    raise KeyError(f"{metric} needs metainfo 'interacting' or 'hand_type' "
                   'to split single/interacting frames')


#: the splits of frames every hand metric reports
SPLITS = ('interacting', 'single', 'all')


def split_masks(interacting: np.ndarray) -> Dict[str, np.ndarray]:
    """The frames of each split.

    Args:
        interacting: (N,) bool, per frame.

    Returns:
        dict: split name (:data:`SPLITS`) -> (N,) bool mask.
    """
    interacting = np.asarray(interacting, bool)
    return dict(interacting=interacting, single=~interacting,
                all=np.ones_like(interacting))


def write_per_frame(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """Write one array per field (one entry per frame) to ``path``
    (``.npz``), replacing it atomically.

    Args:
        path: The ``.npz`` file; its folder is created.
        arrays: Field name -> (num_frames, ...) array.
    """
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)

    def write(tmp: str) -> None:
        with open(tmp, 'wb') as f:
            np.savez(f, **arrays)

    atomic_write(path, write, overwrite=True)
