"""
Full-text search reads a stored document instead of computing one per row.

Matching a word against to_tsvector(title || description) computed row by row
costs PostgreSQL tens of microseconds a row: fine for a rare word found through
the GIN index, far too slow to count a thousand rows of a common one. The
document is now a column kept by a trigger whenever the title or description
changes, with its own GIN index over published listings.

Done without locking a live table: the column is added empty (no rewrite), the
existing rows are filled in batches of keys, one short transaction each, and the
indexes are created and dropped concurrently. Other databases only get the empty
column; their search matches words in the text itself.
"""

from django.contrib.postgres.search import SearchVectorField
from django.db import migrations

DOCUMENT = (
    "to_tsvector('simple'::regconfig, "
    "COALESCE({row}title, '') || ' ' || COALESCE({row}description, ''))"
)
BATCH = 20_000

CREATE_TRIGGER = f"""
CREATE OR REPLACE FUNCTION listings_listing_search_document() RETURNS trigger AS $$
BEGIN
    NEW.search_document := {DOCUMENT.format(row="NEW.")};
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER listings_listing_search_document
    BEFORE INSERT OR UPDATE OF title, description ON listings_listing
    FOR EACH ROW EXECUTE FUNCTION listings_listing_search_document();
"""
DROP_TRIGGER = """
DROP TRIGGER IF EXISTS listings_listing_search_document ON listings_listing;
DROP FUNCTION IF EXISTS listings_listing_search_document();
"""
OLD_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS listing_fulltext "
    f"ON listings_listing USING gin ({DOCUMENT.format(row='')})"
)


class OnPostgres(migrations.operations.base.Operation):
    """SQL statements run one by one on PostgreSQL only, outside a transaction."""

    reduces_to_sql = False
    reversible = True

    def __init__(self, forwards, backwards, description):
        self.forwards = forwards
        self.backwards = backwards
        self.description = description

    def deconstruct(self):
        return (
            self.__class__.__name__,
            [self.forwards, self.backwards, self.description],
            {},
        )

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            for statement in self.forwards:
                schema_editor.execute(statement, params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            for statement in self.backwards:
                schema_editor.execute(statement, params=None)

    def describe(self):
        return self.description


def fill_documents(apps, schema_editor):
    """Fills the document of existing rows, a range of keys per transaction."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM listings_listing")
        low, high = cursor.fetchone()
        if low is None:
            return
        for start in range(low, high + 1, BATCH):
            cursor.execute(
                "UPDATE listings_listing "
                f"SET search_document = {DOCUMENT.format(row='')} "
                "WHERE id >= %s AND id < %s AND search_document IS NULL",
                [start, start + BATCH],
            )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("listings", "0006_listing_pub_loc_type_newest"),
    ]

    operations = [
        migrations.AddField(
            model_name="listing",
            name="search_document",
            field=SearchVectorField(editable=False, null=True),
        ),
        # The trigger first, so rows written during the fill are kept current.
        OnPostgres(
            [CREATE_TRIGGER],
            [DROP_TRIGGER],
            "Keep listings' full-text documents current on PostgreSQL",
        ),
        migrations.RunPython(fill_documents, migrations.RunPython.noop),
        OnPostgres(
            [
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS listing_search_document "
                "ON listings_listing USING gin (search_document) "
                "WHERE status = 'published'",
                "DROP INDEX CONCURRENTLY IF EXISTS listing_fulltext",
                "ANALYZE listings_listing",
            ],
            [
                OLD_INDEX,
                "DROP INDEX CONCURRENTLY IF EXISTS listing_search_document",
            ],
            "Index the full-text documents of published listings on PostgreSQL; "
            "drop the computed full-text index",
        ),
    ]
