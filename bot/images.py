"""Images for posts: what kind of image some bytes are (a server's Content-Type may be wrong), and
fetching one for a platform, which the publisher does once so that adapters only translate."""

from __future__ import annotations

import threading

from adapters.base import ImageData
from bot.errors import InputError, Permanent, PublishError, Transient

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



def fetch_image(url: str, *, max_bytes: int, timeout: float, allow_private: bool) -> tuple[bytes, str | None]:
    """GET an image with the guarded fetcher: its bytes and the server's Content-Type.

    Raises the fetcher's errors (``bot.fetch``: FetchUnavailable, FetchTooLarge, FetchRefused, InputError).
    """
    from bot.fetch import fetch

    result = fetch(url, max_bytes=max_bytes, timeout=timeout, allow_private=allow_private, accept="image/*")
    return result.body, result.content_type


def fetch_failure(exc: InputError, *, label: str, max_bytes: int) -> PublishError:
    """What a failed image fetch means for a post: ``Transient`` when the host was slow, unreachable or
    failing (a later attempt may get it), else ``Permanent`` (refused, too large, a 4xx)."""
    from bot.fetch import FetchTooLarge, FetchUnavailable

    if isinstance(exc, FetchUnavailable):
        return Transient(f"{label}: could not fetch the image: {exc}")
    if isinstance(exc, FetchTooLarge):
        return too_large(label, max_bytes, str(exc))
    return Permanent(f"{label}: cannot attach the image: {exc}")


def too_large(label: str, max_bytes: int, detail: str) -> Permanent:
    return Permanent(f"{label}: cannot attach the image (posts take images up to {max_bytes:,} bytes): {detail}")


def image_for(
    url: str, body: bytes, content_type: str | None, *, alt: str, max_bytes: int, types: tuple[str, ...],
    label: str,
) -> ImageData:
    """The fetched image as a platform takes it, or ``Permanent`` (empty, too large, not one of ``types``).

    The media type comes from the bytes; the server's ``Content-Type`` counts only when the bytes say
    nothing. ``label`` (the platform's display name) starts the message.
    """
    if not body:
        raise Permanent(f"{label}: cannot attach the image: {url}: the image is empty")
    if len(body) > max_bytes:
        raise too_large(label, max_bytes, f"{url}: response is {len(body):,} bytes, over the {max_bytes:,}-byte limit")
    sniffed = sniff_image_type(body)
    declared = (content_type or "").split(";")[0].strip().lower()
    media_type = sniffed if sniffed is not None else declared
    if media_type not in types:
        raise Permanent(f"{label}: cannot attach the image: {url} is not a {', '.join(types)} image "
                        f"(Content-Type {content_type or 'missing'})")
    return ImageData(body, media_type, alt=alt, url=url)


def load_image(
    fetches: ImageFetches, url: str, *, alt: str, max_bytes: int, types: tuple[str, ...], label: str,
    timeout: float, allow_private: bool,
) -> ImageData:
    """The image at ``url`` as a platform takes it (``fetches`` fetches each URL once per run).

    Raises ``Transient`` (the host may answer later) or ``Permanent`` (see :func:`fetch_failure`,
    :func:`image_for`).
    """
    try:
        body, content_type = fetches.get(url, timeout=timeout, allow_private=allow_private)
    except InputError as exc:
        raise fetch_failure(exc, label=label, max_bytes=max_bytes) from exc
    return image_for(url, body, content_type, alt=alt, max_bytes=max_bytes, types=types, label=label)


class ImageFetches:
    """The images of one publishing run, each fetched once whichever targets attach it.

    Fetched within ``max_bytes`` (the largest any platform takes); each platform's own cap is checked on
    the bytes by :func:`image_for`. A lasting failure is remembered too; one worth retrying is not.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._got: dict[tuple[str, bool], tuple[bytes, str | None] | InputError] = {}
        self._lock = threading.Lock()

    def get(self, url: str, *, timeout: float, allow_private: bool) -> tuple[bytes, str | None]:
        """The image's bytes and Content-Type; raises the fetcher's InputError types."""
        from bot.fetch import FetchUnavailable

        key = (url, allow_private)
        with self._lock:  # held while fetching: a second target waits for the first one's bytes
            known = self._got.get(key)
            if isinstance(known, InputError):
                raise known
            if known is not None:
                return known
            try:
                got = fetch_image(url, max_bytes=self.max_bytes, timeout=timeout, allow_private=allow_private)
            except FetchUnavailable:
                raise
            except InputError as exc:
                self._got[key] = exc
                raise
            self._got[key] = got
            return got
