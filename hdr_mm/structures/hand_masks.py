"""Hand masks: their names and the algebra that turns HASM's four masks
into TDR's inputs.

HASM predicts four binary masks of the two-hand crop, named
:data:`HAND_MASK_NAMES`: the amodal mask of a hand covers all of it,
hidden parts included; its visible mask the pixels where it is seen.
For one target hand ``t`` and the other hand ``o``, all masks binary and
in the target's crop (docs/method.md, "TDR's masks"):

- hidden part of the target:     ``H_t = A_t * (1 - V_t)``, ``K_t = 1 - H_t``
- other hand, to be removed:     ``H_o = (1 - A_t) * A_o``,  ``K_o = 1 - H_o``
- modal channel of the target:   ``M_t = V_t``
- modal channel of the other:    ``M_o = (1 - A_t) * (1 - A_o)``
- region TDR repaints:           ``R = 1 - K_t * K_o``

The functions only use ``*`` and ``-``, so they serve numpy arrays (data
transforms) and torch tensors (batched model code) alike, of any shape
as long as the four inputs broadcast.
"""
from typing import Dict, Sequence, Tuple, TypeVar

import numpy as np

Array = TypeVar('Array')

#: HASM's masks, in the order of its decode head's branches
HAND_MASK_NAMES: Tuple[str, ...] = ('l_amodal', 'l_visible', 'r_amodal',
                                    'r_visible')

#: the HASM masks each target hand needs, in TDR's order
#: ``[A_t, V_t, A_o, V_o]``
TDR_MASK_NAMES: Dict[str, Tuple[str, ...]] = {
    'right': ('r_amodal', 'r_visible', 'l_amodal', 'l_visible'),
    'left': ('l_amodal', 'l_visible', 'r_amodal', 'r_visible'),
}


def tdr_masks(amodal_t: Array, visible_t: Array, amodal_o: Array,
              visible_o: Array) -> Dict[str, Array]:
    """Compute every TDR mask from the amodal/visible masks of two hands.

    Args:
        amodal_t: Amodal mask of the target hand, values in {0, 1}.
        visible_t: Visible mask of the target hand.
        amodal_o: Amodal mask of the other hand.
        visible_o: Visible mask of the other hand. It is not needed by the
            algebra (the other hand is removed wherever it is, seen or
            not) but accepted so that callers pass the four masks alike.

    Returns:
        dict: ``hidden_t`` (H_t), ``keep_t`` (K_t), ``hidden_o`` (H_o),
        ``keep_o`` (K_o), ``modal_t`` (M_t), ``modal_o`` (M_o) and
        ``repaint`` (R), each with the broadcast shape and type of the
        inputs.
    """
    del visible_o  # see the docstring
    hidden_t = amodal_t * (1 - visible_t)
    hidden_o = (1 - amodal_t) * amodal_o
    keep_t = 1 - hidden_t
    keep_o = 1 - hidden_o
    return dict(
        hidden_t=hidden_t,
        keep_t=keep_t,
        hidden_o=hidden_o,
        keep_o=keep_o,
        modal_t=visible_t,
        modal_o=(1 - amodal_t) * (1 - amodal_o),
        repaint=1 - keep_t * keep_o)


def swap_rl_visible(rl_visible: Array) -> Array:
    """Swap labels 1 (right visible) and 2 (left visible) of an
    ``rl_visible`` map, as needed when a left sample is mirrored.

    Args:
        rl_visible: Integer map with values 0 (background), 1 and 2.

    Returns:
        The map with 1 and 2 exchanged (0 stays 0), as an integer array
        of the same kind (numpy or torch).
    """
    return (rl_visible == 1) * 2 + (rl_visible == 2) * 1


def stack_hand_masks(r_amodal: np.ndarray, l_amodal: np.ndarray,
                     rl_visible: np.ndarray,
                     mask_names: Sequence[str]) -> np.ndarray:
    """The four binary hand masks of a frame from its three mask files.

    ``r_visible`` is ``rl_visible == 1`` and ``l_visible`` is
    ``rl_visible == 2``.

    Args:
        r_amodal, l_amodal: (H, W) 0/1 amodal masks.
        rl_visible: (H, W) map with 0 background, 1 right, 2 left visible.
        mask_names: Output channel order, names among ``r_amodal``,
            ``l_amodal``, ``r_visible``, ``l_visible``.

    Returns:
        np.ndarray: (H, W, len(mask_names)) uint8 0/1.
    """
    masks = dict(
        r_amodal=r_amodal, l_amodal=l_amodal,
        r_visible=(rl_visible == 1).astype(np.uint8),
        l_visible=(rl_visible == 2).astype(np.uint8))
    return np.stack([masks[n] for n in mask_names], axis=-1).astype(np.uint8)


def drop_duplicate_hand(masks, mask_names: Sequence[str],
                        max_overlap: float):
    """Clear the weaker of two hands whose amodal masks coincide.

    A segmentation network that cannot tell a lone hand's side (e.g. HASM
    trained from scratch on the generated hands, whose side shows only in
    a faint tint once the crop has cut away the layout) predicts it in
    both sides' masks. Two real hands cannot both contain most of the
    smaller one's extent; when the overlap of the two amodal masks exceeds
    ``max_overlap`` of the smaller mask, the frame is read as one hand,
    kept on the side with more visible pixels, and the other side's two
    masks are cleared. Nothing in the mmseg/mmdet post-processing fits:
    their NMS works on boxes or instance masks of one class, not on the
    per-side branches of one two-hand crop.

    Args:
        masks: (N, 4, S, S) binary masks (torch), channel order
            ``mask_names`` (:data:`HAND_MASK_NAMES`).
        mask_names: Their names.
        max_overlap: Largest share of the smaller amodal mask that may lie
            inside the other one, in (0, 1].

    Returns:
        Tensor: (N, 4, S, S) the masks, the duplicate's channels zero.

    Raises:
        ValueError: ``max_overlap`` outside (0, 1].
    """
    if not 0 < max_overlap <= 1:
        raise ValueError(f'max_overlap must be in (0, 1], got {max_overlap}')
    idx = {name: i for i, name in enumerate(mask_names)}
    amodal, visible = _per_side(masks, mask_names)
    area = amodal.sum(2)  # (N, 2) right, left
    shared = (amodal[:, 0] * amodal[:, 1]).sum(1)
    smaller = area.min(1).values
    duplicate = (smaller > 0) & (shared > max_overlap * smaller)
    seen = visible.sum(2)
    drop_right = duplicate & (seen[:, 0] < seen[:, 1])
    drop_left = duplicate & ~drop_right
    out = masks.clone()
    for side, drop in (('r', drop_right), ('l', drop_left)):
        for kind in ('amodal', 'visible'):
            out[drop, idx[f'{side}_{kind}']] = 0
    return out


def _per_side(masks, mask_names: Sequence[str]):
    """(N, 2, S*S) amodal and visible masks, right then left."""
    idx = {name: i for i, name in enumerate(mask_names)}
    amodal = masks[:, [idx['r_amodal'], idx['l_amodal']]].flatten(2)
    visible = masks[:, [idx['r_visible'], idx['l_visible']]].flatten(2)
    return amodal, visible


def hidden_fractions(masks, mask_names: Sequence[str]):
    """The share of each hand's amodal mask that is not visible.

    Of two interacting hands the one more hidden is, as a rule, the one
    behind: the hand placement uses it to order the hands in depth.

    Args:
        masks: (N, 4, S, S) binary masks (torch), channel order
            ``mask_names`` (:data:`HAND_MASK_NAMES`).
        mask_names: Their names.

    Returns:
        Tensor: (N, 2) float, right then left, in [0, 1]; 0 for an empty
        amodal mask.
    """
    amodal, visible = _per_side(masks.float(), mask_names)
    area = amodal.sum(2)
    hidden = (amodal * (1 - visible)).sum(2)
    return hidden / area.clamp(min=1)
