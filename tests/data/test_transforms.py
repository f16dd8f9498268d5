import pytest
import torch
from PIL import Image

from alexnet_lightning.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    BatchAugment,
    PCALighting,
    eval_crop,
    train_crop,
)


def test_pca_lighting_shifts_colour_per_image_and_keeps_shape():
    images = torch.rand(4, 3, 32, 32)
    out = PCALighting(std=0.1)(images, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    shift = out - images
    # One RGB offset per image, constant over its pixels, different between images.
    torch.testing.assert_close(shift, shift[:, :, :1, :1].expand_as(shift))
    assert shift[:, :, 0, 0].abs().max() > 1e-4
    assert not torch.allclose(shift[0, :, 0, 0], shift[1, :, 0, 0])


def test_pca_lighting_follows_the_principal_component():
    # Large std: the shift is dominated by the first eigenvector, equal signs in R, G, B
    # (brightness), so all three channels move the same way.
    out = PCALighting(std=1.0)(
        torch.zeros(256, 3, 1, 1), generator=torch.Generator().manual_seed(1)
    )
    shift = out[:, :, 0, 0]
    same_sign = (torch.sign(shift[:, 0]) == torch.sign(shift[:, 2])).float().mean()
    assert same_sign > 0.9
    assert shift.std(dim=0)[0] == pytest.approx(0.2175 * 0.5675, rel=0.25)


def test_pca_lighting_zero_is_off():
    images = torch.rand(2, 3, 8, 8)
    assert torch.equal(PCALighting(std=0.0)(images), images)
    with pytest.raises(ValueError):
        PCALighting(std=-1)


def test_eval_batch_is_plain_normalisation():
    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    out = BatchAugment(lighting_std=0.1)(images, train=False)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(out, (images.float() / 255 - mean) / std)
    assert out.dtype == torch.float32


def test_training_batch_flips_about_half_the_images():
    images = torch.arange(16, dtype=torch.float32).repeat(64, 3, 16, 1).to(torch.uint8)
    augment = BatchAugment(lighting_std=0.0)
    out = augment.denormalize(
        augment(images, train=True, generator=torch.Generator().manual_seed(0))
    )
    flipped = (out[:, 0, 0, 0] > out[:, 0, 0, -1]).float().mean().item()
    assert 0.3 < flipped < 0.7
    reference = images.float() / 255
    for i in range(8):
        assert torch.allclose(out[i], reference[i], atol=1e-5) or torch.allclose(
            out[i], reference[i].flip(-1), atol=1e-5
        )


def test_crops_give_uint8_tensors_of_the_requested_size():
    image = Image.new("RGB", (300, 200), (10, 20, 30))
    crop = train_crop(96, scale=(0.5, 1.0))(image)
    assert crop.shape == (3, 96, 96) and crop.dtype == torch.uint8
    centre = eval_crop(224)(image)
    assert centre.shape == (3, 224, 224) and centre.dtype == torch.uint8
    # Eval resizes the shorter side to 256 for a 224 crop: a 256 x 256 image is only cropped.
    square = Image.new("RGB", (256, 256))
    square.putpixel((16, 16), (255, 0, 0))
    assert eval_crop(224)(square)[0, 0, 0] == 255
