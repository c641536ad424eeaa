"""HDR demo: one PNG panel per image, like the figures of the HDR paper.

    python demo/hdr_demo.py IMAGE CONFIG CHECKPOINT --out-dir DIR \
        [--bbox X1 Y1 X2 Y2] [--device cpu] [--unsafe-load]

IMAGE is an image file or a folder of images. Each panel
(``DIR/<image stem>_hdr.png``) shows, left to right:

- the input with both hands' 2D skeletons and the two-hand box;
- per hand (right above, left below): HASM's amodal (light) and visible
  (dark) mask on the two-hand crop, the hand's crop before TDR, after TDR
  (the hidden parts repainted, the other hand removed) and the 3D
  skeleton (root-relative, mm).

Left hands are shown mirrored, as every stage after HASM sees them.
Inference goes through :class:`hdr_mm.apis.HDRInferencer`; the box of
both hands is ``--bbox`` or, without it, the whole image, refined by a
second run on the box of the hands HASM found in it (``--no-refine-box``
keeps the whole image). Drawing uses matplotlib's Agg canvas: no display
is needed.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec

# the checkout's hdr_mm first, as tools/*.py do
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from hdr_mm.utils.checkpoint_loading import UNSAFE_HELP  # noqa: E402
from hdr_mm.visualization import HDRHandVisualizer  # noqa: E402
from hdr_mm.visualization import figure_to_rgb  # noqa: E402

#: hand order of the model's per-hand fields
HANDS = ('right', 'left')
#: RGB 0-1 of each hand's masks in the HASM column: (amodal, visible)
MASK_COLORS = {
    'right': ((1.0, 0.75, 0.75), (0.85, 0.1, 0.1)),
    'left': ((0.75, 0.8, 1.0), (0.1, 0.3, 0.9)),
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='HDR demo: 2D/3D hand poses, hand crops before and '
        'after de-occlusion/removal, one PNG panel per image')
    parser.add_argument('image', help='image file or folder of images')
    parser.add_argument('config', help='HDR pipeline config')
    parser.add_argument(
        'checkpoint',
        help="combined HDR checkpoint; 'none' runs the stages as the "
        'config loads them')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--bbox',
        type=float,
        nargs=4,
        metavar=('X1', 'Y1', 'X2', 'Y2'),
        help='box around both hands (pixels); default the whole image')
    parser.add_argument(
        '--no-refine-box',
        action='store_true',
        help='without --bbox, keep the whole image as the two-hand box '
        '(default: run again on the box of the hands HASM found in it)')
    parser.add_argument('--device', default='cpu', help='torch device')
    parser.add_argument(
        '--kpt-thr',
        type=float,
        default=0.0,
        help='joints scoring lower are not drawn (default 0: every joint of '
        'a found hand; the scores are SHPE heat-map peaks, low for small '
        'models although the joints are predicted)')
    parser.add_argument(
        '--bone-length-mm',
        type=float,
        default=None,
        help='wrist-to-middle-MCP length that scales the 3D joints '
        "(default the model's bone_length_mm)")
    parser.add_argument(
        '--dpi', type=int, default=100, help='panel resolution')
    parser.add_argument(
        '--unsafe-load', action='store_true', help=UNSAFE_HELP)
    return parser.parse_args(argv)


def _mask_overlay(masks: np.ndarray, names: Sequence[str],
                  hand: str) -> np.ndarray:
    """RGB picture of one hand's amodal and visible masks.

    Args:
        masks: (4, S, S) 0/1 HASM masks.
        names: Their names (``r_amodal``, ``r_visible``, ...).
        hand: ``'right'`` or ``'left'``.

    Returns:
        np.ndarray: (S, S, 3) float RGB in [0, 1], white background.
    """
    idx = {n: i for i, n in enumerate(names)}
    prefix = hand[0]
    out = np.ones(masks.shape[1:] + (3, ), np.float32)
    for kind, color in zip(('amodal', 'visible'), MASK_COLORS[hand]):
        name = f'{prefix}_{kind}'
        if name in idx:
            out[masks[idx[name]] > 0.5] = color
    return out


def _to_numpy(x) -> np.ndarray:
    """Tensor or array -> numpy array."""
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else \
        np.asarray(x)


def _bgr_crops(sample, key: str) -> Optional[np.ndarray]:
    """(2, s, s, 3) uint8 RGB per-hand crops of a sample, or None."""
    if key not in sample:
        return None
    crops = _to_numpy(sample.get(key)).astype(np.uint8)  # (2, 3, s, s) BGR
    return crops.transpose(0, 2, 3, 1)[..., ::-1]


def make_panel(image_rgb: np.ndarray,
               sample,
               visualizer: HDRHandVisualizer,
               kpt_thr: float = 0.0,
               dpi: int = 100) -> np.ndarray:
    """Draw the demo panel of one image.

    Args:
        image_rgb: (H, W, 3) uint8 input image, RGB.
        sample: Its ``PoseDataSample`` from ``HDRInferencer`` (with
            ``return_datasamples=True``): ``pred_instances`` (one instance,
            or none when no hand was found), ``hand_crops``, ``tdr_crops``
            (2, 3, s, s) uint8 BGR and ``pred_fields.hand_masks``.
        visualizer: Draws the skeletons (with the 42-joint meta set).
        kpt_thr: Joints scoring lower are not drawn.
        dpi: Resolution (the panel is 12 x 4.8 inches).

    Returns:
        np.ndarray: (H', W', 3) uint8 RGB panel.
    """
    inst = sample.pred_instances
    found = len(inst) > 0
    h, w = image_rgb.shape[:2]
    visualizer.radius = max(2, int(round(max(h, w) / 200)))
    visualizer.line_width = max(1, int(round(max(h, w) / 300)))
    drawn = visualizer.draw_hands_2d(
        image_rgb, inst, kpt_thr=kpt_thr, draw_bbox=True)

    fig = Figure(figsize=(12, 4.8), dpi=dpi)
    grid = GridSpec(2, 6, figure=fig, width_ratios=[1, 1, 1, 1, 1, 1.3],
                    left=0.01, right=0.99, bottom=0.02, top=0.9,
                    wspace=0.08, hspace=0.25)
    ax = fig.add_subplot(grid[:, :2])
    ax.imshow(drawn)
    ax.set_title('input, 2D joints' if found else 'input: no hand found',
                 fontsize=10)
    ax.axis('off')

    crops = _bgr_crops(sample, 'hand_crops')
    tdr = _bgr_crops(sample, 'tdr_crops')
    masks = None
    if 'pred_fields' in sample and 'hand_masks' in sample.pred_fields:
        masks = _to_numpy(sample.pred_fields.hand_masks)
    names = sample.metainfo.get('mask_names', ())
    hand_type = _to_numpy(inst.hand_type)[0] if found else np.zeros(2)
    for row, hand in enumerate(HANDS):
        label = hand if row == 0 else f'{hand} (mirrored)'
        if hand_type[row] <= 0:
            label += ', not found'
        cols = [
            ('HASM masks' if row == 0 else '',
             None if masks is None else _mask_overlay(masks, names, hand)),
            (f'{label}: crop', None if crops is None else crops[row]),
            ('after TDR', None if tdr is None else tdr[row]),
        ]
        for col, (title, img) in enumerate(cols, start=2):
            ax = fig.add_subplot(grid[row, col])
            ax.axis('off')
            if img is not None:
                ax.imshow(img)
            ax.set_title(title, fontsize=9)
    visualizer.draw_hands_3d(
        fig, inst, [grid[0, 5], grid[1, 5]], kpt_thr=kpt_thr)
    return figure_to_rgb(fig)


def run(args: argparse.Namespace) -> List[str]:
    """Run the demo; returns the written panel files."""
    import cv2

    from hdr_mm.apis import HDRInferencer
    weights = None if args.checkpoint.lower() == 'none' else args.checkpoint
    inferencer = HDRInferencer(
        args.config,
        weights,
        device=args.device,
        bone_length_mm=args.bone_length_mm,
        unsafe_load=args.unsafe_load)
    inputs = inferencer._inputs_to_list(args.image)
    bboxes = None if args.bbox is None else [list(args.bbox)] * len(inputs)
    os.makedirs(args.out_dir, exist_ok=True)
    written = []
    results = inferencer(
        inputs,
        return_datasamples=True,
        bboxes=bboxes,
        refine_box=not args.no_refine_box)
    for path, result in zip(inputs, results):
        sample = result['predictions'][0]
        image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        panel = make_panel(image, sample, inferencer.visualizer,
                           kpt_thr=args.kpt_thr, dpi=args.dpi)
        stem = osp.splitext(osp.basename(path))[0]
        out = osp.join(args.out_dir, f'{stem}_hdr.png')
        cv2.imwrite(out, cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
        n_hands = int((_to_numpy(sample.pred_instances.hand_type) > 0).sum()
                      ) if len(sample.pred_instances) else 0
        print(f'{path}: {n_hands} hand(s) found, panel {out}')
        written.append(out)
    return written


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    return run(parse_args(argv))


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f'hdr_demo: {e}')
