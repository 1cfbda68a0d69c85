"""What kind of image some bytes are, from their first bytes (a server's Content-Type may be wrong)."""

from __future__ import annotations

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_ISO_BRANDS = {b"avif": "image/avif", b"heic": "image/heic", b"heix": "image/heic", b"mif1": "image/heic",
               b"heif": "image/heic"}


def sniff_image_type(data: bytes) -> str | None:
    """``image/png``, ``image/jpeg``, ``image/gif``, ``image/webp``, ``image/avif``, ``image/heic`` or None."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return _ISO_BRANDS.get(data[8:12])
    return None
