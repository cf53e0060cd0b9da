"""
The rollup tables indexed for the dashboards' reads, and the similar listings'
figures for the owners' performance pages.

- LocalityDay: (day, locality) carrying the counts the staff dashboard sums per
  locality, instead of the day alone (a table of a few hundred rows a day:
  built in well under a second).
- ListingDay: its separate listing index dropped (the unique (listing, day)
  serves every lookup by listing); dropping an index is instant.
- SimilarFigure: a new, empty table filled by listings_rollup.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("listings", "0013_listing_pub_loc_bedrooms"),
    ]

    operations = [
        migrations.CreateModel(
            name="SimilarFigure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                (
                    "property_type",
                    models.CharField(
                        choices=[
                            ("room", "Room"),
                            ("flat", "Flat"),
                            ("apartment", "Apartment"),
                            ("house", "House"),
                            ("shop", "Shop / office"),
                        ],
                        max_length=10,
                        verbose_name="property type",
                    ),
                ),
                ("bedrooms", models.PositiveSmallIntegerField(verbose_name="bedrooms")),
                ("days", models.PositiveSmallIntegerField(verbose_name="days")),
                ("first", models.DateField(verbose_name="first day")),
                ("last", models.DateField(verbose_name="last day")),
                (
                    "listings",
                    models.PositiveIntegerField(verbose_name="published listings"),
                ),
                (
                    "middle",
                    models.JSONField(default=dict, verbose_name="middle values"),
                ),
                ("built_at", models.DateTimeField(verbose_name="built")),
            ],
            options={
                "ordering": ["locality", "property_type", "bedrooms", "days"],
            },
        ),
        migrations.RemoveIndex(
            model_name="localityday",
            name="locality_day_day",
        ),
        # Only the index goes: Django's AlterField would also drop and re-add
        # the foreign key, checking every row of the table again.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="listingday",
                    name="listing",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="days",
                        to="listings.listing",
                        verbose_name="listing",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "listings_listingday_listing_id_85f4474c"',
                    reverse_sql='CREATE INDEX "listings_listingday_listing_id_85f4474c" '
                    'ON "listings_listingday" ("listing_id")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="localityday",
            index=models.Index(
                fields=["day", "locality"],
                include=(
                    "views",
                    "contacts",
                    "visit_requests",
                    "visits_done",
                    "rented",
                ),
                name="locality_day_day_locality",
            ),
        ),
        migrations.AddField(
            model_name="similarfigure",
            name="locality",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="listings.locality",
                verbose_name="locality",
            ),
        ),
        migrations.AddConstraint(
            model_name="similarfigure",
            constraint=models.UniqueConstraint(
                fields=("locality", "property_type", "bedrooms", "days"),
                name="similar_figure_once",
            ),
        ),
    ]
