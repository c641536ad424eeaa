from . import transforms  # noqa: F401
from .aih_dataset import AIHDataset

__all__ = ['AIHDataset']
