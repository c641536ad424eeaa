"""hdr_mm: HDR (ECCV 2022) interacting-hand pose estimation on OpenMMLab.

Importing the package registers every hdr_mm component into the mmpose
registries (scope ``mmpose``) and the HASM segmentor parts into mmseg's.
Configs load it with ``custom_imports=dict(imports=['hdr_mm'])``.
"""
from .utils.version_check import check_stack_versions
from .version import __version__

check_stack_versions()

from . import (apis, codecs, datasets, engine, evaluation,  # noqa: E402,F401
               models, structures, visualization)

__all__ = ['__version__']
