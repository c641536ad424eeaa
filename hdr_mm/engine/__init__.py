from . import hooks, optim_wrappers  # noqa: F401
from .runner import HDRRunner

__all__ = ['HDRRunner']
