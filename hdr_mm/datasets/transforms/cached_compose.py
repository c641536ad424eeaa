"""A pipeline segment whose outputs are kept in memory per input.

Small datasets trained for many epochs (the main job's generated set:
1600 frames, several epochs per stage) decode the same PNGs and warp
the same crops again in every epoch; on 2 CPU cores that is a third of
TDR's training time. Neither mmcv nor mmengine caches a pipeline's
results (mmcv's ``cache_randomness`` caches random *parameters*, mmengine's
``serialize_data`` the annotations), so :class:`CachedCompose` wraps the
deterministic head of a pipeline and keeps each output, keyed by a digest
of the input, and the random tail (crops, jitter) still runs every time::

    train_pipeline = [
        dict(type='CachedCompose', transforms=[
            dict(type='LoadCheckedImage'),
            dict(type='GetBBoxCenterScale', padding=1.5),
        ]),
        dict(type='RandomBBoxTransform', ...),
        ...
    ]

The cache lives in the process that runs the pipeline: with
``num_workers=0`` (the small configs) for the whole training, with workers
only as long as they persist (``persistent_workers=True``).
"""
import copy
import hashlib
import pickle
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose
from mmengine.logging import print_log
from mmpose.registry import TRANSFORMS
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS


def nbytes(obj: Any) -> int:
    """The bytes of the arrays and tensors in ``obj`` (dicts, lists and
    tuples are searched; other objects count 0)."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, torch.Tensor):
        return obj.element_size() * obj.nelement()
    if isinstance(obj, dict):
        return sum(nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(nbytes(v) for v in obj)
    return 0


def first_difference(a: Any, b: Any, where: str = 'results') -> Optional[str]:
    """Where two pipeline outputs differ, or None when they are equal.

    Arrays and tensors compare by shape, dtype and values (NaN equal to
    NaN), dicts by keys and values, lists and tuples item by item, other
    objects by ``==``.

    Args:
        a: One output.
        b: The other.
        where: The path of ``a`` in the output, for the message.

    Returns:
        str or None: e.g. ``"results['img'] (values differ)"``.
    """
    if type(a) is not type(b):
        return f'{where} ({type(a).__name__} vs {type(b).__name__})'
    if isinstance(a, (np.ndarray, torch.Tensor)):
        a_np = a.numpy() if isinstance(a, torch.Tensor) else a
        b_np = b.numpy() if isinstance(b, torch.Tensor) else b
        if a_np.shape != b_np.shape or a_np.dtype != b_np.dtype:
            return f'{where} (shape or dtype differs)'
        if not np.array_equal(a_np, b_np,
                              equal_nan=a_np.dtype.kind in 'fc'):
            return f'{where} (values differ)'
        return None
    if isinstance(a, dict):
        if list(a) != list(b):
            return f'{where} (keys differ)'
        for k in a:
            diff = first_difference(a[k], b[k], f'{where}[{k!r}]')
            if diff:
                return diff
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f'{where} (lengths differ)'
        for i, (x, y) in enumerate(zip(a, b)):
            diff = first_difference(x, y, f'{where}[{i}]')
            if diff:
                return diff
        return None
    return None if a == b else f'{where} (values differ)'


@SEG_TRANSFORMS.register_module()
@TRANSFORMS.register_module()
class CachedCompose(BaseTransform):
    """Run ``transforms`` once per distinct input and replay the output.

    The key is a BLAKE2 digest of the pickled input dict, so two samples
    share an entry only when everything the transforms could read is
    equal. Every hit returns a fresh copy, so the random transforms after
    this one may change it in place. The wrapped transforms must be
    deterministic (loading, fixed boxes and warps, mask algebra: no random
    flip, crop or jitter): the first input is run twice and a difference
    is an error naming the transforms and the key that differs.

    Keys in ``pass_keys`` go around the cached transforms: they are
    neither keyed nor copied, the transforms do not see them, and the
    output gets the input's objects back. mmpose's datasets put
    themselves in every training sample (``results['dataset']``, for the
    mixing transforms), which would otherwise be pickled and copied with
    each sample.

    Registered in the mmpose and mmseg scopes.

    Args:
        transforms: The deterministic transforms (configs or objects).
        max_bytes: Stop adding entries once the cached arrays and tensors
            reach this many bytes (later inputs are then transformed every
            time; the log says when). Default 2 GiB.
        pass_keys: Result keys passed around the transforms by reference.
            Default ``('dataset', )``.
    """

    def __init__(self,
                 transforms: Sequence[Union[dict, BaseTransform]],
                 max_bytes: int = 2 << 30,
                 pass_keys: Sequence[str] = ('dataset', )) -> None:
        if not transforms:
            raise ValueError('CachedCompose: transforms is empty')
        if max_bytes <= 0:
            raise ValueError(
                f'CachedCompose: max_bytes must be > 0, got {max_bytes}')
        self.compose = Compose(list(transforms))
        self.max_bytes = int(max_bytes)
        self.pass_keys = tuple(pass_keys)
        self._cache: Dict[bytes, bytes] = {}
        self._bytes = 0
        self._checked = False
        self._full_logged = False

    @property
    def cached_bytes(self) -> int:
        """Bytes of arrays and tensors held."""
        return self._bytes

    def __len__(self) -> int:
        """Number of cached outputs."""
        return len(self._cache)

    def _key(self, results: dict) -> bytes:
        """The digest of the input."""
        try:
            data = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            raise TypeError(
                'CachedCompose: the input of the cached transforms must be '
                f'picklable to be keyed (keys {sorted(results)}): {e}') from e
        return hashlib.blake2b(data, digest_size=20).digest()

    def _run(self, results: dict) -> Optional[dict]:
        """Run the transforms, the first time twice to check that they
        are deterministic."""
        if self._checked:
            return self.compose(results)
        again = self.compose(copy.deepcopy(results))
        out = self.compose(results)
        diff = first_difference(out, again)
        if diff:
            raise ValueError(
                f'CachedCompose: the transforms {self.compose.transforms} '
                f'gave two different outputs for the same input: {diff}. '
                'Only deterministic transforms can be cached; move random '
                'ones after CachedCompose')
        self._checked = True
        return out

    def transform(self, results: dict) -> Optional[dict]:
        """The wrapped transforms' output for ``results``.

        Args:
            results: The sample.

        Returns:
            dict or None: what the transforms return (a copy of it on a
            cache hit).
        """
        passed = {k: results.pop(k) for k in self.pass_keys if k in results}
        key = self._key(results)
        if key in self._cache:
            out = pickle.loads(self._cache[key])
        else:
            out = self._store(key, self._run(results))
        if out is not None:
            out.update(passed)
        return out

    def _store(self, key: bytes, out: Optional[dict]) -> Optional[dict]:
        """Keep a copy of ``out`` while there is room; returns ``out``.

        The copy is kept pickled: a hit unpickles it, which gives the same
        objects as a deep copy in a third of the time (nested annotation
        lists dominate a deep copy's cost).

        Raises:
            TypeError: ``out`` cannot be pickled.
        """
        size = nbytes(out)
        if self._bytes + size <= self.max_bytes:
            try:
                self._cache[key] = pickle.dumps(
                    out, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError) as e:
                raise TypeError(
                    'CachedCompose: the output of the cached transforms '
                    f'must be picklable to be kept ({type(out).__name__}): '
                    f'{e}') from e
            self._bytes += size
        elif not self._full_logged:
            self._full_logged = True
            print_log(
                f'CachedCompose: cache full at {len(self._cache)} outputs '
                f'({self._bytes / 2**20:.0f} MiB of max_bytes '
                f'{self.max_bytes / 2**20:.0f} MiB); further inputs are '
                'transformed every time',
                logger='current')
        return out

    def __repr__(self) -> str:
        names: List[str] = [repr(t) for t in self.compose.transforms]
        return (f'{self.__class__.__name__}(transforms={names}, '
                f'max_bytes={self.max_bytes}, pass_keys={self.pass_keys})')
