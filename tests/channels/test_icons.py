from __future__ import annotations

import io

import pytest
from PIL import Image

from channels.icons import icon_prepare
from helpdesk.exceptions import InvalidInput
from tests.channels import images


def _refusal(upload: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        icon_prepare(upload)
    assert list(caught.value.details) == ["icon"]
    return str(caught.value.message)


def test_a_png_is_stored_as_a_fresh_png_of_at_most_256_pixels() -> None:
    stored = icon_prepare(images.png(size=(1024, 512)))
    with Image.open(io.BytesIO(stored.read())) as image:
        assert image.format == "PNG"
        assert image.size == (256, 128)
    assert stored.name.endswith(".png")


def test_a_jpeg_is_accepted_and_re_encoded() -> None:
    stored = icon_prepare(images.jpeg("photo.JPEG"))
    with Image.open(io.BytesIO(stored.read())) as image:
        assert image.format == "PNG"


def test_what_follows_the_image_data_is_not_kept() -> None:
    payload = images.image_bytes("PNG") + b"<script>alert(1)</script>"
    stored = icon_prepare(images.upload("icon.png", payload)).read()
    assert b"<script>" not in stored


def test_a_jpeg_named_png_is_judged_by_its_content() -> None:
    stored = icon_prepare(images.upload("photo.png", images.image_bytes("JPEG"), "image/png"))
    assert stored.read().startswith(b"\x89PNG")


def test_a_text_file_named_png_is_refused() -> None:
    assert (
        _refusal(images.upload("notes.png", b"just some text, not a picture")) == "The file is not a JPEG or PNG image."
    )


def test_a_gif_is_refused_even_when_named_png() -> None:
    assert _refusal(images.upload("anim.png", images.image_bytes("GIF"))) == "The file is not a JPEG or PNG image."


def test_another_extension_is_refused() -> None:
    assert (
        _refusal(images.upload("icon.gif", images.image_bytes("PNG"))) == "The icon must be a .jpg, .jpeg or .png file."
    )


def test_more_than_one_megabyte_is_refused() -> None:
    assert _refusal(images.upload("big.png", images.too_large_png())) == "The icon must be at most 1 MB."


@pytest.mark.parametrize("side", [5000, 30000])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(side: int) -> None:
    bomb = images.png_bomb(side)
    assert len(bomb) < 1024 * 1024
    assert _refusal(images.upload("bomb.png", bomb)) == "The image is too large: at most 4096 × 4096 pixels."


def test_a_truncated_image_is_refused() -> None:
    data = images.image_bytes("PNG", (200, 200))
    assert _refusal(images.upload("cut.png", data[: len(data) // 2])) == "The file is not a JPEG or PNG image."
