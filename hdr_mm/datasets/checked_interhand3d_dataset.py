"""mmpose's InterHand3DDataset with errors that name the annotation file.

The HDR pipeline configs evaluate on InterHand2.6M-format frames through
mmpose's :class:`~mmpose.datasets.InterHand3DDataset`, which reports a
missing camera or joint file as a bare ``AssertionError`` and a truncated
json as a bare ``JSONDecodeError``. :class:`CheckedInterHand3DDataset`
behaves the same otherwise.
"""
import os.path as osp
from typing import List, Tuple

from mmpose.datasets import InterHand3DDataset
from mmpose.registry import DATASETS

from .annotation_files import naming_invalid_json


@DATASETS.register_module()
class CheckedInterHand3DDataset(InterHand3DDataset):
    """:class:`~mmpose.datasets.InterHand3DDataset` whose annotation-file
    errors name the file.

    Args:
        ann_file: The ``*_data.json`` (COCO format), relative to
            ``data_root`` unless absolute.
        camera_param_file: The ``*_camera.json``.
        joint_file: The ``*_joint_3d.json``.
        data_root: Root of the three files and of ``data_prefix``.
        **kwargs: As :class:`~mmpose.datasets.InterHand3DDataset`.

    Raises:
        FileNotFoundError: one of the three files does not exist (named).
        AnnotationFileError: one of them is not valid json (named).
    """

    def __init__(self,
                 ann_file: str = '',
                 camera_param_file: str = '',
                 joint_file: str = '',
                 data_root: str = '',
                 **kwargs) -> None:
        for what, name in (('annotation', ann_file),
                           ('camera parameter', camera_param_file),
                           ('joint', joint_file)):
            path = name if osp.isabs(name) else osp.join(
                data_root or '', name)
            if not name or not osp.isfile(path):
                raise FileNotFoundError(
                    f'{type(self).__name__}: {what} file not found: '
                    f'{path!r}')
        super().__init__(
            ann_file=ann_file,
            camera_param_file=camera_param_file,
            joint_file=joint_file,
            data_root=data_root,
            **kwargs)

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        """mmpose's loading, with json errors naming the file."""
        files = [self.ann_file, self.camera_param_file, self.joint_file]
        with naming_invalid_json(files):
            return super()._load_annotations()
