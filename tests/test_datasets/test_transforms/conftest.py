"""Samples shared by the tests of the AIH transforms."""
import numpy as np
import pytest


@pytest.fixture
def aih_strip():
    """Factory of a 1 x 6 AIH sample: the right hand covers columns 0-3,
    the left hand 2-5 and is in front at 2-3, so the right hand is hidden
    at 2-3.

    Returns:
        Callable[[str, bool], dict]: ``(hand_type='right', flip=False) ->
        results`` with ``img``, ``gt_img``, ``r_amodal``, ``l_amodal``,
        ``rl_visible``, ``hand_type`` and ``flip``.
    """

    def make(hand_type: str = 'right', flip: bool = False) -> dict:
        r_amodal = np.array([[1, 1, 1, 1, 0, 0]], np.uint8)
        l_amodal = np.array([[0, 0, 1, 1, 1, 1]], np.uint8)
        rl_visible = np.array([[1, 1, 2, 2, 2, 2]], np.uint8)
        img = np.arange(18, dtype=np.uint8).reshape(1, 6, 3)
        return dict(img=img, gt_img=img + 100, r_amodal=r_amodal,
                    l_amodal=l_amodal, rl_visible=rl_visible,
                    hand_type=hand_type, flip=flip)

    return make
