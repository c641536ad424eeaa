"""HDR's learned stages, one sub-package each.

- ``hasm``: amodal/visible hand segmentation (SegFormer, mmseg).
- ``tdr``: transformer de-occlusion and removal (partial-conv U-Net + GAN).
- ``shpe``: single-hand 3D pose estimation (DetNet-style, mmpose).
- ``hdr``: the top-level model that chains the three.
"""
from . import hasm, hdr, shpe, tdr  # noqa: F401
