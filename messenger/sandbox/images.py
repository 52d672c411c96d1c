"""Small generated PNGs standing in for Facebook's CDN: profile pictures and attachments."""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

_PALETTE = ("#2f6fed", "#e8553e", "#1e9e6a", "#8e44ad", "#d68910", "#17a2b8")
LIKE_BLUE = "#0866ff"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _centered_text(image: Image.Image, text: str, size: int) -> None:
    draw = ImageDraw.Draw(image)
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow built without FreeType
        font = ImageFont.load_default()
    draw.text((image.width / 2, image.height / 2), text, fill="white", font=font, anchor="mm")


@lru_cache(maxsize=256)
def avatar_png(seed: str, initials: str) -> bytes:
    color = _PALETTE[int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(_PALETTE)]
    image = Image.new("RGB", (128, 128), color)
    _centered_text(image, initials[:2].upper(), 56)
    return _png(image)


@lru_cache(maxsize=4)
def attachment_png(kind: str) -> bytes:
    if kind == "like":
        image = Image.new("RGB", (96, 96), LIKE_BLUE)
        _centered_text(image, "+1", 48)
    else:
        image = Image.new("RGB", (320, 200), "#9ec5fe")
        draw = ImageDraw.Draw(image)
        draw.polygon([(0, 200), (110, 80), (200, 200)], fill="#3d8bfd")
        draw.polygon([(120, 200), (230, 60), (320, 200)], fill="#0a58ca")
        draw.ellipse((240, 20, 290, 70), fill="#ffc107")
    return _png(image)
