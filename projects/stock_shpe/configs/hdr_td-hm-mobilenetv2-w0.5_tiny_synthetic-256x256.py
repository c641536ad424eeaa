# HDR with a stock mmpose top-down heat-map hand model (MobileNetV2 +
# HeatmapHead, this project's td-hm_mobilenetv2-w0.5 config) as its SHPE;
# everything else as hdr_rtmpose-t_tiny_synthetic-256x256.py (2D outputs,
# 2D metric).
#
#   python tools/test.py projects/stock_shpe/configs/\
#       hdr_td-hm-mobilenetv2-w0.5_tiny_synthetic-256x256.py hdr_mbv2.pth
#   # "SHPE alone" on the same crops:  --cfg-options model.use_tdr=False
_base_ = ['./hdr_rtmpose-t_tiny_synthetic-256x256.py']

shpe_config = ('projects/stock_shpe/configs/'
               'td-hm_mobilenetv2-w0.5_1xb32-30e_synthetic-hands-128x128.py')
model = dict(shpe=dict(config=shpe_config))
