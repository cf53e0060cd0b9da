"""
Indexes for the search page's query shapes and full-text search.

Built with CREATE INDEX CONCURRENTLY on PostgreSQL so a live table is never
locked for writes (which needs a migration outside a transaction). Other
databases get plain indexes; the full-text GIN index exists only on PostgreSQL.
"""

from django.db import migrations, models

from listings.migrations._operations import AddIndexConcurrentlyOnPostgres


# Not partial on purpose: PostgreSQL keeps statistics for an expression index
# only when it covers the whole table, and without them it misjudges how rare
# a word is (and scans the newest-first index row by row for a rare word).
# The expression must stay identical to the one listings.search builds with
# SearchVector("title", "description", config="simple"), or PostgreSQL will not
# use the index.
FULLTEXT_EXPRESSION = (
    "to_tsvector('simple'::regconfig, "
    "COALESCE(\"title\", '') || ' ' || COALESCE(\"description\", ''))"
)


class FullTextIndexOnPostgres(migrations.operations.base.Operation):
    """A GIN index for full-text search; nothing on other databases."""

    reduces_to_sql = False
    reversible = True
    name = "listing_fulltext"

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {self.name} "
            f"ON listings_listing USING gin ({FULLTEXT_EXPRESSION})"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {self.name}")

    def describe(self):
        return "Create the full-text GIN index on PostgreSQL"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("listings", "0004_listing_search_shortlist_report"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='listing',
            index=models.Index(models.OrderBy(models.F('published_at'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status', 'published')), name='listing_pub_newest'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='listing',
            index=models.Index(models.F('locality'), models.OrderBy(models.F('published_at'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status', 'published')), name='listing_pub_loc_newest'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='listing',
            index=models.Index(models.F('rent'), models.F('id'), condition=models.Q(('status', 'published')), name='listing_pub_rent'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='listing',
            index=models.Index(models.F('locality'), models.F('rent'), models.F('id'), condition=models.Q(('status', 'published')), name='listing_pub_loc_rent'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='listing',
            index=models.Index(models.F('locality'), models.F('property_type'), models.F('rent'), models.OrderBy(models.F('published_at'), descending=True), condition=models.Q(('status', 'published')), name='listing_pub_loc_type_rent'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='listing',
            index=models.Index(models.F('status'), models.F('expires_at'), name='listing_status_expires'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='listing',
            index=models.Index(fields=['owner', '-created_at'], name='listing_owner_created'),
        ),
        FullTextIndexOnPostgres(),
    ]
