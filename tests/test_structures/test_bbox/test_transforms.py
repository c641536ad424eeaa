"""Box and crop geometry (numpy) and its torch twin agree."""
import numpy as np
import pytest
import torch

from hdr_mm.structures import (bbox_iou, bbox_of_mask, bbox_of_points,
                               clip_bbox, context_window, crop_to_image,
                               crop_warp_matrix, mirror_x, mirror_x_matrix,
                               square_crop_cs, union_bbox, warp_to_crop)
from hdr_mm.structures.bbox import batched_transforms as geo


def test_boxes_of_masks_and_points():
    mask = np.zeros((20, 30), np.uint8)
    mask[5:9, 10:20] = 1  # rows 5..8, columns 10..19
    np.testing.assert_array_equal(bbox_of_mask(mask), [9.5, 4.5, 19.5, 8.5])
    assert bbox_of_mask(np.zeros((4, 4))) is None
    boxes, valid = geo.mask_bboxes(torch.from_numpy(
        np.stack([mask, np.zeros_like(mask)])).float())
    np.testing.assert_array_equal(boxes[0].numpy(), bbox_of_mask(mask))
    assert valid.tolist() == [True, False] and not boxes[1].any()
    pts = np.array([[5, 6, 1], [20, 30, 1], [-900, 2, 0]], np.float32)
    np.testing.assert_array_equal(bbox_of_points(pts, pts[:, 2]),
                                  [5, 6, 20, 30])
    assert bbox_of_points(pts, np.zeros(3)) is None
    np.testing.assert_array_equal(
        union_bbox(np.array([[0, 5, 10, 20, 0.9], [4, 1, 8, 30, 0.5]])),
        [0, 1, 10, 30])
    np.testing.assert_array_equal(clip_bbox([-10, 5, 50, 200], 40, 100),
                                  [-0.5, 5, 39.5, 99.5])


def test_square_crop_and_zero_area():
    center, side = square_crop_cs(np.array([10, 20, 50, 30]), 2.0)
    np.testing.assert_allclose(center, [30, 25])
    assert side == 80  # the longer side (40), x2
    # a single point still gives a crop
    assert square_crop_cs(np.array([3, 3, 3, 3]), 2.0)[1] == 1.0
    c, s = geo.square_crop_cs(torch.tensor([[10., 20, 50, 30]]), 2.0)
    np.testing.assert_allclose(c[0].numpy(), center)
    assert float(s[0]) == side


def test_mirror_x_is_an_array_flip():
    img = np.zeros((3, 7), np.uint8)
    img[1, 2] = 1
    pts = np.array([[[2., 1., 0.5]]], np.float32)  # (N, K, 3)
    flipped = mirror_x(pts, img.shape[1])
    assert flipped.dtype == pts.dtype and pts[0, 0, 0] == 2  # a copy
    np.testing.assert_array_equal(flipped, [[[4., 1., 0.5]]])
    assert img[:, ::-1][1, int(flipped[0, 0, 0])] == 1
    np.testing.assert_array_equal(mirror_x(flipped, 7), pts)
    t = torch.tensor([[2., 1.]])
    out = mirror_x(t, 7)
    assert isinstance(out, torch.Tensor) and t[0, 0] == 2
    np.testing.assert_array_equal(out.numpy(), [[4., 1.]])
    # the matrix form maps points as the function does
    np.testing.assert_array_equal(
        mirror_x_matrix(7) @ np.array([2., 1., 1.]), [4., 1.])


@pytest.mark.parametrize('mirror', [False, True])
def test_crop_matrices_agree_and_invert(mirror):
    center, side, out = np.array([37.3, 81.9]), 55.5, 64
    mat = crop_warp_matrix(center, side, out, mirror)
    mat_t = geo.crop_warp_matrix(torch.tensor([center]).float(),
                                 torch.tensor([side]).float(), out,
                                 torch.tensor([mirror]))[0].double().numpy()
    np.testing.assert_allclose(mat, mat_t, atol=1e-4)
    # the box centre goes to the crop's centre (mirrored: about the
    # centre column of the pixel array)
    c_out = mat @ np.append(center, 1)
    np.testing.assert_allclose(c_out, [out - 1 - out / 2 if mirror else
                                       out / 2, out / 2], atol=1e-4)
    if not mirror:
        pts = np.array([[0., 0.], [63., 10.]])
        img = crop_to_image(pts, center, side, out)
        back = (mat @ np.c_[img, np.ones(2)].T).T
        np.testing.assert_allclose(back, pts, atol=1e-4)
        img_t = geo.crop_to_image(torch.tensor(pts)[None].float(),
                                  torch.tensor([center]).float(),
                                  torch.tensor([side]).float(), out)
        np.testing.assert_allclose(img_t[0].numpy(), img, atol=1e-3)


def test_warps_agree_with_a_zero_border():
    rng = np.random.default_rng(0)
    img = (rng.random((40, 50, 3)) * 255).astype(np.uint8)
    mask = (rng.random((40, 50)) > 0.5).astype(np.uint8)
    mat = crop_warp_matrix((10, 8), 45.0, 32, mirror=True)
    ref = warp_to_crop(img, mat, 32).astype(int)
    ref_m = warp_to_crop(mask, mat, 32, 'nearest')
    t = torch.from_numpy(mat).float()[None]
    out = geo.warp_affine(torch.from_numpy(img).permute(2, 0, 1)[None]
                          .float(), t, 32)[0].permute(1, 2, 0)
    out_m = geo.warp_affine(torch.from_numpy(mask)[None, None].float(), t,
                            32, 'nearest')[0, 0]
    # cv2 samples at 1/32 pixel positions: the two agree within 2 levels
    assert np.abs(out.round().int().numpy() - ref).max() <= 2
    np.testing.assert_array_equal(out_m.numpy(), ref_m)
    # the crop reaches past the image's top-left corner: zeros there
    assert (ref[:5, -5:] == 0).all()
    with pytest.raises(ValueError, match='interpolation'):
        warp_to_crop(img, mat, 32, 'cubic')


def test_context_window_holds_every_hand_crop():
    rng = np.random.default_rng(1)
    for center, side in (((60., 50.), 40.), ((10., 90.), 70.)):
        x0, y0, x1, y1 = context_window(center, side, (100, 120))
        lo_win, hi_win = np.array([x0, y0]), np.array([x1, y1])
        # any hand box inside the crop, squared and x2, lies inside the
        # window (pixel centres from x0 to x1 - 1), or reaches past the
        # image where the window stops at its border
        for _ in range(200):
            b = rng.uniform(1, side)
            c = np.asarray(center) + rng.uniform(-(side - b) / 2,
                                                 (side - b) / 2, 2)
            lo, hi = c - b, c + b
            assert ((lo >= lo_win - 0.5) | (lo_win == 0)).all()
            assert ((hi <= hi_win - 0.5) | (hi_win == [120, 100])).all()
    # clipped to the image, at least one pixel
    np.testing.assert_array_equal(
        context_window((500, 500), 10, (100, 120)), [119, 99, 120, 100])


def test_pad_stack_keeps_coordinates():
    a, b = torch.ones(3, 4, 5), torch.full((3, 6, 2), 2.)
    out = geo.pad_stack([a, b])
    assert out.shape == (2, 3, 6, 5)
    assert out[0, :, :4, :5].eq(1).all() and out[0, :, 4:].eq(0).all()
    assert out[1, :, :, :2].eq(2).all() and out[1, :, :, 2:].eq(0).all()


def test_bbox_iou():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([0, 5, 10, 15], np.float32)
    iou = bbox_iou(a, b)
    assert iou.shape == (2, 1)
    np.testing.assert_allclose(iou[:, 0], [50 / 150, 0.0])
    np.testing.assert_allclose(bbox_iou(b, b), [[1.0]])
