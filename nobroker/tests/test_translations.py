"""The Nepali catalogue: complete, consistent, compiled and used by the pages."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from nobroker.translations import compile_all

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "ne" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
SKIP_DIRS = {".venv", ".git", "staticfiles", "media", "node_modules", "test-results"}


def _untranslated(po: polib.POFile) -> list[str]:
    return [e.msgid for e in po if not e.obsolete and (not e.translated() or e.fuzzy)]


@pytest.mark.skipif(
    shutil.which("xgettext") is None,
    reason="GNU gettext (Debian's `gettext` package) is needed to extract strings",
)
def test_every_marked_string_has_a_nepali_translation(tmp_path):
    """Extracts every marked string from a copy of the sources, merged with the
    committed catalogue: any string without a Nepali text fails here."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT,
        copy,
        ignore=lambda d, names: [
            n for n in names if n in SKIP_DIRS or n.endswith((".mo", ".sqlite3"))
        ],
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "ne",
            "--no-location",
            "--no-obsolete",
            "--ignore=bench",
            "-v",
            "0",
        ],
        cwd=copy,
        check=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "1", "HOME": str(tmp_path)},
        timeout=120,
    )
    extracted = polib.pofile(str(copy / "locale/ne/LC_MESSAGES/django.po"))
    missing = _untranslated(extracted)
    assert not missing, (
        f"{len(missing)} marked string(s) have no Nepali translation (run "
        f"`make messages` and translate them): {missing[:20]}"
    )


def test_catalogue_texts_keep_their_placeholders_and_plural_forms():
    po = polib.pofile(str(PO))
    assert "nplurals=2; plural=(n != 1);" in po.metadata["Plural-Forms"]
    assert not po.metadata_is_fuzzy
    assert not _untranslated(po)
    for entry in po:
        known = set(PLACEHOLDER.findall(entry.msgid + (entry.msgid_plural or "")))
        texts = (
            list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        )
        for text in texts:
            # A placeholder the English text lacks would fail at runtime.
            assert set(PLACEHOLDER.findall(text)) <= known, (entry.msgid, text)


def test_compiled_catalogue_translates_and_picks_plural_forms(tmp_path):
    compile_all(force=False)
    with translation.override("ne"):
        assert translation.gettext("Log in") == "लग इन"
        assert translation.ngettext("%(n)s place", "%(n)s places", 1) == "%(n)s ठाउँ"
        assert translation.ngettext("%(n)s place", "%(n)s places", 5) == "%(n)s ठाउँहरू"


@pytest.mark.django_db
def test_home_page_in_nepali_sets_lang_and_translates(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ne"
    response = client.get(reverse("home"))
    html = response.content.decode()
    assert '<html lang="ne">' in html
    assert "दलाल छैन, कमिसन छैन।" in html
    assert response["Content-Language"] == "ne"
