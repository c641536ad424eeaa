"""Loading an image file, refusing truncated ones.

mmcv's ``LoadImageFromFile`` and mmpose's ``LoadImage`` decode whatever
libjpeg returns: the missing part of a truncated JPEG comes out grey and
the only sign is a libjpeg warning without the file name. The configs use
:class:`LoadCheckedImage` instead, which checks that the file is complete
(:func:`~hdr_mm.datasets.image_io.check_complete`) and names it.
"""
import numpy as np
from mmengine.fileio import get
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS

from ..image_io import decode_image


@SEG_TRANSFORMS.register_module()
@TRANSFORMS.register_module()
class LoadCheckedImage(LoadImage):
    """mmpose's :class:`~mmpose.datasets.transforms.LoadImage` (an image
    file, or an array already in ``results['img']``) that refuses a
    truncated or undecodable file with an error naming it.

    Registered in the mmpose and mmseg scopes, so HASM's mmseg pipelines
    use it too.

    Required keys: ``img_path``, or ``img``.

    Added keys: ``img``, ``img_shape``, ``ori_shape`` (and ``img_path``
    as None for an array).

    Args:
        **kwargs: As :class:`~mmcv.transforms.LoadImageFromFile`
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``backend_args``).
    """

    def transform(self, results: dict) -> dict:
        """Load the image of ``results``.

        Args:
            results: The sample.

        Returns:
            dict: ``results`` with the image.

        Raises:
            FileNotFoundError: the file does not exist.
            IOError: the file is truncated or cannot be decoded.
        """
        if 'img' in results or self.file_client_args is not None:
            return super().transform(results)
        path = results['img_path']
        try:
            data = get(path, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'image file not found: {path}') from e
        img = decode_image(data, path, self.color_type,
                           self.imdecode_backend)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
