"""
The search page's query: filters read from the URL, localities matched by any
spelling, full-text search, and a capped count so deep result sets stay cheap.
"""

import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlencode

from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from django.utils.html import format_html_join
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from listings import cache as listing_cache
from listings.cards import ListingRef
from listings.forms import SearchForm
from listings.models import Listing, Locality
from nobroker import metrics
from nobroker.numbers import shown
from nobroker.recent import Recent

PAGE_SIZE = 20
# Result sets are counted up to this many and paged no deeper: nobody reads
# past a thousand places, and an exact count of a million rows is slow.
MAX_RESULTS = 1000
MAX_PAGE = MAX_RESULTS // PAGE_SIZE
MAX_WORDS = 8
# Words that carry no meaning in a rental search; left in, they would make the
# full-text query demand them.
STOP_WORDS = {
    "a", "an", "and", "at", "for", "in", "near", "of", "on", "or", "the",
    "to", "with", "rent", "renting", "kathmandu", "ma", "ko",
    "मा", "को", "का", "की", "र", "नजिक", "नजिकै", "भाडा", "भाडामा", "काठमाडौं",
}  # fmt: skip
# Postpositions written onto a Nepali word: "बानेश्वरमा" is "in Baneshwor".
SUFFIXES = ("मा", "को", "का", "की", "तिर", "नजिक")
# Words that mean the same in either script or spelling: any of them finds
# listings written with any other.
SYNONYMS = [
    {"water", "pani", "पानी"},
    {"parking", "पार्किङ", "पार्किंग"},
    {"balcony", "bardali", "बार्दली", "बालकोनी"},
    {"kitchen", "bhansa", "भान्सा"},
    {"furnished", "फर्निचर"},
    {"internet", "wifi", "इन्टरनेट"},
    {"road", "bato", "बाटो", "सडक"},
    {"terrace", "chhat", "छत"},
    {"family", "pariwar", "परिवार"},
    {"student", "students", "विद्यार्थी"},
]
_SYNONYMS = {word: group for group in SYNONYMS for word in group}
SORTS = {
    "newest": ("-published_at", "-id"),
    "rent_asc": ("rent", "id"),
    "rent_desc": ("-rent", "-id"),
}


# Devanagari: the vowel signs, virama and anusvara are marks, not word
# characters to Python's \w, so they are kept explicitly (without this
# "कोठा" fell apart into "क ठ"); the danda is punctuation.
_NOT_WORD = re.compile(r"[^\w\s\u0900-\u0963\u0966-\u097f]")
# Spellings that differ only in how they are typed: chandrabindu for anusvara
# (काठमाडौँ/काठमाडौं), nukta, and the invisible joiners some keyboards insert.
# The same folding is applied by PostgreSQL to the stored documents
# (listings_fold in migration 0010), so a query word and a document word meet.
_FOLD = str.maketrans(
    {"\u0901": "\u0902", "\u093c": None, "\u200c": None, "\u200d": None}
)


def fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_FOLD)


def _normal(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", fold(text).lower()).split())


def locality_data() -> dict:
    """Localities for pickers and spelling matches, cached (they rarely change)."""
    data = listing_cache.local_localities()
    if data is not None:
        return data
    data = metrics.cache_get("localities", listing_cache.LOCALITIES_KEY)
    if data is not None:
        listing_cache.keep_localities_locally(data)
        return data
    rows = list(
        Locality.objects.order_by("district", "name").values(
            "id", "name", "slug", "district", "aliases", "latitude", "longitude"
        )
    )
    spellings: dict[str, list[int]] = {}
    # A district's name finds every locality in it ("Lalitpur", "ललितपुर"),
    # unless it is a locality's own name too (Bhaktapur).
    district_names = {"Lalitpur": ["lalitpur", "ललितपुर"]}
    for district, names in district_names.items():
        for name in names:
            spellings[_normal(name)] = [
                row["id"] for row in rows if row["district"] == district
            ]
    for row in rows:
        names = [row["name"], row["slug"].replace("-", " ")]
        names += [a for a in row["aliases"].split(",") if a.strip()]
        for name in names:
            key = _normal(name)
            if key and row["id"] not in spellings.setdefault(key, []):
                spellings[key].append(row["id"])
    data = {
        "rows": rows,
        "by_id": {row["id"]: row for row in rows},
        "by_slug": {row["slug"]: row["id"] for row in rows},
        "spellings": spellings,
        # The search form's list of names to pick from, written once.
        "options": format_html_join(
            "",
            '<option value="{}">{}</option>',
            ((row["name"], row["district"]) for row in rows),
        ),
    }
    cache.set(listing_cache.LOCALITIES_KEY, data, listing_cache.LOCALITIES_TIMEOUT)
    listing_cache.keep_localities_locally(data)
    return data


def resolve_localities(
    values: list[str], data: dict | None = None
) -> tuple[list[int], list[str]]:
    """Locality slugs, names or other spellings → ids, and the values not known."""
    data = data or locality_data()
    ids, unknown = [], []
    for value in values:
        value = value.strip()
        if not value:
            continue
        normal = _normal(value)
        if value in data["by_slug"]:
            found = [data["by_slug"][value]]
        else:
            found = list(data["spellings"].get(normal, []))
        if not found and len(normal) >= 4:
            # "Baneshwor" finds Old and New Baneshwor.
            for spelling, spelling_ids in data["spellings"].items():
                if f" {normal} " in f" {spelling} ":
                    found += [i for i in spelling_ids if i not in found]
        if found:
            ids += [i for i in found if i not in ids]
        else:
            unknown.append(value[:60])
    return ids, unknown


TYPE_WORDS = {
    "room": "room",
    "rooms": "room",
    "kotha": "room",
    "flat": "flat",
    "flats": "flat",
    "apartment": "apartment",
    "apartments": "apartment",
    "house": "house",
    "houses": "house",
    "ghar": "house",
    "shop": "shop",
    "shops": "shop",
    "office": "shop",
    "shutter": "shop",
    "कोठा": "room",
    "कोठाहरू": "room",
    "फ्ल्याट": "flat",
    "फ्लाट": "flat",
    "अपार्टमेन्ट": "apartment",
    "घर": "house",
    "पसल": "shop",
    "सटर": "shop",
    "अफिस": "shop",
}


def split_text(text: str, data: dict | None = None) -> tuple[list[int], list[str]]:
    """Finds locality names (in any spelling) inside free text; returns the rest."""
    data = data or locality_data()
    known = {w for spelling in data["spellings"] for w in spelling.split()}
    normal = f" {' '.join(_stem(w, known) for w in _normal(text).split())} "
    ids: list[int] = []
    for spelling in sorted(data["spellings"], key=len, reverse=True):
        if f" {spelling} " in normal:
            normal = normal.replace(f" {spelling} ", " ")
            ids += [i for i in data["spellings"][spelling] if i not in ids]
    words = [w for w in normal.split() if w not in STOP_WORDS]
    return ids, words[:MAX_WORDS]


def _stem(word: str, known: set[str]) -> str:
    """A Nepali word without its postposition when the rest is a known name
    or word: "बानेश्वरमा" → "बानेश्वर", "कोठाको" → "कोठा"."""
    for suffix in SUFFIXES:
        stem = word.removesuffix(suffix)
        if stem != word and (stem in known or stem in TYPE_WORDS):
            return stem
    return word


def _alternatives(word: str) -> list[str]:
    return sorted(_SYNONYMS.get(word, {word}))


def nearby_locality_ids(locality_id: int, km: float = 2.5) -> list[int]:
    data = locality_data()
    here = data["by_id"].get(locality_id)
    if here is None:
        return [locality_id]
    lat0, lng0 = float(here["latitude"]), float(here["longitude"])
    result = []
    for row in data["rows"]:
        dlat = (float(row["latitude"]) - lat0) * 111.0
        dlng = (float(row["longitude"]) - lng0) * 111.0 * math.cos(math.radians(lat0))
        if math.hypot(dlat, dlng) <= km:
            result.append(row["id"])
    return result


def parse_bbox(value: str) -> tuple[float, float, float, float] | None:
    """'south,west,north,east' in degrees, or None when it is not that."""
    try:
        south, west, north, east = (float(v) for v in value.split(","))
    except ValueError:
        return None
    if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
        return None
    return south, west, north, east


def localities_in(box: tuple, data: dict) -> list[int]:
    south, west, north, east = box
    return [
        row["id"]
        for row in data["rows"]
        if south <= float(row["latitude"]) <= north
        and west <= float(row["longitude"]) <= east
    ]


def map_points(listings, data: dict) -> list[dict]:
    """The search map's markers: one per locality of the page's results, at the
    locality's centre (a search map never shows a house)."""
    points: dict[int, dict] = {}
    for listing in listings:
        row = data["by_id"].get(listing.locality_id)
        if row is None:
            continue
        point = points.setdefault(
            row["id"],
            {
                "lat": float(row["latitude"]),
                "lng": float(row["longitude"]),
                "label": row["name"],
                "url": "",
                "n": 0,
            },
        )
        point["n"] += 1
        if not point["url"]:
            point["url"] = listing.get_absolute_url()
    for point in points.values():
        point["label"] = f"{point['label']} ({point['n']})"
    return list(points.values())


def text_q(words: list[str]) -> Q:
    """PostgreSQL: listings whose stored document has every word (as a prefix:
    "furnish" finds "furnished"); the words are stripped of every character
    with a meaning in tsquery syntax. The document is kept by a trigger and
    indexed (migration 0007)."""
    raw = " & ".join(
        "(" + " | ".join(f"{alt}:*" for alt in _alternatives(w)) + ")" for w in words
    )
    return Q(search_document=SearchQuery(raw, config="simple", search_type="raw"))


def text_filter(queryset, words: list[str]):
    if not words:
        return queryset
    if connection.vendor == "postgresql":
        return queryset.filter(text_q(words))
    for word in words:
        match = Q()
        # Stored text is not folded here: try the chandrabindu spelling too.
        for alt in _alternatives(word):
            for spelling in {alt, alt.replace("\u0902", "\u0901")}:
                match |= Q(title__icontains=spelling) | Q(
                    description__icontains=spelling
                )
        queryset = queryset.filter(match)
    return queryset


@dataclass
class Search:
    params: dict
    form: SearchForm
    locality_ids: list[int] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # locality_data() as read once for this search (the page reuses it).
    localities: dict = field(default_factory=dict)
    sort: str = "newest"
    page: int = 1

    @cached_property
    def cache_params(self) -> str:
        # Worked out once: a Search is not changed once built, and the same
        # object serves a busy query for a while (RECENT_SEARCHES).
        data = dict(self.form.cleaned_data)
        data.pop("q", None)
        data.pop("sort", None)
        data.pop("locality", None)
        parts = sorted(
            (k, str(v)) for k, v in data.items() if v not in (None, "", [], False)
        )
        return urlencode(
            [
                *parts,
                ("loc", ",".join(map(str, sorted(self.locality_ids)))),
                ("words", " ".join(self.words)),
                ("types", ",".join(sorted(self.types))),
                ("sort", self.sort),
                ("page", self.page),
            ]
        )

    def queryset(self):
        data = self.form.cleaned_data
        qs = Listing.objects.published()
        if self.locality_ids:
            qs = qs.filter(locality_id__in=self.locality_ids)
        if self.types:
            qs = qs.filter(property_type__in=self.types)
        if data.get("rent_min") is not None:
            qs = qs.filter(rent__gte=data["rent_min"])
        if data.get("rent_max") is not None:
            qs = qs.filter(rent__lte=data["rent_max"])
        if data.get("bedrooms"):
            qs = qs.filter(bedrooms__gte=data["bedrooms"])
        if data.get("furnishing"):
            qs = qs.filter(furnishing=data["furnishing"])
        if data.get("parking") == "bike":
            qs = qs.filter(bike_parking__gte=1)
        elif data.get("parking") == "car":
            qs = qs.filter(car_parking__gte=1)
        if data.get("water_min"):
            qs = qs.filter(water_hours__gte=data["water_min"])
        if data.get("tenants"):
            qs = qs.filter(preferred_tenants__in=[data["tenants"], "anyone"])
        if data.get("pets"):
            qs = qs.filter(pets_allowed=True)
        if data.get("available_by"):
            qs = qs.filter(available_from__lte=data["available_by"])
        qs = text_filter(qs, self.words)
        return qs.order_by(*SORTS[self.sort])

    def relax_suggestions(self) -> list[dict]:
        """Links that drop one filter each, for an empty result page."""
        labels = {
            "locality": _("look in any locality"),
            "type": _("include every property type"),
            "rent_min": _("drop the minimum rent"),
            "rent_max": _("drop the maximum rent"),
            "bedrooms": _("accept fewer bedrooms"),
            "furnishing": _("accept any furnishing"),
            "parking": _("drop the parking requirement"),
            "water_min": _("accept fewer hours of water"),
            "tenants": _("drop the preferred tenants filter"),
            "pets": _("drop the pets filter"),
            "available_by": _("accept a later move-in date"),
            "q": _("search without the words"),
        }
        suggestions = []
        for name, label in labels.items():
            if any(v.strip() for v in self.params.get(name, [])):
                rest = [
                    (k, v)
                    for k, values in self.params.items()
                    for v in values
                    if k not in (name, "page") and v.strip()
                ]
                suggestions.append({"label": label, "query": urlencode(rest)})
        return suggestions


# This process's searches built lately, per query and language: a busy search
# page is not validated and resolved again on every request. A Search is
# not changed once built; a change of the localities forgets them all
# (listings/cache.py).
RECENT_SEARCHES = Recent(size=128, seconds=30)


def build_search(querydict) -> Search:
    """The search a query asks for (the same object for the same query and
    language, for a while: see RECENT_SEARCHES)."""
    key = (
        get_language(),
        tuple(sorted((k, tuple(querydict.getlist(k))) for k in querydict)),
    )
    search = RECENT_SEARCHES.get(key)
    if search is None:
        search = _build_search(querydict)
        RECENT_SEARCHES.put(key, search)
    return search


def _build_search(querydict) -> Search:
    params = {k: querydict.getlist(k) for k in querydict}
    form = SearchForm(querydict)
    form.is_valid()
    notes = [
        f"{form.fields[name].label}: {' '.join(errors)}"
        for name, errors in form.errors.items()
        if name in form.fields
    ]
    localities = locality_data()
    locality_ids, unknown = resolve_localities(
        querydict.getlist("locality"), localities
    )
    for value in unknown:
        notes.append(
            _("No locality called “%(name)s”; it was left out.") % {"name": value}
        )
    text_ids, words = split_text(form.cleaned_data.get("q") or "", localities)
    for i in text_ids:
        if i not in locality_ids:
            locality_ids.append(i)
    box = parse_bbox(querydict.get("bbox", ""))
    if box is not None:
        # The map's "search this area": the localities whose centre is in view
        # (within those asked for, if any); none in view finds nothing.
        inside = localities_in(box, localities)
        locality_ids = (
            [i for i in locality_ids if i in inside] if locality_ids else inside
        )
        locality_ids = locality_ids or [0]
    # A property type typed as a word ("flat in Baneswor") filters by type
    # unless types were ticked; every other word is searched in the text.
    types = list(form.cleaned_data.get("type") or [])
    typed = [TYPE_WORDS[w] for w in words if w in TYPE_WORDS]
    if typed:
        words = [w for w in words if w not in TYPE_WORDS]
        if not types:
            types = list(dict.fromkeys(typed))
    sort = form.cleaned_data.get("sort") or "newest"
    page_value = querydict.get("page", "1")
    try:
        page = int(page_value)
        if page < 1:
            raise ValueError
    except ValueError:
        notes.append(
            _("Page “%(page)s” does not exist; showing the first page.")
            % {"page": page_value[:20]}
        )
        page = 1
    if page > MAX_PAGE:
        notes.append(
            _(
                "Only the first %(n)s results can be browsed; narrow the search to see more."
            )
            % {"n": shown(MAX_RESULTS, grouped=True)}
        )
        page = MAX_PAGE
    return Search(
        params=params,
        form=form,
        locality_ids=locality_ids,
        words=words,
        types=types,
        notes=notes,
        sort=sort,
        page=page,
        localities=localities,
    )


# This process's copy of the results it read lately, by their versioned key
# (nobroker/recent.py). Results are not changed by what shows them.
RECENT_RESULTS = Recent(size=128, seconds=10)


def run_search(search: Search) -> dict:
    """One page of results and a capped count: two or three queries, any size."""
    key = listing_cache.search_key(search.cache_params)
    cached = RECENT_RESULTS.read("search", key)
    if cached is not None:
        return cached
    qs = search.queryset()
    # Counts at most MAX_RESULTS + 1 keys, never the whole result set.
    total = qs.order_by().values("pk")[: MAX_RESULTS + 1].count()
    pages = max(1, math.ceil(min(total, MAX_RESULTS) / PAGE_SIZE))
    page = min(search.page, pages)
    offset = (page - 1) * PAGE_SIZE
    listings = []
    if total:
        # The page's keys are found first, in order, from the indexes alone;
        # only those rows are then read, so a deep page skips index entries
        # rather than rows. A page carries a few columns per listing, not
        # models: the cards themselves are cached (listings.cache.card_bodies).
        keys = qs.values("pk")[offset : offset + PAGE_SIZE]
        listings = [
            ListingRef(*row)
            for row in Listing.objects.filter(pk__in=keys)
            .order_by(*SORTS[search.sort])
            .values_list(*ListingRef.FIELDS)
        ]
    result = {
        "listings": listings,
        "total": min(total, MAX_RESULTS),
        "capped": total > MAX_RESULTS,
        "page": page,
        "pages": pages,
    }
    cache.set(key, result, listing_cache.SEARCH_TIMEOUT)
    RECENT_RESULTS.put(key, result)
    return result
