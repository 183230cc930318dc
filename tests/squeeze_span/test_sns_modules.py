"""Squeeze module, student architecture and the per-image augmentations."""
from __future__ import annotations

import pytest
import torch
import torchvision

from dgan_plugins.squeeze_span.augment import augment
from dgan_plugins.squeeze_span.batches import default_layers
from dgan_plugins.squeeze_span.squeeze import SqueezeModule
from dgan_plugins.squeeze_span.student import Student, auto_stem
from sns_helpers import tiny_backbone


def test_squeeze_sums_per_layer_maps_of_pooled_features():
    torch.manual_seed(0)
    module = SqueezeModule([3, 5], dim=4, hidden=6, depth=1).eval()  # depth 1: head is one Linear
    a, b = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 2, 2)
    out = module([a, b])
    pooled_sum = module.layer_maps[0](a.mean(dim=(2, 3))) + module.layer_maps[1](b.mean(dim=(2, 3)))
    assert torch.allclose(out, module.head(pooled_sum), atol=1e-5)
    # only the spatial mean of each map matters
    shuffled = a.flatten(2)[:, :, torch.randperm(16)].view_as(a)
    assert torch.allclose(module([shuffled, b]), out, atol=1e-5)
    with pytest.raises(ValueError):
        module([a])


def test_squeeze_mlp_has_the_papers_three_layers():
    module = SqueezeModule([8], dim=32, hidden=16)
    linears = [m for m in module.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 16), (16, 16), (16, 32)]
    assert module([torch.randn(4, 8, 2, 2)]).shape == (4, 32)


def test_default_layers_are_the_last_map_of_each_resolution():
    assert default_layers(tiny_backbone()) == ["b4.conv1", "b8.conv1", "b16.conv1"]


def test_cifar_stem_changes_only_conv1_and_maxpool():
    student = Student("cifar", dim=16, projector_layers=2)
    plain = torchvision.models.resnet18()
    ours = student.encoder.state_dict()
    theirs = {k: v for k, v in plain.state_dict().items() if not k.startswith("fc.")}
    assert list(ours) == list(theirs)
    differing = [k for k in ours if ours[k].shape != theirs[k].shape]
    assert differing == ["conv1.weight"] and ours["conv1.weight"].shape == (64, 3, 3, 3)
    assert isinstance(student.encoder.maxpool, torch.nn.Identity)
    assert student.encoder.conv1.stride == (1, 1)
    student.eval()
    assert student.encoder(torch.zeros(2, 3, 8, 8)).shape == (2, 512)
    assert student(torch.zeros(2, 3, 8, 8)).shape == (2, 16)


def test_imagenet_stem_is_torchvisions_own():
    student = Student("imagenet", dim=16, projector_layers=1)
    plain = torchvision.models.resnet18()
    assert {k: v.shape for k, v in student.encoder.state_dict().items()} == \
        {k: v.shape for k, v in plain.state_dict().items() if not k.startswith("fc.")}
    assert auto_stem(32) == "cifar" and auto_stem(64) == "imagenet"


def test_augment_draws_per_image_and_repeats_with_the_seed():
    images = torch.rand(1, 3, 40, 40).repeat(6, 1, 1, 1)  # 40px: the blur is on too
    first = augment(images, torch.Generator().manual_seed(3))
    again = augment(images, torch.Generator().manual_seed(3))
    other = augment(images, torch.Generator().manual_seed(4))
    assert first.shape == images.shape
    assert torch.equal(first, again) and not torch.equal(first, other)
    # identical inputs, different augmentations within one batch
    assert all(not torch.allclose(first[0], first[i]) for i in range(1, 6))
    assert first.min() >= -1 and first.max() <= 1  # [0, 1] normalised to [-1, 1]
