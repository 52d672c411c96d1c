"""helpdesk.files: a kept file's type comes from its bytes, and only raster images are inline."""

from __future__ import annotations

import io

import pytest

from helpdesk.files import FILE_CSP, OCTET_STREAM, file_response, safe_display_name, sniff_bytes
from tests.channels import images


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_raster_images_are_recognised_by_pillow(fmt: str, expected: str) -> None:
    assert sniff_bytes(images.image_bytes(fmt)) == expected


@pytest.mark.parametrize(
    "content",
    [
        b"<!doctype html><script>alert(1)</script>",
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"<?xml version='1.0'?><x/>",
        b"alert(document.cookie)",
        b"\x89PNG\r\n\x1a\n<html>not really a png</html>",
        b"plain text",
    ],
)
def test_active_content_and_unknown_bytes_are_a_neutral_octet_stream(content: bytes) -> None:
    assert sniff_bytes(content) == OCTET_STREAM


def test_other_binary_formats_keep_their_own_safe_type() -> None:
    assert sniff_bytes(b"%PDF-1.7\n") == "application/pdf"
    assert sniff_bytes(b"PK\x03\x04" + b"\0" * 40) == "application/zip"
    assert sniff_bytes(b"\0\0\0\x18ftypmp42" + b"\0" * 16) == "video/mp4"


def test_an_image_pillow_does_not_show_is_not_given_an_image_type() -> None:
    assert sniff_bytes(images.image_bytes("BMP")) == OCTET_STREAM
    assert sniff_bytes(images.image_bytes("TIFF")) == OCTET_STREAM


def test_a_huge_picture_is_still_only_read_by_its_header() -> None:
    assert sniff_bytes(images.png_bomb(5000)) == "image/png"


def test_only_a_raster_image_is_inline_and_every_response_is_locked_down() -> None:
    image = file_response(io.BytesIO(images.image_bytes("GIF")), file_name="a.html")
    assert (image["Content-Type"], image["Content-Disposition"]) == ("image/gif", 'inline; filename="a.html"')
    page = file_response(io.BytesIO(b"<html></html>"), file_name="a.gif")
    assert (page["Content-Type"], page["Content-Disposition"]) == (OCTET_STREAM, 'attachment; filename="a.gif"')
    for response in (image, page):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == FILE_CSP == "sandbox; default-src 'none'"


def test_display_names_lose_paths_and_odd_characters() -> None:
    assert safe_display_name("../../etc/passwd") == "passwd"
    assert safe_display_name("C:\\Users\\me\\photo 1.png") == "photo_1.png"
    assert safe_display_name("") == "file"
    assert safe_display_name('a"b;c.pdf') == "abc.pdf"
