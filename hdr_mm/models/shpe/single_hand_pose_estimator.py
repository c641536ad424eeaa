"""mmpose's top-down estimator for HDR's (possibly mirrored) hand crops."""
from typing import Callable, List, Optional, Union

import numpy as np
import torch
from mmengine.structures import InstanceData
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from mmpose.utils.typing import InstanceList, PixelDataList, SampleList
from torch import Tensor

from hdr_mm.structures import mirror_x
from ..utils import StageEntryMixin


@MODELS.register_module()
class SingleHandPoseEstimator(StageEntryMixin, TopdownPoseEstimator):
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

    Its inference entry for the HDR pipeline is :meth:`estimate_joints`
    (hand crops in, joints in image pixels out); the scale of the 3D
    joints is its test-time option (:meth:`set_bone_length`).

    Args: as :class:`~mmpose.models.TopdownPoseEstimator`.
    """

    stage = 'shpe'

    @property
    def fp32_submodules(self) -> tuple:
        """The parts kept float32 in bf16 inference
        (:func:`~hdr_mm.models.utils.precision.mark_fp32_submodules`):
        a head that names its own read-out layers (DetNetHead) keeps
        those; a stock mmpose head (HeatmapHead, RTMCCHead, ...) names
        none and decodes its outputs with numpy, which has no bfloat16,
        so the whole head stays float32."""
        return () if hasattr(self.head, 'fp32_submodules') else ('head', )

    def set_bone_length(self,
                        bone_length: Union[str, float] = 'gt',
                        bone_length_mm: Optional[float] = None) -> None:
        """Choose how the scale-free 3D joints get their size in mm (the
        ``test_cfg`` of :class:`~hdr_mm.models.shpe.DetNetHead`; a 2D head
        ignores it).

        Args:
            bone_length: ``'gt'``: each hand's wrist-to-middle-MCP length
                given to :meth:`estimate_joints` (``bone_lengths``),
                ``bone_length_mm`` where it is unknown; a number: that
                length (mm) for every hand.
            bone_length_mm: The fallback length (mm); None keeps the
                current one.

        Raises:
            ValueError: ``bone_length`` is neither ``'gt'`` nor a number.
        """
        if bone_length != 'gt' and not isinstance(bone_length,
                                                  (int, float)):
            raise ValueError("bone_length must be 'gt' or a number of mm, "
                             f'got {bone_length!r}')
        self.test_cfg['bone_length'] = bone_length
        if bone_length_mm is not None:
            self.test_cfg['bone_length_mm'] = float(bone_length_mm)

    @torch.no_grad()
    def estimate_joints(self,
                        images: Tensor,
                        centers: Tensor,
                        sides: Tensor,
                        mirrored: Tensor,
                        bone_lengths: Optional[np.ndarray] = None,
                        network: Optional[Callable] = None
                        ) -> List[InstanceData]:
        """The joints of a batch of square hand crops, in image pixels.

        The tensor-level inference of SHPE for callers that hold crop
        batches (the HDR pipeline): normalise with the model's own data
        preprocessor, run the network, read the joints out, un-mirror
        them and map them back to the image, as any mmpose top-down model.

        Args:
            images: (M, 3, s, s) float 0-255 crops in the channel order
                the model was trained on (BGR for the configs here), each
                showing a right hand (a left hand mirrored).
            centers: (M, 2) each crop's centre in image pixels.
            sides: (M,) each crop's side in image pixels.
            mirrored: (M,) bool, the crop was mirrored left-right.
            bone_lengths: (M,) each hand's wrist-to-middle-MCP length in
                mm, read with ``bone_length='gt'``
                (:meth:`set_bone_length`); 0 where unknown. None: unknown
                for every hand.
            network: ``inputs -> maps`` computing what
                ``head.forward(extract_feat(inputs))`` computes (e.g. an
                onnxruntime runner, :mod:`hdr_mm.deploy`), read by the
                head's ``decode_maps``; None runs this model.

        Returns:
            list[InstanceData]: per crop ``keypoints`` (1, K, 2) in image
            pixels, ``keypoint_scores`` (1, K) and, for a 3D head,
            ``keypoints_3d`` (1, K, 3) root-relative (mm, camera axes),
            joints in the model's order.

        Raises:
            ValueError: a ``network`` for a head that cannot read maps
                computed elsewhere.
        """
        samples = self._crop_samples(images.shape[-1], centers, sides,
                                     mirrored, bone_lengths)
        inputs = self.data_preprocessor(
            dict(inputs=images, data_samples=samples), False)['inputs']
        if network is None:
            out = self.predict(inputs, samples)
        else:
            self.check_exportable()
            out = self.add_pred_to_datasample(
                self.head.decode_maps(network(inputs), samples,
                                      self.test_cfg), None, samples)
        return [s.pred_instances for s in out]

    @staticmethod
    def _crop_samples(size: int, centers: Tensor, sides: Tensor,
                      mirrored: Tensor,
                      bone_lengths: Optional[np.ndarray]) -> SampleList:
        """One mmpose top-down sample per crop (see
        :meth:`estimate_joints` for the arguments), so that mmpose maps the
        results back to image pixels."""
        centers = centers.cpu().numpy()
        sides = sides.cpu().numpy()
        mirrored = mirrored.cpu().numpy()
        bones = np.zeros(len(sides), np.float32) if bone_lengths is None \
            else np.asarray(bone_lengths, np.float32)
        samples = []
        for r in range(len(sides)):
            scale = np.array([sides[r], sides[r]], np.float32)
            s = PoseDataSample(metainfo=dict(
                input_size=(size, size),
                input_center=centers[r],
                input_scale=scale,
                mirrored=bool(mirrored[r])))
            s.gt_instances = InstanceData(
                bboxes=np.concatenate([centers[r] - scale / 2,
                                       centers[r] + scale / 2])[None],
                bbox_scores=np.ones(1, np.float32))
            s.gt_instance_labels = InstanceData(
                ref_bone_length=torch.from_numpy(bones[r:r + 1]))
            samples.append(s)
        return samples

    def check_exportable(self) -> None:
        """Refuse a network computed elsewhere for a head that cannot read
        its maps (only ``decode_maps`` heads, e.g. DetNetHead, can).

        Raises:
            ValueError: the head has no ``decode_maps``.
        """
        if not hasattr(self.head, 'decode_maps'):
            raise ValueError(
                f'the SHPE head {type(self.head).__name__} cannot read maps '
                'computed elsewhere (no decode_maps): only the pytorch '
                'backend runs this SHPE')

    def export_onnx(self, onnx_file: str, input_size: int) -> str:
        """Export the network :meth:`estimate_joints` runs (refused for a
        head without ``decode_maps``); see
        :meth:`~hdr_mm.models.utils.StageEntryMixin.export_onnx`.

        Args:
            onnx_file: The ``.onnx`` file.
            input_size: Side S of the square input.

        Returns:
            str: ``onnx_file``.
        """
        self.check_exportable()
        return super().export_onnx(onnx_file, input_size)

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
