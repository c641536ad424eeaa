# The data of the stock SHPE configs: the generated single-hand renders
# (SingleHand3DDataset on data/synthetic_hands, the same data and crops as
# configs/shpe/shpe_detnet-tiny_b16-adamw_synthetic-96x96.py). Trained and
# validated on each hand rendered alone (a single-hand estimator never sees
# a second hand); the test split reads the real interacting frames, cropped
# at the ground-truth box of each hand.
#
# The names do not collide with those of mmpose's stock configs, which the
# SHPE configs inherit too: each SHPE config takes its dataloaders from
# `_base_.single_hand_loaders[split]` and sets their pipelines.
_base_ = ['../../../../configs/_base_/datasets/synthetic_hands.py']

single_hand_root = 'data/synthetic_hands/interhand2.6m/'
single_hand_meta_keys = ('id', 'img_id', 'img_path', 'ori_shape',
                         'img_shape', 'input_size', 'input_center',
                         'input_scale', 'mirrored', 'interacting',
                         'hand_side')


def _split(name, alone):
    return dict(
        _delete_=True,  # replaces the stock config's dataset
        type='SingleHand3DDataset',
        data_root=single_hand_root,
        ann_file=f'annotations/{name}/InterHand2.6M_{name}_data.json',
        camera_param_file=(
            f'annotations/{name}/InterHand2.6M_{name}_camera.json'),
        joint_file=f'annotations/{name}/InterHand2.6M_{name}_joint_3d.json',
        data_prefix=dict(img=f'images/{name}/'),
        alone_img_prefix=f'images_alone/{name}/' if alone else None,
        test_mode=name != 'train')


single_hand_loaders = dict(
    train=dict(
        batch_size=32,
        num_workers=1,  # decoding overlaps the training step
        persistent_workers=True,
        dataset=_split('train', alone=True)),
    val=dict(
        batch_size=64,
        num_workers=0,
        persistent_workers=False,
        dataset=_split('val', alone=True)),
    test=dict(
        batch_size=64,
        num_workers=0,
        persistent_workers=False,
        drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
        dataset=_split('test', alone=False)))
