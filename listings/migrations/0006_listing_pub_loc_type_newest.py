"""
A newest-first index per locality and property type, for the search page's
commonest shape, and fresh planner statistics for the full-text index.

The rent is the index's last column: PostgreSQL checks rent bounds on the index
entries while it walks them newest first, so the capped count and the page's
keys never visit the table, and a deep page skips index entries rather than
rows. Built with CREATE INDEX CONCURRENTLY on PostgreSQL, as in 0005, so a live
table is never locked for writes; other databases get a plain index.
"""

from django.db import migrations, models

from listings.migrations._operations import (
    AddIndexConcurrentlyOnPostgres,
    AnalyzeListingsOnPostgres,
)


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
