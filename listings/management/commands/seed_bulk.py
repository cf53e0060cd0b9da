"""
Loads a large number of realistic listings into PostgreSQL for load tests.

Rows are generated in Python from precomputed choices and streamed with
PostgreSQL's COPY, one transaction per batch, so a million listings load in a
few minutes. Every bulk listing belongs to a bulk owner whose email ends in
BULK_EMAIL_DOMAIN: that is how the command recognises (and `--reset` removes)
its own rows without touching anything else.

The column list comes from the Listing model itself; a field this command does
not know gets its model default, so the loader keeps working as the model grows.
"""

import copy
import datetime as dt
import json
import operator
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from listings.models import Listing, Locality

BULK_EMAIL_DOMAIN = "bulk.example"

# Share of listings per status; most are live.
STATUS_WEIGHTS = {
    Listing.Status.PUBLISHED: 85,
    Listing.Status.RENTED: 6,
    Listing.Status.ARCHIVED: 3,
    Listing.Status.PENDING: 3,
    Listing.Status.DRAFT: 2,
    Listing.Status.REJECTED: 1,
}
TYPE_WEIGHTS = {
    Listing.PropertyType.ROOM: 35,
    Listing.PropertyType.FLAT: 35,
    Listing.PropertyType.APARTMENT: 10,
    Listing.PropertyType.HOUSE: 10,
    Listing.PropertyType.SHOP: 10,
}
# Monthly rent ranges in NPR by type, before the locality's price level (and,
# for flats and apartments, per bedroom beyond the first).
RENT_RANGES = {
    Listing.PropertyType.ROOM: (4_000, 14_000),
    Listing.PropertyType.FLAT: (10_000, 20_000),
    Listing.PropertyType.APARTMENT: (25_000, 60_000),
    Listing.PropertyType.HOUSE: (45_000, 3_00_000),
    Listing.PropertyType.SHOP: (15_000, 2_00_000),
}
BEDROOMS = {
    Listing.PropertyType.ROOM: [1, 1, 1, 2],
    Listing.PropertyType.FLAT: [1, 2, 2, 2, 3, 3],
    Listing.PropertyType.APARTMENT: [1, 2, 2, 3, 3, 4],
    Listing.PropertyType.HOUSE: [3, 4, 4, 5, 6, 8],
    Listing.PropertyType.SHOP: [0],
}
# Where people most look for rooms: these localities get many more listings.
BUSY_LOCALITIES = {
    "new-baneshwor": 12,
    "koteshwor": 10,
    "kalanki": 9,
    "chabahil": 8,
    "maharajgunj": 7,
    "thamel": 7,
    "kupondole": 6,
    "jhamsikhel": 6,
    "boudha": 6,
    "gongabu": 6,
    "balkumari": 5,
    "imadol": 5,
    "kirtipur": 5,
}
PRICEY_LOCALITIES = {
    "lazimpat",
    "baluwatar",
    "durbarmarg",
    "naxal",
    "maharajgunj",
    "bansbari",
    "jhamsikhel",
    "sanepa",
    "kupondole",
    "pulchowk",
    "thamel",
}
CHEAP_LOCALITIES = {
    "thankot",
    "godawari",
    "nagarkot",
    "jagati",
    "changunarayan",
    "duwakot",
    "tokha",
    "sunakothi",
    "budhanilkantha",
    "gokarneshwor",
    "sitapaila",
}

PRICE_LEVEL = dict.fromkeys(PRICEY_LOCALITIES, 1.4) | dict.fromkeys(
    CHEAP_LOCALITIES, 0.7
)
# Statuses of listings that were published at some point.
LIVED_STATUSES = {
    Listing.Status.PUBLISHED,
    Listing.Status.RENTED,
    Listing.Status.ARCHIVED,
}

FIRST_NAMES = [
    "Ram", "Sita", "Hari", "Gita", "Krishna", "Laxmi", "Bishnu", "Sarita", "Anil",
    "Sunita", "Bikash", "Puja", "Deepak", "Anita", "Suman", "Rekha", "Rajesh",
    "Kamala", "Prakash", "Bina", "Nabin", "Sabina", "Dipesh", "Asha", "Roshan",
]  # fmt: skip
LAST_NAMES = [
    "Shrestha", "Maharjan", "Tamang", "Gurung", "Thapa", "Karki", "Adhikari", "Rai",
    "Magar", "Pradhan", "Joshi", "Bajracharya", "Shakya", "Khadka", "Basnet",
    "Poudel", "Sharma", "Dahal", "KC", "Manandhar",
]  # fmt: skip
ADJECTIVES = [
    "Sunny", "Spacious", "Bright", "Quiet", "Cosy", "Airy", "Newly painted",
    "Modern", "Peaceful", "Clean", "Well-lit", "Comfortable", "Affordable", "Roomy",
]  # fmt: skip
TYPE_WORDS = {
    Listing.PropertyType.ROOM: ["single room", "double room", "room", "furnished room"],
    Listing.PropertyType.FLAT: ["flat", "flat", "BHK flat", "family flat"],
    Listing.PropertyType.APARTMENT: ["apartment", "apartment unit", "city apartment"],
    Listing.PropertyType.HOUSE: ["house", "whole house", "bungalow", "family house"],
    Listing.PropertyType.SHOP: ["shop space", "office space", "shutter", "showroom"],
}
PLACES = [
    "chowk",
    "main road",
    "ring road",
    "the temple",
    "the school",
    "the hospital",
    "the bus stop",
    "the market",
    "the college",
    "the park",
]
# Words most descriptions contain, so free-text search has very common terms.
COMMON_SENTENCES = [
    "Good water supply and parking for a motorbike.",
    "The water supply is regular and the road is pitched.",
    "Kitchen and bathroom are clean, with enough sunlight all day.",
    "Sunlight in the morning, quiet neighbourhood, close to the main road.",
    "Parking is available and the owner lives on the ground floor.",
    "Electricity through a sub-meter, water from the municipal line and a boring.",
    "Walking distance to the market, school and public transport.",
    "A balcony with a view of the hills on a clear day.",
    "Newly painted walls, tiled floor and a big window.",
    "Family environment, the owner prefers tenants who stay long.",
    "Internet fibre is already installed in the building.",
    "Solar water heater on the roof and a water tank with a pump.",
    "Safe area with CCTV at the gate and a caretaker.",
    "Terrace access for drying clothes.",
    "Earthquake resistant building, completed after 2015.",
]
# Words a few listings contain, so free-text search also has rare terms.
RARE_WORDS = [
    "jacuzzi",
    "sauna",
    "rooftop-garden",
    "piano",
    "chandelier",
    "fireplace",
    "greenhouse",
    "aquarium",
    "treehouse",
    "billiards",
]
# About one listing in this many mentions a rare word.
RARE_EVERY = 2_000
RARE_SENTENCE = "It also has a {word} that the owner is proud of."
STREETS = [
    "Marga",
    "Path",
    "Tole",
    "Galli",
    "Sadak",
]
AMENITIES = [
    "balcony",
    "terrace",
    "geyser",
    "solar",
    "power_backup",
    "cctv",
    "security_guard",
    "lift",
    "garden",
    "wifi",
]

# The fields this command fills itself; any other concrete field gets its default.
GENERATED = [
    "owner_id",
    "status",
    "rejection_reason",
    "title",
    "slug",
    "description",
    "property_type",
    "locality_id",
    "street",
    "landmark",
    "latitude",
    "longitude",
    "rent",
    "deposit",
    "negotiable",
    "bedrooms",
    "bathrooms",
    "bathroom_type",
    "kitchen",
    "living_room",
    "floor",
    "furnishing",
    "bike_parking",
    "car_parking",
    "water_source",
    "water_hours",
    "electricity_billing",
    "electricity_rate",
    "road_width_feet",
    "road_surface",
    "internet",
    "amenities",
    "preferred_tenants",
    "pets_allowed",
    "non_veg_allowed",
    "minimum_stay_months",
    "available_from",
    "created_at",
    "updated_at",
    "published_at",
    "expires_at",
]


def bulk_listings():
    return Listing.objects.filter(owner__email__endswith=f"@{BULK_EMAIL_DOMAIN}")


def bulk_owners():
    return User.objects.filter(email__endswith=f"@{BULK_EMAIL_DOMAIN}")


def weighted_table(weights: dict, size: int = 1000) -> list:
    """A list to draw from with random.choice: each key repeated by its weight."""
    total = sum(weights.values())
    table = []
    for key, weight in weights.items():
        value = getattr(key, "value", key)
        table.extend([value] * max(1, round(size * weight / total)))
    return table


class ProgressBar:
    """A plain progress bar on stderr: count, rate and time left."""

    def __init__(self, total: int, stream=None, width: int = 30):
        self.total = max(total, 1)
        self.done = 0
        self.width = width
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.interactive = self.stream.isatty()
        self.last_decile = -1

    def update(self, count: int):
        self.done += count
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else 0
        filled = int(self.width * self.done / self.total)
        line = (
            f"[{'#' * filled}{'.' * (self.width - filled)}] "
            f"{self.done:,}/{self.total:,} {100 * self.done / self.total:5.1f}% "
            f"{rate:,.0f} rows/s, {left:.0f}s left"
        )
        if self.interactive:
            self.stream.write("\r" + line)
        else:
            decile = int(10 * self.done / self.total)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


class RowMaker:
    """
    Generates listing rows (tuples in `columns` order) from a seeded RNG.

    Speed comes from drawing whole groups of facts at once: the facts that do
    not depend on each other are precomputed as a pool of combinations, titles
    and slugs are memoised, and each row costs a handful of random draws.
    """

    POOL = 8192

    def __init__(self, *, rng, localities, owner_ids, now, columns, defaults):
        self.rng = rng
        self.now = now
        self.owner_ids = owner_ids
        weights = {loc["id"]: BUSY_LOCALITIES.get(loc["slug"], 1) for loc in localities}
        by_id = {loc["id"]: loc for loc in localities}
        self.locality_table = [by_id[i] for i in weighted_table(weights, size=2000)]
        self.status_table = weighted_table(STATUS_WEIGHTS)
        self.type_table = weighted_table(TYPE_WEIGHTS)
        self.year_seconds = 365 * 24 * 3600
        self.facts = [self.draw_facts() for _ in range(self.POOL)]
        self.bodies = [
            " ".join(rng.sample(COMMON_SENTENCES, rng.randint(3, 6)))
            for _ in range(self.POOL)
        ]
        self.titles = {}
        # Each row is the generated values, then the per-row defaults, then the
        # constant ones; an itemgetter puts them in column order in one call.
        constants = {k: v for k, v in defaults.items() if not isinstance(v, PerRow)}
        per_row = {k: v for k, v in defaults.items() if isinstance(v, PerRow)}
        names = GENERATED + list(per_row) + list(constants)
        self.constants = tuple(constants.values())
        self.per_row = tuple(per_row.values())
        self.order = operator.itemgetter(*(names.index(c) for c in columns))

    def with_rng(self, rng) -> "RowMaker":
        """The same pools, drawn from with another random stream."""
        maker = copy.copy(self)
        maker.rng = rng
        return maker

    def draw_facts(self) -> tuple:
        """One combination of the facts that are independent of type and place."""
        rng = self.rng
        choice = rng.choice
        billing = choice(
            weighted_table(
                {
                    Listing.ElectricityBilling.SUBMETER: 60,
                    Listing.ElectricityBilling.OWNER_RATE: 30,
                    Listing.ElectricityBilling.INCLUDED: 10,
                }
            )
        )
        bike = choice((0, 1, 1, 2, 2, 3, 4))
        return (
            rng.random() < 0.4,  # negotiable
            "attached" if rng.random() < 0.6 else "shared",
            choice((0, 0, 1, 1, 2, 2, 3, 4, 5)),  # floor
            choice(["unfurnished"] * 6 + ["semi"] * 3 + ["full"]),
            bike,
            choice((0, 0, 0, 1, 1, 2)) if bike else 0,
            choice(
                ["municipal"] * 6
                + ["boring"] * 5
                + ["mixed"] * 5
                + ["tanker"] * 3
                + ["jar"]
            ),  # fmt: skip
            choice((2, 3, 4, 6, 8, 12, 12, 24, 24)),  # water hours
            billing,
            (
                Decimal(rng.randint(24, 30)) / 2
                if billing == Listing.ElectricityBilling.OWNER_RATE
                else None
            ),
            choice((8, 10, 12, 13, 16, 20, 24, None)),  # road width
            choice(("pitched", "pitched", "gravel", "dirt", "")),
            rng.random() < 0.6,  # internet
            json.dumps(sorted(rng.sample(AMENITIES, rng.randint(0, 5)))),
            choice(
                ["anyone"] * 9
                + ["family"] * 6
                + ["professionals"] * 3
                + ["students"] * 2
            ),  # fmt: skip
            rng.random() < 0.2,  # pets
            rng.random() < 0.85,  # non-veg
            choice((0, 3, 6, 6, 12, 12)),  # minimum stay
            f"Near {choice(PLACES)}",
            choice(STREETS),
            rng.random() < 0.3,  # has a map pin
            choice((0, 1, 1, 2, 2, 3)),  # deposit in months of rent
        )

    def title(self, adjective: str, type_word: str, loc: dict, place: str):
        key = (adjective, type_word, loc["id"], place)
        found = self.titles.get(key)
        if found is None:
            title = f"{adjective} {type_word} near {loc['name']} {place}"
            found = self.titles[key] = (title, slugify(title)[:140] or "listing")
        return found

    def row(self) -> tuple:
        rng = self.rng
        random = rng.random
        status = self.status_table[int(random() * len(self.status_table))]
        ptype = self.type_table[int(random() * len(self.type_table))]
        loc = self.locality_table[int(random() * len(self.locality_table))]
        (
            negotiable,
            bathroom_type,
            floor,
            furnishing,
            bike,
            car,
            water_source,
            water_hours,
            billing,
            rate,
            road_width,
            road_surface,
            internet,
            amenities,
            tenants,
            pets,
            non_veg,
            min_stay,
            landmark,
            street,
            pinned,
            deposit_months,
        ) = self.facts[int(random() * self.POOL)]
        rooms = BEDROOMS[ptype]
        bedrooms = rooms[int(random() * len(rooms))]
        low, high = RENT_RANGES[ptype]
        rent = (low + random() * (high - low)) * PRICE_LEVEL.get(loc["slug"], 1.0)
        if ptype in (Listing.PropertyType.FLAT, Listing.PropertyType.APARTMENT):
            rent *= 1 + 0.6 * (bedrooms - 1)
        rent = max(500, int(rent / 500) * 500)
        words = TYPE_WORDS[ptype]
        type_word = words[int(random() * len(words))]
        if type_word == "BHK flat":
            type_word = f"{bedrooms}BHK flat"
        title, slug = self.title(
            ADJECTIVES[int(random() * len(ADJECTIVES))],
            type_word,
            loc,
            PLACES[int(random() * len(PLACES))],
        )
        description = (
            f"{type_word.capitalize()} for rent in {loc['name']}"
            f"{f' with {bedrooms} bedrooms' if bedrooms > 1 else ''}. "
            f"{self.bodies[int(random() * self.POOL)]}"
        )
        if random() * RARE_EVERY < 1:
            word = RARE_WORDS[int(random() * len(RARE_WORDS))]
            description += " " + RARE_SENTENCE.format(word=word)
        created = self.now - dt.timedelta(seconds=int(random() * self.year_seconds))
        published = expires = None
        if status in LIVED_STATUSES:
            published = min(
                created + dt.timedelta(minutes=5 + int(random() * 5760)), self.now
            )
            if status == Listing.Status.PUBLISHED:
                # Live listings were confirmed by their owners: they expire ahead.
                expires = self.now + dt.timedelta(hours=1 + int(random() * 1440))
            else:
                expires = published + dt.timedelta(days=60)
        generated = (
            self.owner_ids[int(random() * len(self.owner_ids))],
            status,
            "Photos do not show the place." if status == "rejected" else "",
            title,
            slug,
            description,
            ptype,
            loc["id"],
            f"{loc['name']} {street} {1 + int(random() * 40)}",
            landmark,
            loc["latitude"] if pinned else None,
            loc["longitude"] if pinned else None,
            rent,
            rent * deposit_months,
            negotiable,
            bedrooms,
            max(1, bedrooms - (random() < 0.3)),
            bathroom_type,
            ptype != Listing.PropertyType.SHOP,
            bedrooms >= 2,
            floor,
            furnishing,
            bike,
            car,
            water_source,
            water_hours,
            billing,
            rate,
            road_width,
            road_surface,
            internet,
            amenities,
            tenants,
            pets,
            non_veg,
            min_stay,
            (created + dt.timedelta(days=int(random() * 45))).date(),
            created,
            published or created,
            published,
            expires,
        )
        if self.per_row:
            generated += tuple(default() for default in self.per_row)
        return self.order(generated + self.constants)


class PerRow:
    """A default computed afresh for each row (the field's default is callable)."""

    def __init__(self, field, connection):
        self.field = field
        self.connection = connection

    def __call__(self):
        return self.field.get_db_prep_value(
            self.field.get_default(), self.connection, prepared=False
        )


def copy_columns(connection) -> tuple[list[str], list[str], dict]:
    """
    The listing table's columns to COPY, from the model's concrete fields.

    Returns the database column names, the matching attribute names, and the
    default of each field this command does not generate itself: a value, or
    a PerRow when the model's default is callable (a fresh UUID per row...).
    Columns the database fills (the primary key, generated columns, fields
    with a database default) are left out.
    """
    db_columns, attnames, defaults = [], [], {}
    now = timezone.now()
    for field in Listing._meta.concrete_fields:
        if field.primary_key or getattr(field, "generated", False):
            continue
        if field.attname not in GENERATED:
            if field.db_default is not models.NOT_PROVIDED:
                continue
            if getattr(field, "auto_now", False) or getattr(
                field, "auto_now_add", False
            ):
                defaults[field.attname] = field.get_db_prep_value(
                    now, connection, prepared=False
                )
            elif callable(field.default):
                defaults[field.attname] = PerRow(field, connection)
            else:
                defaults[field.attname] = field.get_db_prep_value(
                    field.get_default(), connection, prepared=False
                )
        db_columns.append(field.column)
        attnames.append(field.attname)
    return db_columns, attnames, defaults


class Command(BaseCommand):
    help = (
        "Loads many realistic listings into PostgreSQL (for load tests and the "
        "benchmark). Tops up to --listings bulk listings; --reset removes them first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--listings",
            type=int,
            default=1_000_000,
            help="How many bulk listings there should be in the end (default 1,000,000).",
        )
        parser.add_argument(
            "--owners",
            type=int,
            default=3000,
            help="How many bulk owner accounts own them (default 3000).",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=50_000,
            help="Rows per COPY transaction (default 50,000).",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=2,
            help="Batches loaded at once, each on its own connection (default 2).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=2026,
            help="Random seed: the same seed gives the same listings.",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help=f"First delete every bulk listing and owner (emails @{BULK_EMAIL_DOMAIN}).",
        )
        parser.add_argument(
            "--no-progress",
            action="store_true",
            help="Do not draw the progress bar.",
        )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "seed_bulk needs PostgreSQL (it loads rows with COPY). "
                "Set DATABASE_URL=postgres://... and run it again."
            )
        target = options["listings"]
        batch = options["batch"]
        if target < 0 or min(options["owners"], batch, options["jobs"]) < 1:
            raise CommandError(
                "--listings must be 0 or more; --owners, --batch and --jobs at least 1."
            )
        if not Locality.objects.exists():
            raise CommandError("No localities: run `manage.py migrate` first.")

        started = time.monotonic()
        if options["reset"]:
            self.reset()

        existing = bulk_listings().count()
        missing = target - existing
        if missing <= 0:
            self.stdout.write(
                f"{existing:,} bulk listings there (asked for {target:,}): "
                + (
                    "done."
                    if options["reset"]
                    else "nothing to add. Use --reset to load them again."
                )
            )
            return

        owner_ids = self.ensure_owners(options["owners"])
        db_columns, attnames, defaults = copy_columns(connection)
        localities = list(
            Locality.objects.values("id", "slug", "name", "latitude", "longitude")
        )
        maker = RowMaker(
            rng=random.Random(f"{options['seed']}:pools"),
            localities=localities,
            owner_ids=owner_ids,
            now=timezone.now().replace(minute=0, second=0, microsecond=0),
            columns=attnames,
            defaults=defaults,
        )
        table = connection.ops.quote_name(Listing._meta.db_table)
        column_sql = ", ".join(connection.ops.quote_name(c) for c in db_columns)
        copy_sql = f"COPY {table} ({column_sql}) FROM STDIN"
        jobs = options["jobs"]
        threaded = jobs > 1

        def load_batch(index: int, size: int) -> int:
            # Each batch has its own random stream, so the rows do not depend on
            # how many jobs load them; continuing a load draws other streams.
            rng = random.Random(f"{options['seed']}:{existing}:{index}")
            make_row = maker.with_rng(rng).row
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    # A larger pending list lets full-text (GIN) indexes take
                    # the rows in big sorted runs instead of one at a time.
                    cursor.execute("SET LOCAL gin_pending_list_limit = '128MB'")
                    with cursor.copy(copy_sql) as stream:
                        write_row = stream.write_row
                        for _ in range(size):
                            write_row(make_row())
            finally:
                if threaded:
                    connection.close()  # gives this thread's connection back
            return size

        self.stdout.write(
            f"Loading {missing:,} listings ({existing:,} already there) "
            f"for {len(owner_ids):,} owners, {jobs} at a time..."
        )
        progress = None if options["no_progress"] else ProgressBar(missing)
        sizes = [min(batch, missing - start) for start in range(0, missing, batch)]
        if threaded:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [
                    pool.submit(load_batch, index, size)
                    for index, size in enumerate(sizes)
                ]
                try:
                    for future in as_completed(futures):
                        loaded = future.result()
                        if progress:
                            progress.update(loaded)
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
        else:
            for index, size in enumerate(sizes):
                load_batch(index, size)
                if progress:
                    progress.update(size)
        if progress:
            progress.close()

        with connection.cursor() as cursor:
            # Move what is left in GIN pending lists into the indexes proper:
            # a search would otherwise scan the pending list every time.
            cursor.execute(
                "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am a ON a.oid = c.relam "
                "WHERE a.amname = 'gin' AND i.indrelid = %s::regclass",
                [Listing._meta.db_table],
            )
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"ANALYZE {connection.ops.quote_name(User._meta.db_table)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {missing:,} listings in {time.monotonic() - started:.0f}s; "
                f"{existing + missing:,} bulk listings in all."
            )
        )

    def ensure_owners(self, count: int) -> list[int]:
        have = bulk_owners().count()
        if have < count:
            password = make_password(None)  # nobody can log in as a bulk owner
            joined = timezone.now() - dt.timedelta(days=400)
            rng = random.Random(have)
            User.objects.bulk_create(
                [
                    User(
                        email=f"owner{n}@{BULK_EMAIL_DOMAIN}",
                        full_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                        role=User.Role.OWNER,
                        email_verified=True,
                        password=password,
                        date_joined=joined + dt.timedelta(minutes=n),
                    )
                    for n in range(have, count)
                ],
                batch_size=1000,
                ignore_conflicts=True,
            )
        return list(bulk_owners().order_by("pk").values_list("pk", flat=True)[:count])

    def reset(self):
        """Deletes bulk listings (with what refers to them) and bulk owners."""
        ids = list(bulk_listings().order_by("pk").values_list("pk", flat=True))
        self.stdout.write(f"Deleting {len(ids):,} bulk listings...")
        step = 20_000
        for start in range(0, len(ids), step):
            chunk = ids[start : start + step]
            # The ORM deletes what refers to the listings too; a range of
            # primary keys and only the key loaded keep each chunk cheap.
            with transaction.atomic():
                bulk_listings().filter(pk__gte=chunk[0], pk__lte=chunk[-1]).only(
                    "pk"
                ).delete()
        bulk_owners().delete()
