"""Train in the ``channels_last`` memory format."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmpose.registry import HOOKS


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Convert the model's 4D parameters and buffers to ``channels_last``
    before training (and before validation/testing runs alone).

    oneDNN's convolutions on CPU are fastest in NHWC; a convolution
    whose weight is channels-last gives a channels-last output, so the
    activations follow without converting the inputs. Parameters are
    converted in place (``param.data``), so an optimiser built before
    keeps working. Whether it pays depends on the network: measure with
    ``tools/analysis_tools/train_step_probe.py``.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _convert(runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        model.to(memory_format=torch.channels_last)

    def before_train(self, runner) -> None:
        self._convert(runner)

    def before_val(self, runner) -> None:
        self._convert(runner)

    def before_test(self, runner) -> None:
        self._convert(runner)
