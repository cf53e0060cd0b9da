"""
Search in Nepali.

1. Each locality gets its Devanagari name among its other spellings.
2. On PostgreSQL, the stored full-text document is built from folded text:
   NFC, chandrabindu read as anusvara, nukta and the zero-width joiners
   dropped, the same folding `listings.search.fold` applies to a query's
   words. The simple parser keeps a Devanagari word whole (its vowel signs
   are letters to it); what differs between two people typing the same word
   is these marks, so both sides are folded alike. A trigram index would
   also match mistyped words, but at a million listings it is several times
   the size of the GIN index over words and slower to count common words.
   Only the rows with Devanagari text are rewritten.
"""

from django.db import migrations

from listings.localities import DEVANAGARI

FOLD_FUNCTION = """
CREATE OR REPLACE FUNCTION listings_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT translate(normalize(COALESCE(value, ''), NFC), U&'\\0901\\093C\\200C\\200D', U&'\\0902') $$;
"""
DOCUMENT = (
    "to_tsvector('simple'::regconfig, "
    "listings_fold(COALESCE({row}title, '') || ' ' || COALESCE({row}description, '')))"
)
OLD_DOCUMENT = (
    "to_tsvector('simple'::regconfig, "
    "COALESCE({row}title, '') || ' ' || COALESCE({row}description, ''))"
)
TRIGGER = """
CREATE OR REPLACE FUNCTION listings_listing_search_document() RETURNS trigger AS $$
BEGIN
    NEW.search_document := {document};
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""
DEVANAGARI_ROWS = "title ~ '[\\u0900-\\u097F]' OR description ~ '[\\u0900-\\u097F]'"


def add_names(apps, schema_editor):
    Locality = apps.get_model("listings", "Locality")
    for locality in Locality.objects.filter(name__in=DEVANAGARI):
        have = [a.strip() for a in locality.aliases.split(",") if a.strip()]
        new = [n.strip() for n in DEVANAGARI[locality.name].split(",")]
        missing = [n for n in new if n not in have]
        if missing:
            locality.aliases = ", ".join(have + missing)[:200]
            locality.save(update_fields=["aliases"])


def remove_names(apps, schema_editor):
    Locality = apps.get_model("listings", "Locality")
    for locality in Locality.objects.filter(name__in=DEVANAGARI):
        drop = {n.strip() for n in DEVANAGARI[locality.name].split(",")}
        keep = [a.strip() for a in locality.aliases.split(",") if a.strip() not in drop]
        locality.aliases = ", ".join(a for a in keep if a)
        locality.save(update_fields=["aliases"])


def _run(schema_editor, document):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FOLD_FUNCTION)
        cursor.execute(TRIGGER.format(document=document.format(row="NEW.")))
        cursor.execute(
            f"UPDATE listings_listing SET search_document = {document.format(row='')} "
            f"WHERE {DEVANAGARI_ROWS}"
        )


def fold_documents(apps, schema_editor):
    _run(schema_editor, DOCUMENT)


def unfold_documents(apps, schema_editor):
    _run(schema_editor, OLD_DOCUMENT)


class Migration(migrations.Migration):
    dependencies = [("listings", "0009_listing_covering_search_indexes")]

    operations = [
        migrations.RunPython(add_names, remove_names),
        migrations.RunPython(fold_documents, unfold_documents),
    ]
