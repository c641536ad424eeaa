"""Run a convolutional network in the channels-last memory format."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Store the model's 4D weights channels-last (NHWC) before running.

    On CPUs, convolutions with few channels (RTMPose-t's CSPNeXt has 12 to
    384) are several times faster in NHWC than in PyTorch's default NCHW
    (measured here: a training step of RTMPose-t on 32 crops of 128x128,
    about 3x). A convolution whose weight is channels-last produces a
    channels-last output from an NCHW input, so converting the weights is
    enough; the numbers are the same up to float rounding, and checkpoints
    are unchanged (a state dict does not record the memory format).
    """

    # after EMAHook (49), which swaps the averaged weights in at the start
    # of validation and testing: those are then converted too
    priority = 'LOW'

    @staticmethod
    def _convert(runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        model.to(memory_format=torch.channels_last)

    def before_train(self, runner) -> None:
        """Convert before the first training iteration."""
        self._convert(runner)

    def before_val_epoch(self, runner) -> None:
        """Convert the weights validation runs with."""
        self._convert(runner)

    def before_test_epoch(self, runner) -> None:
        """Convert the weights testing runs with."""
        self._convert(runner)
