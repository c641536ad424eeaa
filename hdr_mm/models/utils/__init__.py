from .coordinate_channels import coordinate_channels
from .inference_prep import (compile_for_inference, fuse_conv_bn,
                             model_precision, prepare_for_inference,
                             skip_attention_weights, to_channels_last)
from .precision import (PRECISIONS, check_precision, cpu_bf16_isa,
                        fp32_region, inference_autocast, keep_fp32,
                        precision_dtype, to_fp32)
from .stage_entry import StageEntryMixin

__all__ = [
    'coordinate_channels', 'PRECISIONS', 'check_precision',
    'compile_for_inference', 'cpu_bf16_isa', 'fp32_region', 'fuse_conv_bn',
    'inference_autocast', 'keep_fp32', 'model_precision', 'precision_dtype',
    'prepare_for_inference', 'skip_attention_weights', 'to_channels_last',
    'to_fp32', 'StageEntryMixin'
]
