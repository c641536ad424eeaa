"""mmpose's top-down estimator for HDR's (possibly mirrored) hand crops."""
from typing import Callable, Optional

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import InstanceList, PixelDataList, SampleList
from torch import Tensor

from hdr_mm.structures import mirror_x


@MODELS.register_module()
class SingleHandPoseEstimator(TopdownPoseEstimator):
    """A :class:`~mmpose.models.TopdownPoseEstimator` whose input crops
    may be mirrored.

    HDR shows every later stage a right hand: a left hand's crop is
    mirrored left-right (``x -> W - 1 - x``, ``W`` the input width,
    :func:`hdr_mm.structures.mirror_x`) and
    its data sample's metainfo says ``mirrored=True``
    (``MirrorHandCrop`` for training, the HDR pipeline at inference).
    Before mmpose maps the predictions back to the image
    (``input_center`` / ``input_scale``), this class un-mirrors them:
    ``keypoints`` x in input pixels, and ``keypoints_3d`` x (camera frame)
    when the head predicts 3D. So any mmpose top-down hand model -- a
    DetNet-style 3D SHPE or a stock 2D RTMPose / heat-map model -- works
    as HDR's SHPE by setting its ``model.type`` to this class.

    Args: as :class:`~mmpose.models.TopdownPoseEstimator`.
    """

    def predict(self,
                inputs: Tensor,
                data_samples: SampleList,
                maps_network: Optional[Callable] = None) -> SampleList:
        """As mmpose's, or from maps another implementation computed.

        Args:
            inputs: (N, 3, H, W) normalised crops.
            data_samples: Their samples.
            maps_network: ``inputs -> maps`` computing what
                ``head.forward(extract_feat(inputs))`` computes (e.g. an
                onnxruntime runner, :mod:`hdr_mm.deploy`); the head reads
                them with its ``decode_maps``. None: this model.

        Returns:
            list[PoseDataSample]: the samples with ``pred_instances``.
        """
        if maps_network is None:
            return super().predict(inputs, data_samples)
        if not hasattr(self.head, 'decode_maps'):
            raise TypeError(
                f'{type(self.head).__name__} has no decode_maps: only heads '
                'that read maps computed elsewhere (DetNetHead) run with '
                'another backend')
        preds = self.head.decode_maps(maps_network(inputs), data_samples,
                                      self.test_cfg)
        return self.add_pred_to_datasample(preds, None, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances: InstanceList,
                               batch_pred_fields: Optional[PixelDataList],
                               batch_data_samples: SampleList) -> SampleList:
        """Un-mirror the predictions of mirrored crops, then as mmpose.

        Args:
            batch_pred_instances: The head's predictions, keypoints in
                input pixels.
            batch_pred_fields: The head's predicted fields, or None.
            batch_data_samples: The batch's samples (metainfo
                ``input_size`` and optionally ``mirrored``).

        Returns:
            list[PoseDataSample]: as the parent.
        """
        for pred, sample in zip(batch_pred_instances, batch_data_samples):
            if not sample.metainfo.get('mirrored', False):
                continue
            pred.keypoints = mirror_x(pred.keypoints,
                                      sample.metainfo['input_size'][0])
            if 'keypoints_3d' in pred:
                pred.keypoints_3d[..., 0] = -pred.keypoints_3d[..., 0]
        return super().add_pred_to_datasample(
            batch_pred_instances, batch_pred_fields, batch_data_samples)
