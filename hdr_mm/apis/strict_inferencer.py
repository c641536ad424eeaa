"""mmengine inferencers whose weights must fit their model exactly.

mmengine's ``BaseInferencer`` reads its ``weights`` and loads them
non-strictly: a checkpoint of another model loads without an error and
the inferencer runs with random weights (a detector then finds nothing,
or noise). :class:`StrictWeightsMixin` checks the checkpoint against the
model first (:func:`~hdr_mm.utils.model_weights.check_weights_fit`) and
refuses a mismatch with an error naming the file and a few keys. The
file itself is read by mmengine's loader, so the caller opens
:func:`~hdr_mm.utils.checkpoint_loading.checkpoint_loading` around the
construction (as :class:`~hdr_mm.apis.HDRInferencer` does) to read it
weights-only.
"""
from typing import Optional, Type

import torch.nn as nn
from mmdet.apis.det_inferencer import DetInferencer
from mmengine.infer.infer import ConfigType

from hdr_mm.utils.model_weights import (CheckpointMismatchError,
                                        check_weights_fit)


class StrictWeightsMixin:
    """For an mmengine ``BaseInferencer``: refuse weights that do not fit
    the model exactly.

    Attributes:
        weights_what (str): What the weights file is, in messages.
        weights_error (type): The error raised on a mismatch.
    """

    weights_what: str = 'checkpoint'
    weights_error: Type[CheckpointMismatchError] = CheckpointMismatchError

    def _init_model(self,
                    cfg: ConfigType,
                    weights: Optional[str],
                    device: str = 'cpu') -> nn.Module:
        """As mmengine's, remembering the weights file for messages.

        Args:
            cfg: The model's config.
            weights: The checkpoint file, or None.
            device: Torch device.

        Returns:
            nn.Module: the model, in eval mode, with the weights.
        """
        self._weights_file = weights
        return super()._init_model(cfg, weights, device)

    def _load_weights_to_model(self, model: nn.Module,
                               checkpoint: Optional[dict],
                               cfg: Optional[ConfigType]) -> None:
        """Check that ``checkpoint`` fits ``model``, then load it as the
        inferencer does (with its meta data).

        Args:
            model: The model built from ``cfg``.
            checkpoint: What the weights file holds, or None.
            cfg: The model's config (its ``filename`` names it in
                messages).

        Raises:
            CheckpointMismatchError: keys are missing or unexpected, or
                shapes differ (naming the file and the keys).
        """
        if checkpoint is not None:
            where = getattr(cfg, 'filename', None)
            check_weights_fit(model, checkpoint, self._weights_file,
                              self.weights_what,
                              f'the model of {where}' if where else None,
                              self.weights_error)
        super()._load_weights_to_model(model, checkpoint, cfg)


class HandDetInferencer(StrictWeightsMixin, DetInferencer):
    """mmdet's ``DetInferencer`` with its checkpoint loaded strictly: the
    hand detector of :class:`~hdr_mm.apis.HDRInferencer`."""

    weights_what = 'detector checkpoint'
