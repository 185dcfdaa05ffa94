"""Decode one image file to a uint8 CHW tensor, at its own size or fitted to NxN.

Fitting keeps the aspect ratio: the shorter side is resized to N (bilinear with
antialiasing), then the centre NxN square is cut out, so nothing is squashed.
JPEG is decoded by ``torchvision.io``, everything else by PIL, which also names
the original mode (palette, RGBA, CMYK...) that loading reports as converted.
Measured on the generated photo folder (bench/make_photo_folder.py, 64-320 px JPEGs,
fitted to 128 px) and on the 32 px CIFAR-10 JPEGs, one thread, Xeon, 2 cores:

    decode (+ fit to 128)          photos 128 px    CIFAR 32 px
    PIL (convert, resize, crop)       176 img/s      790 img/s
    PIL with JPEG draft (DCT scale)   187 img/s      617 img/s
    torchvision.io.decode_jpeg        281 img/s     1380 img/s

PNG: torchvision.io was 2.9x faster at 32 px but only 1.2x at 200 px, and it
expands palettes without saying so; PIL keeps the mode for the notes, so PNG,
WebP, BMP, GIF and TIFF go through PIL. A file that torchvision cannot read (a PNG
named .jpg, say) is tried with PIL before it counts as unreadable.

torchvision 0.29 deprecates its decoders in favour of TorchCodec (>= 0.16), whose
``torchcodec.decoders.decode_jpeg`` has the same call; until the project depends on
TorchCodec, the deprecation warning (one per image) is silenced here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
JPEG_SUFFIXES = frozenset({".jpg", ".jpeg"})
# What PIL raises on a file it cannot read; callers catch these to skip or report the file.
DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)
_JPEG_MODES = {1: "L", 3: "RGB", 4: "CMYK"}
warnings.filterwarnings(
    "ignore", message="The image decoding and encoding capabilities of TorchVision are deprecated",
    category=DeprecationWarning,
)  # fmt: skip


def fit_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Shorter side to ``size`` keeping the aspect ratio, then the centre ``size`` x ``size``."""
    # torchvision is imported on first use: about 200 MB and seconds that a run reading
    # only its decoded cache never needs.
    from torchvision.transforms.v2 import functional as F

    h, w = image.shape[-2:]
    if (h, w) == (size, size):
        return image
    if min(h, w) != size:
        image = F.resize(image, size, antialias=True)
    return F.center_crop(image, [size, size])


def _read_jpeg(path: Path) -> tuple[torch.Tensor, str] | None:
    from torchvision.io import ImageReadMode, decode_jpeg, read_file

    try:
        data = read_file(str(path))
        image = decode_jpeg(data, mode=ImageReadMode.UNCHANGED)
        mode = _JPEG_MODES.get(image.shape[0])
        if mode == "CMYK":  # torchvision turns CMYK into RGB when asked for RGB
            image = decode_jpeg(data, mode=ImageReadMode.RGB)
    except RuntimeError:
        return None  # not a JPEG it can read: PIL tries next, and names the problem
    return (image, mode) if mode else None


def _read_pil(path: Path) -> tuple[torch.Tensor, str]:
    with Image.open(path) as img:
        img.load()
        mode = img.mode
        pixels = img if mode in ("RGB", "L") else img.convert("RGB")
        arr = np.array(pixels, dtype=np.uint8)  # a copy: the tensor owns its memory
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return torch.from_numpy(arr).permute(2, 0, 1), mode


def read_image(path: str | Path, size: int | None = None) -> tuple[torch.Tensor, str]:
    """(uint8 (C, H, W) tensor with C = 1 or 3, original mode); fitted to ``size`` when given.

    Grayscale stays one channel; palette, RGBA, CMYK and the rest become RGB, as
    PIL's ``convert("RGB")`` does. Unreadable files raise one of ``DECODE_ERRORS``.
    """
    path = Path(path)
    found = _read_jpeg(path) if path.suffix.lower() in JPEG_SUFFIXES else None
    image, mode = found if found is not None else _read_pil(path)
    if size is not None:
        image = fit_square(image, size)
    return image, mode


def decode_image(path: str | Path, image_size: int | None = None) -> tuple[np.ndarray, str]:
    """(uint8 H x W x C array, original mode): :func:`read_image` in NumPy's layout."""
    image, mode = read_image(path, image_size)
    return image.permute(1, 2, 0).contiguous().numpy(), mode
