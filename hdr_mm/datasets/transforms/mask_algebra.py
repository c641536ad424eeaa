"""The mask algebra of docs/method.md section 2 as a data transform."""
from typing import Dict

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from hdr_mm.structures.hand_masks import tdr_masks


def target_side(results: Dict) -> str:
    """``'r'`` or ``'l'``: the side that holds the target's masks (after
    :class:`MirrorToRight` the target is always ``'r'``)."""
    if results['hand_type'] == 'right' or results.get('flip', False):
        return 'r'
    return 'l'


@TRANSFORMS.register_module()
class TDRMaskAlgebra(BaseTransform):
    """Turn the AIH masks into the four hand masks and the TDR masks.

    With the target ``t`` (see :func:`target_side`) and the other hand
    ``o``: ``A_t = {t}_amodal``, ``A_o = {o}_amodal``, ``V_t`` and
    ``V_o`` the ``rl_visible`` pixels labelled with their side (1 right,
    2 left).

    Required keys: ``r_amodal``, ``l_amodal``, ``rl_visible``,
    ``hand_type`` (``flip`` optional).

    Added keys:
        - hand_masks (np.ndarray): (4, H, W) uint8 ``[A_t, V_t, A_o,
          V_o]``.
        - tdr_masks (dict): ``hidden_t``, ``keep_t``, ``hidden_o``,
          ``keep_o``, ``modal_t``, ``modal_o``, ``repaint``, each (H, W)
          uint8 in {0, 1} (:func:`hdr_mm.structures.tdr_masks`).
    """

    def transform(self, results: Dict) -> Dict:
        t = target_side(results)
        o = 'l' if t == 'r' else 'r'
        label = {'r': 1, 'l': 2}
        rl = results['rl_visible']
        a_t = (results[f'{t}_amodal'] > 0).astype(np.uint8)
        a_o = (results[f'{o}_amodal'] > 0).astype(np.uint8)
        v_t = (rl == label[t]).astype(np.uint8)
        v_o = (rl == label[o]).astype(np.uint8)
        results['hand_masks'] = np.stack([a_t, v_t, a_o, v_o])
        results['tdr_masks'] = {
            k: v.astype(np.uint8)
            for k, v in tdr_masks(a_t, v_t, a_o, v_o).items()
        }
        return results
