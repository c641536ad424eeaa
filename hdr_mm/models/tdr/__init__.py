"""TDR: transformer de-occlusion and removal (docs/method.md sections 2-3)."""
from .composition import (build_tdr_inputs, check_hand_masks, compose,
                          confine_hidden_to_occluder, dilate,
                          elliptical_kernel)
from .data_preprocessor import TDRDataPreprocessor
from .discriminator import InpaintDiscriminator
from .losses import (MaskedL1Loss, NSGANLoss, PerceptualStyleLoss,
                     TotalVariationLoss, VGG16Features, gram_matrix)
from .partial_conv import PartialConv2d, PartialConvBlock
from .pconv_unet import PAPER_TRANSFORMERS, PConvUNet
from .pvt_block import PVTStage
from .tdr import TDR

__all__ = [
    'build_tdr_inputs', 'check_hand_masks', 'compose',
    'confine_hidden_to_occluder', 'dilate',
    'elliptical_kernel', 'TDRDataPreprocessor', 'InpaintDiscriminator',
    'MaskedL1Loss', 'NSGANLoss', 'PerceptualStyleLoss', 'TotalVariationLoss',
    'VGG16Features', 'gram_matrix', 'PartialConv2d', 'PartialConvBlock',
    'PAPER_TRANSFORMERS', 'PConvUNet', 'PVTStage', 'TDR'
]
