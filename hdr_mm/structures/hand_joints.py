"""Hand joint orders and skeletons used across hdr_mm.

Two orders of the 21 joints of one hand appear in HDR:

- **InterHand2.6M order** (datasets, mmpose's ``InterHand3DDataset``):
  thumb tip -> base (0-3), index tip -> base (4-7), middle (8-11),
  ring (12-15), pinky (16-19), wrist (20). A two-hand frame stacks
  21 right-hand joints then 21 left-hand joints (42 in all).
- **SHPE order** (the DetNet-style estimator): wrist (0), then thumb,
  index, middle, ring, pinky, each from base to tip (1-4, 5-8, ...).

The arrays here convert between them: ``joints_shpe = joints_ih[
INTERHAND_TO_SHPE]`` and ``joints_ih = joints_shpe[SHPE_TO_INTERHAND]``.
"""
import numpy as np

NUM_HAND_JOINTS = 21

#: ``joints_shpe = joints_interhand[INTERHAND_TO_SHPE]``
INTERHAND_TO_SHPE = np.array(
    [20] + [f * 4 + k for f in range(5) for k in (3, 2, 1, 0)],
    dtype=np.int64)

#: ``joints_interhand = joints_shpe[SHPE_TO_INTERHAND]``
SHPE_TO_INTERHAND = np.argsort(INTERHAND_TO_SHPE)

#: parent of each joint in SHPE order (the wrist has none: -1)
SHPE_PARENTS = np.array(
    [-1] + [0 if k == 0 else 1 + f * 4 + k - 1 for f in range(5)
            for k in range(4)],
    dtype=np.int64)

#: SHPE indexes of the wrist and of the middle finger's MCP (base) joint;
#: their distance is the reference bone that normalises 3D scale.
SHPE_ROOT = 0
SHPE_MIDDLE_MCP = 9

#: InterHand2.6M indexes of the same two joints
INTERHAND_ROOT = 20
INTERHAND_MIDDLE_MCP = 11

#: InterHand2.6M indexes whose mean is a hand's palm centre, midway
#: between the wrist and the middle MCP: where the hand is, as opposed to
#: the wrist, which swings ~45 mm around it as the hand turns
INTERHAND_PALM_CENTRE = (INTERHAND_ROOT, INTERHAND_MIDDLE_MCP)

#: Order of the two hands everywhere a per-hand axis exists: the 42-joint
#: layout (21 right-hand joints, then 21 left-hand joints), per-hand crops,
#: ``hand_type`` (right, left presence) and the hand boxes.
HANDS = ('right', 'left')

#: In a 42-joint frame: slice of each hand's joints
RIGHT_SLICE = slice(0, NUM_HAND_JOINTS)
LEFT_SLICE = slice(NUM_HAND_JOINTS, 2 * NUM_HAND_JOINTS)


def palm_centre(joints: np.ndarray) -> np.ndarray:
    """A hand's palm centre (:data:`INTERHAND_PALM_CENTRE`).

    Args:
        joints: (..., 21, D) one hand's joints in InterHand2.6M order.

    Returns:
        np.ndarray: (..., D) the mean of its wrist and middle MCP.
    """
    joints = np.asarray(joints)
    return joints[..., list(INTERHAND_PALM_CENTRE), :].mean(-2)
