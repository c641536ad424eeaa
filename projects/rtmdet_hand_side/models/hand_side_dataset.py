"""mmdet dataset of the generated hands: one box per hand, class = side."""
import os.path as osp
from typing import Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from hdr_mm.datasets.synthetic.coco_detection import (coco_det_file,
                                                      ensure_coco_det)


@DATASETS.register_module()
class SyntheticHandSideDataset(CocoDataset):
    """A split of a generated dataset as COCO detection, right/left.

    The COCO json is made from the generated annotations and masks on
    first use (``hdr_mm.datasets.synthetic.coco_detection``, also
    ``tools/dataset_converters/synthetic_hands_to_coco.py``) and stored at
    ``<data_root>/coco_det/<split>_<box>.json``, so that ``CocoMetric``
    can read the same file as ``ann_file``. A lazily built dataset
    (``lazy_init=True``, as mmdet's ``init_detector`` builds it for its
    class names) needs no data.

    Args:
        data_root: Generated dataset folder.
        split: ``'train'``, ``'val'`` or ``'test'``.
        box: Box source of each hand: ``'visible'`` (default),
            ``'amodal'`` or ``'joints'``.
        single_class: One class ``hand`` instead of ``right``/``left``.
        **kwargs: Other :class:`mmdet.datasets.CocoDataset` arguments
            (``pipeline``, ``test_mode``, ``filter_cfg`` ...);
            ``ann_file`` and ``data_prefix`` are set from the split.
    """

    METAINFO = dict(
        classes=('right', 'left'),
        # RGB colours of mmdet's visualiser: right red, left blue
        palette=[(220, 20, 60), (0, 110, 255)])

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 box: str = 'visible',
                 single_class: bool = False,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        for key in ('ann_file', 'data_prefix'):
            if key in kwargs:
                raise ValueError(f'SyntheticHandSideDataset sets {key} from '
                                 '`split`; do not pass it')
        if not kwargs.get('lazy_init', False):
            # mmdet's init_detector builds the test dataset lazily for its
            # metainfo only: no data needed then
            ensure_coco_det(data_root, (split, ), box, single_class)
        ann_file = osp.relpath(
            coco_det_file(data_root, split, box, single_class), data_root)
        if single_class and metainfo is None:
            metainfo = dict(classes=('hand', ), palette=[(220, 20, 60)])
        self.split = split
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            data_prefix=dict(img=f'interhand2.6m/images/{split}/'),
            metainfo=metainfo,
            **kwargs)
