"""
Compiles the translations (`locale/<lang>/LC_MESSAGES/*.po` → `.mo`).

    python -m nobroker.translations

The compiled files are built, not committed: `make setup` and `make test` run
this, and so must a deploy's build step. It is pure Python (polib), so a bare
machine without GNU gettext still shows Nepali; extracting new strings
(`manage.py makemessages`) does need GNU gettext (Debian's `gettext`).
"""

from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def compile_all(locale_dir: Path = LOCALE_DIR, *, force: bool = False) -> list[Path]:
    """Writes each catalogue's .mo when the .po is newer; returns those written."""
    written = []
    for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if (
            not force
            and mo_path.exists()
            and mo_path.stat().st_mtime >= po_path.stat().st_mtime
        ):
            continue
        catalogue = polib.pofile(str(po_path))
        # Untranslated and fuzzy entries stay out, as msgfmt leaves them out:
        # the English text shows rather than an empty one.
        for entry in list(catalogue):
            if entry.obsolete or "fuzzy" in entry.flags:
                catalogue.remove(entry)
        catalogue.save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_all():
        print(f"compiled {path.relative_to(LOCALE_DIR.parent)}")
