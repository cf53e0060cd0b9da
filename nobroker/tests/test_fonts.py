"""The Devanagari font the site serves itself (static/fonts, static/css/base.css)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from playwright.sync_api import expect

FONTS = Path(settings.BASE_DIR) / "static" / "fonts"
WEIGHTS = {"regular": 400, "bold": 700}


def test_both_weights_are_woff2_with_the_licence_beside_them():
    for name in WEIGHTS:
        data = (FONTS / f"noto-sans-devanagari-{name}.woff2").read_bytes()
        assert data[:4] == b"wOF2"
        # Subset: a fraction of the full font (about 230 KB a weight).
        assert len(data) < 80_000
    assert "SIL OPEN FONT LICENSE" in (FONTS / "OFL.txt").read_text()


def test_stylesheet_declares_both_faces_for_devanagari_only_and_first():
    css = (Path(settings.BASE_DIR) / "static" / "css" / "base.css").read_text()
    faces = re.findall(r"@font-face\s*{([^}]*)}", css)
    assert len(faces) == 2
    for face, (name, weight) in zip(faces, WEIGHTS.items(), strict=True):
        assert 'font-family: "Noto Sans Devanagari"' in face
        assert f"font-weight: {weight}" in face
        assert "font-display: swap" in face
        assert f"../fonts/noto-sans-devanagari-{name}.woff2" in face
        # Latin text never downloads it.
        assert re.search(r"unicode-range: U\+0900-097F[^;]*;", face)
        assert "U+0000" not in face and "U+0020" not in face
    sans = re.search(r"--font-sans:\s*([^;]*);", css)[1]
    assert sans.startswith('"Noto Sans Devanagari",')


@pytest.mark.parametrize("name", WEIGHTS)
def test_font_is_served_by_the_static_pipeline_as_woff2(client, name):
    response = client.get(static(f"fonts/noto-sans-devanagari-{name}.woff2"))
    assert response.status_code == 200
    assert response["Content-Type"] == "font/woff2"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"wOF2"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_nepali_page_renders_devanagari_in_the_served_font(page, live_server):
    served = []
    page.on(
        "response",
        lambda r: served.append((r.url, r.status)) if ".woff2" in r.url else None,
    )
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "ne", "url": live_server.url}]
    )
    page.goto(live_server.url + reverse("home"))
    expect(page.locator("html")).to_have_attribute("lang", "ne")
    faces = page.evaluate(
        """async () => {
            await document.fonts.ready;
            return [...document.fonts]
              .filter((f) => f.family.replace(/"/g, "") === "Noto Sans Devanagari")
              .map((f) => [f.weight, f.status]);
        }"""
    )
    # The regular face was fetched and used (a face loads only when text in
    # its unicode-range is drawn with it); the bold one for headings.
    assert ["400", "loaded"] in faces, faces
    assert ["700", "loaded"] in faces, faces
    assert page.evaluate(
        """() => document.fonts.check('16px "Noto Sans Devanagari"', "नेपाली")"""
    )
    assert all(status == 200 for _, status in served) and len(served) == 2, served
