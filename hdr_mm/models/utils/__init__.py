from .coordinate_channels import coordinate_channels

__all__ = ['coordinate_channels']
