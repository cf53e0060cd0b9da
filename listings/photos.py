"""
Checks and re-encodes uploaded listing photos.

Nothing the owner uploads is stored as sent: the file is decoded by Pillow,
turned upright, stripped of EXIF/GPS and every other metadata, and written
again as WebP in the sizes the pages use.
"""

import io
import warnings
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PHOTOS = 15
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
# Widths the pages use: gallery, cards on wide screens, cards on phones.
SIZES = {"large": 1600, "medium": 800, "thumb": 400}
WEBP_QUALITY = 80


@dataclass
class EncodedPhoto:
    width: int
    height: int
    large: bytes
    medium: bytes
    thumb: bytes


def _open_checked(data: bytes, name: str) -> Image.Image:
    # Pillow only warns between its own limit and twice that; a photo site
    # should refuse both, so warnings become errors here.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValidationError(
                _(
                    "%(name)s would expand to an enormous image in memory "
                    "(a so-called decompression bomb) and was refused."
                ),
                code="bomb",
                params={"name": name},
            ) from None
        except (UnidentifiedImageError, OSError, ValueError):
            raise ValidationError(
                _(
                    "%(name)s is not a photo we can read. Upload a JPEG, PNG or "
                    "WebP picture."
                ),
                code="not_image",
                params={"name": name},
            ) from None
    if image.format not in ALLOWED_FORMATS:
        raise ValidationError(
            _(
                "%(name)s is a %(format)s file. Only JPEG, PNG and WebP photos "
                "are accepted."
            ),
            code="format",
            params={"name": name, "format": image.format or _("unknown")},
        )
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ValidationError(
            _(
                "%(name)s is %(mp)s megapixels; the limit is 40. Resize it and "
                "upload it again."
            ),
            code="pixels",
            params={"name": name, "mp": round(width * height / 1_000_000, 1)},
        )
    return image


def validate_photo(uploaded) -> bytes:
    """Returns the file's bytes when it is an acceptable photo; raises otherwise."""
    name = getattr(uploaded, "name", "") or _("The file")
    if uploaded.size > MAX_BYTES:
        raise ValidationError(
            _("%(name)s is %(size)s; photos can be at most 10 MB."),
            code="size",
            params={"name": name, "size": filesizeformat(uploaded.size)},
        )
    uploaded.seek(0)
    data = uploaded.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValidationError(
            _("%(name)s is larger than 10 MB."), code="size", params={"name": name}
        )
    image = _open_checked(data, name)
    try:
        image.verify()
    except Exception:
        raise ValidationError(
            _("%(name)s is damaged or not really a photo. Try another file."),
            code="broken",
            params={"name": name},
        ) from None
    return data


def encode_photo(data: bytes, name: str = "") -> EncodedPhoto:
    """Decodes an accepted photo and writes the clean WebP renditions."""
    image = _open_checked(data, name)
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except Exception:
        raise ValidationError(
            _("%(name)s is damaged or not really a photo. Try another file."),
            code="broken",
            params={"name": name},
        ) from None
    if image.mode not in ("RGB", "RGBA"):
        has_alpha = image.mode in ("LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    renditions = {}
    for size_name, width in SIZES.items():
        copy = image.copy()
        copy.thumbnail((width, width * 4), Image.Resampling.LANCZOS)
        # A fresh image carries no EXIF, GPS, XMP or ICC data from the upload.
        clean = Image.new(copy.mode, copy.size)
        clean.paste(copy)
        out = io.BytesIO()
        clean.save(out, format="WEBP", quality=WEBP_QUALITY, method=4)
        renditions[size_name] = out.getvalue()
    return EncodedPhoto(width=image.width, height=image.height, **renditions)
