# The embedded default data: procedurally rendered interacting hands
# (hdr_mm.datasets.synthetic, docs/data_layout.md), generated on first use
# by tools/train.py / tools/test.py from this top-level dict (the keyword
# arguments of ensure_synthetic_hands). Every small config of the three
# stages and the pipeline reads this one folder, so they must agree on it.
synthetic_data = dict(
    out_dir='data/synthetic_hands',
    num_samples=800,
    img_size=256,
    seed=0,
    occlusion_range=(0.1, 0.7))
