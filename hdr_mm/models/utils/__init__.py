from .coordinate_channels import coordinate_channels
from .precision import (PRECISIONS, check_precision, compile_for_inference,
                        cpu_bf16_isa, fp32_region, fuse_conv_bn,
                        inference_autocast, keep_fp32, model_precision,
                        precision_dtype, prepare_for_inference,
                        skip_attention_weights, to_channels_last,
                        to_fp32)

__all__ = [
    'coordinate_channels', 'PRECISIONS', 'check_precision',
    'compile_for_inference', 'cpu_bf16_isa', 'fp32_region', 'fuse_conv_bn',
    'inference_autocast', 'keep_fp32', 'model_precision', 'precision_dtype',
    'prepare_for_inference', 'skip_attention_weights', 'to_channels_last',
    'to_fp32'
]
