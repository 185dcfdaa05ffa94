"""Decoding and fitting to NxN: aspect kept, centre crop, modes, formats, against PIL."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from imbalance_lab.data.decode import DECODE_ERRORS, decode_image, fit_square, read_image


def thirds(width: int, height: int) -> Image.Image:
    """Red | green | blue bands side by side (or top to bottom when taller than wide)."""
    arr = np.zeros((height, width, 3), np.uint8)
    if width >= height:
        for k in range(3):
            arr[:, k * width // 3 : (k + 1) * width // 3, k] = 255
    else:
        for k in range(3):
            arr[k * height // 3 : (k + 1) * height // 3, :, k] = 255
    return Image.fromarray(arr)


@pytest.mark.parametrize(("width", "height"), [(300, 100), (100, 300), (90, 90)])
def test_fitting_keeps_the_aspect_ratio_and_keeps_the_centre(tmp_path, width, height):
    path = tmp_path / "bands.png"
    thirds(width, height).save(path)
    image, mode = read_image(path, 50)
    assert image.shape == (3, 50, 50) and image.dtype == torch.uint8 and mode == "RGB"
    if width != height:  # squashing would keep all three bands; the centre crop keeps green
        mean = image.float().mean(dim=(1, 2))
        assert mean[1] > 240 and mean[0] < 15 and mean[2] < 15, mean


@pytest.mark.parametrize(("width", "height", "size"), [(173, 96, 64), (64, 200, 48), (40, 40, 32)])
def test_fit_matches_pil_resizing_the_centre_box(tmp_path, width, height, size):
    """PIL is the reference: the shorter side scaled to ``size`` (torchvision truncates the
    longer side's length), the centre ``size`` pixels of that, read from the source box."""
    ys, xs = np.mgrid[0:height, 0:width]
    arr = (128 + 100 * np.sin(xs[..., None] / 9 + ys[..., None] / 13 + np.arange(3))).astype(
        np.uint8
    )
    path = tmp_path / "smooth.png"
    Image.fromarray(arr).save(path)
    ours = read_image(path, size)[0].permute(1, 2, 0).numpy().astype(int)
    short, long = sorted((width, height))
    resized = int(size * long / short)
    offset = round((resized - size) / 2) * long / resized
    span = size * long / resized
    box = (
        (offset, 0, offset + span, height) if width > height else (0, offset, width, offset + span)
    )
    ref = Image.fromarray(arr).resize((size, size), Image.Resampling.BILINEAR, box=box)
    diff = np.abs(ours - np.asarray(ref).astype(int))
    assert diff.mean() < 1.0 and diff.max() <= 8, (diff.mean(), diff.max())


def test_fit_square_leaves_a_square_of_the_size_untouched():
    x = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    assert fit_square(x, 32) is x


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_every_format_decodes_to_the_pixels_pil_sees(tmp_path, fmt):
    arr = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(arr).save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    image, mode = read_image(path)
    assert image.shape == (3, 37, 53) and mode == "RGB"
    pil = np.asarray(Image.open(path).convert("RGB")).astype(int)
    # JPEG goes through torchvision's libjpeg, the rest through PIL: within one level.
    assert np.abs(image.permute(1, 2, 0).numpy().astype(int) - pil).max() <= 1


@pytest.mark.parametrize(
    ("mode", "suffix", "channels"),
    [
        ("L", "png", 1),
        ("L", "jpg", 1),
        ("RGBA", "png", 3),
        ("P", "png", 3),
        ("CMYK", "jpg", 3),
        ("LA", "png", 3),
    ],
)
def test_modes_are_kept_gray_or_made_rgb_and_named(tmp_path, mode, suffix, channels):
    path = tmp_path / f"x.{suffix}"
    Image.new("RGB", (20, 10), (200, 100, 50)).convert(mode).save(path)
    image, found = read_image(path)
    assert found == mode and image.shape == (channels, 10, 20)


def test_a_png_named_jpg_still_decodes(tmp_path):
    path = tmp_path / "really-a.jpg"
    Image.new("RGB", (8, 6), (1, 2, 3)).save(path, "PNG")
    image, mode = read_image(path)
    assert mode == "RGB" and image[:, 0, 0].tolist() == [1, 2, 3]


@pytest.mark.parametrize("content", [b"not an image", b"\xff\xd8\xff\xe0 truncated jpeg"])
def test_unreadable_files_raise_a_decode_error(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(DECODE_ERRORS):
        read_image(path)


def test_decode_image_keeps_the_numpy_layout(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (9, 8, 7)).save(buffer, "PNG")
    (tmp_path / "a.png").write_bytes(buffer.getvalue())
    arr, mode = decode_image(tmp_path / "a.png", image_size=16)
    assert arr.shape == (16, 16, 3) and arr.dtype == np.uint8 and arr[0, 0].tolist() == [9, 8, 7]
