"""
Finer planner statistics for the full-text document.

With the default sample PostgreSQL keeps only the commonest words, guesses any
other word matches a few thousand listings, and then walks every published
listing newest first looking for a word that a few dozen contain. A larger
sample lists the rare words too, so it reads them from the GIN index instead.
Changing a column's statistics target does not block reads or writes.
"""

from django.db import migrations


class SearchDocumentStatisticsOnPostgres(migrations.operations.base.Operation):
    reduces_to_sql = False
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def _set(self, schema_editor, target):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                "ALTER TABLE listings_listing "
                f"ALTER COLUMN search_document SET STATISTICS {target}"
            )
            schema_editor.execute("ANALYZE listings_listing")

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._set(schema_editor, 1000)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._set(schema_editor, -1)

    def describe(self):
        return "Sample the full-text document more finely on PostgreSQL"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("listings", "0007_listing_search_document"),
    ]

    operations = [SearchDocumentStatisticsOnPostgres()]
