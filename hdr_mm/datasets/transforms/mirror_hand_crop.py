"""Mirror left-hand crops so that the SHPE always sees a right hand."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from hdr_mm.structures import mirror_x


@TRANSFORMS.register_module()
class MirrorHandCrop(BaseTransform):
    """Mirror a hand crop left-right when ``results['mirrored']`` is True.

    Use after ``TopdownAffine`` and before ``GenerateTarget`` with
    ``DetNetHandCodec``. It always writes ``keypoints_3d``, the 3D joints in
    the frame of the (possibly mirrored) crop, which the codec encodes:

    - ``img`` (H, W, C): flipped along W,
    - ``transformed_keypoints`` (N, K, 2): ``x -> W - 1 - x``
      (:func:`hdr_mm.structures.mirror_x`),
    - ``keypoints_3d`` (N, K, 3): ``keypoints_cam`` with x negated when
      mirrored, a copy otherwise.

    ``keypoints`` and ``keypoints_cam`` stay in the original image and
    camera frames (they are the ground truth the metric compares with);
    ``DetNetHead.predict`` mirrors its predictions back.

    Required keys: img, transformed_keypoints, keypoints_cam, input_size.
    Optional key: mirrored (default False).
    """

    def transform(self, results: dict) -> dict:
        for key in ('img', 'transformed_keypoints', 'keypoints_cam'):
            if key not in results:
                raise KeyError(f'MirrorHandCrop needs {key!r} in the results'
                               ' (run it after TopdownAffine on a '
                               'SingleHand3DDataset sample)')
        k3d = np.array(results['keypoints_cam'], dtype=np.float32, copy=True)
        if results.get('mirrored', False):
            img = results['img']
            results['img'] = np.ascontiguousarray(img[:, ::-1])
            results['transformed_keypoints'] = mirror_x(
                results['transformed_keypoints'], img.shape[1])
            k3d[..., 0] = -k3d[..., 0]
        results['keypoints_3d'] = k3d
        return results
