import torch
from mmseg.registry import MODELS

from hdr_mm.models.hasm import CoordSegDataPreProcessor


def test_appends_normalised_coordinates():
    assert MODELS.get('CoordSegDataPreProcessor') is CoordSegDataPreProcessor
    pre = CoordSegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1],
                                   size=(4, 6))
    img = torch.full((3, 4, 6), 7, dtype=torch.uint8)
    out = pre(dict(inputs=[img]), False)['inputs']
    assert out.shape == (1, 5, 4, 6)
    assert torch.all(out[0, :3] == 7)  # the image, normalised (identity)
    # x grows along the width from -1 to 1, y along the height
    assert torch.allclose(out[0, 3, 0], torch.linspace(-1, 1, 6))
    assert torch.allclose(out[0, 4, :, 0], torch.linspace(-1, 1, 4))
    assert torch.all(out[0, 3] == out[0, 3, :1])
