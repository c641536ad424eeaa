"""What the HDR pipeline feeds its SHPE stage."""
from typing import Optional

#: what SHPE can be fed: TDR's output, the raw hand crops, or each hand
#: rendered alone (the ground truth; a perfect TDR)
SHPE_INPUTS = ('tdr', 'crop', 'gt_alone')


def resolve_shpe_input(shpe_input: str = 'tdr',
                       use_tdr: Optional[bool] = None) -> str:
    """The SHPE input from ``shpe_input`` and its older alias
    ``use_tdr``.

    Args:
        shpe_input: One of :data:`SHPE_INPUTS`.
        use_tdr: None (not given), True (``'tdr'``) or False
            (``'crop'``). False together with the default ``'tdr'`` means
            ``'crop'``.

    Returns:
        str: the resolved value.

    Raises:
        ValueError: an unknown value, or ``use_tdr`` contradicting
            ``shpe_input``.
    """
    if shpe_input not in SHPE_INPUTS:
        raise ValueError(f'HDRPoseEstimator: shpe_input must be one of '
                         f'{SHPE_INPUTS}, got {shpe_input!r}')
    if use_tdr is None:
        return shpe_input
    if use_tdr and shpe_input != 'tdr' or \
            not use_tdr and shpe_input == 'gt_alone':
        raise ValueError(
            f'HDRPoseEstimator: use_tdr={use_tdr} contradicts shpe_input='
            f'{shpe_input!r}; use_tdr is an alias (True: shpe_input=\'tdr\','
            " False: shpe_input='crop'): set only shpe_input")
    return 'tdr' if use_tdr else 'crop'
