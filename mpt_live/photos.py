"""Face photos as users bring them (phones, cameras, the web) -> one upright 8-bit BGR image.

``read_photo`` reads the file's bytes itself (so a file it may not open, an empty file or a directory is
named as such, and a non-ASCII path decodes on every platform) and decodes them with OpenCV, which turns
the picture upright by its EXIF orientation and brings greyscale, 16-bit and CMYK pictures to 8-bit BGR.
A picture with transparency (an RGBA/LA PNG or WebP, a palette with a transparent colour) is decoded by
Pillow instead, turned upright by ``ImageOps.exif_transpose`` and laid over a flat grey: OpenCV's colour
decoding drops the alpha channel and shows whatever the transparent pixels hold (often black or noise).
Every failure is a PhotoError (an InputError): one line that names the photo.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

BACKGROUND = 127  # the grey that transparent parts of a photo are shown on
# containers phones write that OpenCV's image codecs cannot read
UNSUPPORTED = {".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


class PhotoError(InputError):
    """A photo that cannot be used; ``reason`` is the message without the photo's name."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


def read_photo(path: str | Path) -> np.ndarray:
    """The photo at ``path`` as an upright uint8 HxWx3 BGR image; PhotoError (one line) when it cannot be."""
    path = Path(path)
    if path.is_file() and not os.access(path, os.R_OK):  # as the faces-folder scan checks it
        raise PhotoError(path, "not readable (permission denied)")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PhotoError(path, "no such file") from None
    except IsADirectoryError:
        raise PhotoError(path, "a directory, not a photo") from None
    except PermissionError:
        raise PhotoError(path, "not readable (permission denied)") from None
    except OSError as e:
        raise PhotoError(path, f"cannot be read ({e.strerror or e})") from None
    if not data:
        raise PhotoError(path, "empty file (0 bytes)")
    image = _with_alpha(data)
    if image is None:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        kind = UNSUPPORTED.get(path.suffix.lower())
        if kind:
            raise PhotoError(path, f"{kind} photos cannot be decoded here; save it as JPEG or PNG")
        raise PhotoError(path, "not an image file OpenCV can decode (damaged, or not an image)")
    return image


def _with_alpha(data: bytes) -> np.ndarray | None:
    """A picture with transparency, upright and over BACKGROUND (BGR); None for one without (or one Pillow
    does not know: OpenCV decodes it)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode not in _ALPHA_MODES and "transparency" not in im.info:
                return None
            rgba = np.asarray(ImageOps.exif_transpose(im).convert("RGBA"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    alpha = rgba[..., 3:].astype(np.uint16)  # 255 * 255 fits 16 bits: no float copy of a large photo
    mixed = rgba[..., :3] * alpha + BACKGROUND * (255 - alpha)
    return np.ascontiguousarray(((mixed + 127) // 255).astype(np.uint8)[..., ::-1])
