"""
A newest-first index per locality and property type, for the search page's
commonest shape, and fresh planner statistics for the full-text index.

The rent is the index's last column: PostgreSQL checks rent bounds on the index
entries while it walks them newest first, so the capped count and the page's
keys never visit the table, and a deep page skips index entries rather than
rows. Built with CREATE INDEX CONCURRENTLY on PostgreSQL, as in 0005, so a live
table is never locked for writes; other databases get a plain index.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(
                app_label, schema_editor, from_state, to_state
            )
        return migrations.AddIndex.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(
                app_label, schema_editor, from_state, to_state
            )
        return migrations.AddIndex.database_backwards(
            self, app_label, schema_editor, from_state, to_state
        )


class AnalyzeListingsOnPostgres(migrations.operations.base.Operation):
    """
    ANALYZE the listings table on PostgreSQL. Statistics for an expression
    index (the full-text one of 0005) are only gathered by an ANALYZE run after
    the index exists; without them the planner cannot tell a rare word from a
    common one.
    """

    reduces_to_sql = False
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("ANALYZE listings_listing")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass

    def describe(self):
        return "Refresh the planner statistics of the listings table on PostgreSQL"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("listings", "0005_listing_search_indexes"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="listing",
            index=models.Index(
                fields=["locality", "property_type", "-published_at", "-id", "rent"],
                condition=models.Q(status="published"),
                name="listing_pub_loc_type_newest",
            ),
        ),
        AnalyzeListingsOnPostgres(),
    ]
