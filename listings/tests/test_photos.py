import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from listings import services
from listings.photos import MAX_PHOTOS, encode_photo, validate_photo
from listings.tests.factories import ListingFactory, photo_bytes


def upload(data: bytes, name="photo.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims huge dimensions (how a bomb starts)."""
    data = bytearray(photo_bytes("PNG", (8, 8)))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    crc = zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF
    data[29:33] = struct.pack(">I", crc)
    return bytes(data)


def jpeg_with_gps_rotated() -> bytes:
    image = Image.new("RGB", (600, 300), "orange")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    gps = {1: "N", 2: (27.0, 42.0, 55.0), 3: "E", 4: (85.0, 18.0, 44.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_jpeg_png_and_webp_photos_are_accepted(fmt):
    assert validate_photo(upload(photo_bytes(fmt), name=f"p.{fmt.lower()}"))


def test_reencoded_photo_has_no_exif_or_gps_and_is_upright():
    data = jpeg_with_gps_rotated()
    assert Image.open(io.BytesIO(data)).getexif()  # the upload does carry EXIF
    encoded = encode_photo(validate_photo(upload(data)))
    large = Image.open(io.BytesIO(encoded.large))
    assert large.format == "WEBP"
    assert not large.getexif()
    assert "exif" not in large.info and "xmp" not in large.info
    # Orientation 6 means the stored 600x300 picture is shown 300 wide, 600 tall.
    assert (encoded.width, encoded.height) == (300, 600)
    assert large.size == (300, 600)


def test_renditions_are_resized_to_the_page_widths():
    encoded = encode_photo(photo_bytes("JPEG", (3000, 2000)))
    widths = {
        name: Image.open(io.BytesIO(getattr(encoded, name))).width
        for name in ("large", "medium", "thumb")
    }
    assert widths == {"large": 1600, "medium": 800, "thumb": 400}


def test_decompression_bomb_is_refused():
    with pytest.raises(ValidationError) as error:
        validate_photo(upload(png_claiming_size(30_000, 30_000), name="bomb.png"))
    assert error.value.error_list[0].code == "bomb"
    assert "decompression bomb" in error.value.messages[0]


def test_photo_over_40_megapixels_is_refused():
    with pytest.raises(ValidationError) as error:
        validate_photo(upload(png_claiming_size(8000, 6000), name="huge.png"))
    assert error.value.error_list[0].code == "pixels"
    assert "48.0 megapixels" in error.value.messages[0]


def test_text_file_disguised_as_jpeg_is_refused():
    with pytest.raises(ValidationError) as error:
        validate_photo(upload(b"<?php echo 'hi'; ?>" * 50, name="cute.jpg"))
    assert error.value.error_list[0].code == "not_image"


def test_gif_renamed_to_jpg_is_refused():
    with pytest.raises(ValidationError) as error:
        validate_photo(upload(photo_bytes("GIF"), name="photo.jpg"))
    assert error.value.error_list[0].code == "format"
    assert "GIF" in error.value.messages[0]


def test_truncated_jpeg_is_refused():
    data = photo_bytes("JPEG", (800, 600))
    with pytest.raises(ValidationError):
        encode_photo(validate_photo(upload(data[: len(data) // 3])))


def test_file_over_10_mb_is_refused():
    big = upload(photo_bytes("JPEG") + b"\0" * (10 * 1024 * 1024))
    with pytest.raises(ValidationError) as error:
        validate_photo(big)
    assert error.value.error_list[0].code == "size"
    assert "10 MB" in error.value.messages[0]


@pytest.mark.django_db
def test_sixteenth_photo_is_refused():
    listing = ListingFactory()
    data = photo_bytes("JPEG", (120, 90))
    for _ in range(MAX_PHOTOS):
        services.photo_add(listing=listing, data=data)
    with pytest.raises(ValidationError):
        services.photo_add(listing=listing, data=data)
    assert listing.photos.count() == MAX_PHOTOS


@pytest.mark.django_db
def test_stored_photos_get_random_webp_names_and_first_is_cover():
    listing = ListingFactory()
    first = services.photo_add(listing=listing, data=photo_bytes(), name="my-house.jpg")
    second = services.photo_add(
        listing=listing, data=photo_bytes(), name="my-house.jpg"
    )
    assert first.is_cover and not second.is_cover
    names = {first.large.name, first.medium.name, first.thumb.name, second.large.name}
    assert len(names) == 4
    assert all(n.endswith(".webp") and "my-house" not in n for n in names)
    assert first.large.storage.exists(first.large.name)
