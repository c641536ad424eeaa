"""Training helpers of the stock SHPE project (loaded by its configs
through ``custom_imports``)."""
from .channels_last_hook import ChannelsLastHook

__all__ = ['ChannelsLastHook']
