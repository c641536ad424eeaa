"""Mirror left-hand crops so that the SHPE always sees a right hand, with
the 3D joints in the frame of the crop."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import get_warp_matrix

from hdr_mm.structures import mirror_x, rotate_about_root_ray


@TRANSFORMS.register_module()
class MirrorHandCrop(BaseTransform):
    """Mirror a hand crop left-right when ``results['mirrored']`` is True.

    Use after ``TopdownAffine`` and before ``GenerateTarget`` with
    ``DetNetHandCodec``. It always writes ``keypoints_3d``, the 3D joints in
    the frame of the (possibly rotated and mirrored) crop, which the codec
    encodes:

    - ``img`` (H, W, C): flipped along W,
    - ``transformed_keypoints`` (N, K, 2): ``x -> W - 1 - x``
      (:func:`hdr_mm.structures.mirror_x`),
    - ``keypoints_3d`` (N, K, 3): ``keypoints_cam``, turned about the
      camera ray through the wrist (``root_cam``) by the crop's in-plane
      rotation when ``RandomBBoxTransform`` rotated it
      (:func:`hdr_mm.structures.rotate_about_root_ray`; the angle is read
      from the warp ``TopdownAffine`` applied), then x negated when
      mirrored.

    ``keypoints`` and ``keypoints_cam`` stay in the original image and
    camera frames (they are the ground truth the metric compares with);
    ``DetNetHead.predict`` mirrors its predictions back.

    Required keys: img, transformed_keypoints, keypoints_cam, input_size.
    Optional keys: mirrored (default False); bbox_rotation (degrees, as
    ``RandomBBoxTransform`` writes it) with input_center, input_scale and
    root_cam ((N, 3) the wrist in the camera frame) when it is not 0.
    """

    def transform(self, results: dict) -> dict:
        for key in ('img', 'transformed_keypoints', 'keypoints_cam'):
            if key not in results:
                raise KeyError(f'MirrorHandCrop needs {key!r} in the results'
                               ' (run it after TopdownAffine on a '
                               'SingleHand3DDataset sample)')
        k3d = np.array(results['keypoints_cam'], dtype=np.float32, copy=True)
        angle = self._crop_rotation(results)
        if angle != 0.0:
            k3d = self._rotate(k3d, angle, results)
        if results.get('mirrored', False):
            img = results['img']
            results['img'] = np.ascontiguousarray(img[:, ::-1])
            results['transformed_keypoints'] = mirror_x(
                results['transformed_keypoints'], img.shape[1])
            k3d[..., 0] = -k3d[..., 0]
        results['keypoints_3d'] = k3d
        return results

    @staticmethod
    def _crop_rotation(results: dict) -> float:
        """Radians the crop's warp turned the image by (0 if not rotated)."""
        rot = results.get('bbox_rotation')
        if rot is None or not np.any(np.asarray(rot) != 0):
            return 0.0
        for key in ('input_center', 'input_scale', 'input_size'):
            if key not in results:
                raise KeyError(f'MirrorHandCrop: a rotated crop needs '
                               f'{key!r} (run it after TopdownAffine)')
        warp = get_warp_matrix(
            np.asarray(results['input_center'], np.float32),
            np.asarray(results['input_scale'], np.float32),
            float(np.asarray(rot).reshape(-1)[0]),
            output_size=tuple(results['input_size']))
        return float(np.arctan2(warp[1, 0], warp[0, 0]))

    @staticmethod
    def _rotate(k3d: np.ndarray, angle: float, results: dict) -> np.ndarray:
        """Root-relative joints (N, K, 3) turned about the wrist's ray."""
        if 'root_cam' not in results:
            raise KeyError(
                "MirrorHandCrop: a rotated crop needs 'root_cam' (the "
                'wrist in the camera frame, which SingleHand3DDataset '
                'gives) to turn the 3D joints with the pixels')
        root = np.asarray(results['root_cam'], np.float32).reshape(-1, 1, 3)
        absolute = np.concatenate([root, k3d + root], axis=1)
        turned = rotate_about_root_ray(absolute, angle, root_index=0)
        return turned[:, 1:] - turned[:, :1]
