"""Augment a whole uint8 batch at once: random crop with padding, flip, colour jitter, cutout.

No per-image Python: each image's random shift and flip become one row and one
column index per output pixel, and two ``gather`` calls apply them to the whole
batch (a crop of a padded image is a shifted read, so nothing is ever padded).
The batch stays uint8 except inside the colour jitter, because it is faster to
hold and move uint8 data. A ``mask`` limits the work to chosen images, e.g. only
the repeated copies made by ``RandomOverSampler``; the others come back bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from imbalance_lab.errors import ConfigError
from imbalance_lab.params import Param, integer, number, text
from imbalance_lab.registry import Registry

PAD_MODES = ("reflect", "zeros")


@dataclass(frozen=True)
class AugmentConfig:
    crop_pad: int = 4  # random crop of the image padded by this many pixels per side; 0 = no crop
    pad_mode: str = "reflect"  # what the padding holds: "reflect" (mirrored edge) or "zeros"
    flip: bool = True  # flip left-right with probability 1/2
    # Colour jitter: brightness, contrast and saturation factors each in [1 - j, 1 + j]; 0 = off.
    jitter: float = 0.0
    # Cutout (DeVries & Taylor 2017): a gray square of this side at a random centre, which may
    # lie near the edge so that only part of the square falls on the image; 0 = off.
    cutout: int = 0

    def __post_init__(self):
        if (
            isinstance(self.crop_pad, bool)
            or not isinstance(self.crop_pad, int)
            or self.crop_pad < 0
        ):
            raise ConfigError(f"crop_pad must be an int >= 0; got {self.crop_pad!r}")
        if self.pad_mode not in PAD_MODES:
            raise ConfigError(
                f"pad_mode must be one of {', '.join(PAD_MODES)}; got {self.pad_mode!r}"
            )
        if not isinstance(self.jitter, int | float) or not 0 <= self.jitter < 1:
            raise ConfigError(f"jitter must be a number in [0, 1); got {self.jitter!r}")
        if isinstance(self.cutout, bool) or not isinstance(self.cutout, int) or self.cutout < 0:
            raise ConfigError(
                f"cutout must be an int >= 0 (the square's side); got {self.cutout!r}"
            )


def _source_index(pos: torch.Tensor, size: int, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Where a read at ``pos`` (maybe off the image) lands, and whether it lands on the image."""
    inside = (pos >= 0) & (pos < size)
    if mode == "reflect":  # torch's "reflect": the edge pixel is not repeated
        pos = pos.abs()
        pos = torch.where(pos > size - 1, 2 * (size - 1) - pos, pos)
        return pos, torch.ones_like(inside)
    return pos.clamp(0, size - 1), inside


def _jitter(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Brightness b, then contrast c (about the mean gray), then saturation s (about each pixel's gray).

    The three steps are linear, so they fold into ``A * x + B * gray + D`` with
    A = s*c*b, B = c*b*(1 - s), D = (1 - c)*b*mean(gray): one pass over the batch
    instead of six.
    """
    n, c = images.shape[:2]
    shape = (3, n, 1, 1, 1)
    draws = torch.rand(shape, generator=generator, device=generator.device).to(images.device)
    b, k, s = 1 + strength * (2 * draws - 1)  # each factor in [1 - strength, 1 + strength]
    if c != 3:
        s = torch.ones_like(s)  # no colour, no saturation
    x = images.float()
    h, w = x.shape[2:]
    # ITU-R 601 luma, as PIL's convert("L"); a batched matmul is the fastest weighted sum here.
    luma = torch.tensor([0.299, 0.587, 0.114] if c == 3 else [1 / c] * c, device=x.device)
    gray = torch.matmul(luma, x.view(n, c, h * w)).view(n, 1, h, w)
    # + 0.5, then the cast's truncation, rounds to the nearest level.
    offset = gray * (k * b * (1 - s)) + ((1 - k) * b * gray.mean(dim=(2, 3), keepdim=True) + 0.5)
    return torch.addcmul(offset, x, s * k * b).clamp_(0, 255).to(torch.uint8)


def augment_batch(
    images: torch.Tensor,
    cfg: AugmentConfig,
    generator: torch.Generator,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """A randomly augmented copy of a uint8 (N, C, H, W) batch.

    The random choices are drawn for every image, masked or not, so an image gets
    the same augmentation whatever the mask, and the result depends only on the
    generator's state. Images where ``mask`` is False are returned unchanged.
    """
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(
            f"images must be a uint8 (N, C, H, W) tensor, got {images.dtype} {tuple(images.shape)}"
        )
    n, c, h, w = images.shape
    if mask is None:
        mask = torch.ones(n, dtype=torch.bool, device=images.device)
    elif mask.dtype != torch.bool or mask.shape != (n,):
        raise ValueError(
            f"mask must be a bool tensor of shape ({n},), got {mask.dtype} {tuple(mask.shape)}"
        )
    mask = mask.to(images.device)
    if cfg.pad_mode == "reflect" and cfg.crop_pad >= min(h, w):
        raise ConfigError(
            f"crop_pad={cfg.crop_pad} with pad_mode='reflect' must be smaller than the image ({h}x{w}); "
            "use a smaller pad or pad_mode='zeros'"
        )

    def draw(high: int) -> torch.Tensor:
        return torch.randint(0, high, (n,), generator=generator, device=generator.device).to(
            images.device
        )

    pad = cfg.crop_pad
    dy = (draw(2 * pad + 1) - pad) * mask
    dx = (draw(2 * pad + 1) - pad) * mask
    flip = (draw(2).bool() & mask) if cfg.flip else torch.zeros_like(mask)

    out = images
    if pad > 0 or cfg.flip:
        rows = torch.arange(h, device=images.device) + dy[:, None]
        cols = torch.arange(w, device=images.device)
        # A flip after the crop reads the crop's columns right to left.
        cols = torch.where(flip[:, None], w - 1 - cols, cols) + dx[:, None]
        rows, rows_in = _source_index(rows, h, cfg.pad_mode)
        cols, cols_in = _source_index(cols, w, cfg.pad_mode)
        out = out.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w))
        out = out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))
        if cfg.pad_mode == "zeros" and pad > 0:
            inside = rows_in.view(n, 1, h, 1) & cols_in.view(n, 1, 1, w)
            out = out * inside.to(torch.uint8)
    if cfg.jitter > 0:
        out = torch.where(mask.view(n, 1, 1, 1), _jitter(out, cfg.jitter, generator), out)
    if cfg.cutout > 0:
        # Centres anywhere on the image, as in the paper; the square is clipped at the edges.
        cy, cx = draw(h), draw(w)
        lo = cfg.cutout // 2
        ys = torch.arange(h, device=images.device) - (cy - lo)[:, None]
        xs = torch.arange(w, device=images.device) - (cx - lo)[:, None]
        hole = ((ys >= 0) & (ys < cfg.cutout)).view(n, 1, h, 1) & (
            (xs >= 0) & (xs < cfg.cutout)
        ).view(n, 1, 1, w)
        out = out.masked_fill(hole & mask.view(n, 1, 1, 1), 128)
    return out


# --augment: which training images get the batched augmentation. Each mode maps the mask
# of upsampled copies in a batch to the mask of images to augment (None: none).
AUGMENT_MODES = Registry("augmentation")
PAD_MODE = Param(
    "pad_mode", "reflect",
    "what the random crop's padding holds: reflect (mirrored edge) or zeros (the long-tail papers)",
    "strategies", parse=text, choices=PAD_MODES, example="zeros",
)  # fmt: skip
JITTER = Param(
    "jitter", 0.0, "colour jitter strength of the augmentation, in [0, 1); 0 = off",
    "strategies", parse=number(min=0, below=1), example="0.2",
)  # fmt: skip
CUTOUT = Param(
    "cutout", 0, "side of the augmentation's gray cutout square (DeVries & Taylor 2017); 0 = off",
    "strategies", parse=integer(min=0), example="8",
)  # fmt: skip
_SETTINGS = (PAD_MODE, JITTER, CUTOUT)
AUGMENT_MODES.add("none", lambda copies: None, "no augmentation")
AUGMENT_MODES.add(
    "all", lambda copies: torch.ones_like(copies),
    "random crop (4-pixel padding) and flip of every training image, batched on uint8",
    params=_SETTINGS,
)  # fmt: skip
AUGMENT_MODES.add(
    "copies", lambda copies: copies,
    "crop and flip only the repeated copies made by --sampler upsample", params=_SETTINGS,
)  # fmt: skip
