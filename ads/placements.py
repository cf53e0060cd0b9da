"""
What is sold: the placements, defined here in code (staff see them described
in the admin), and the image sizes each one is shown at.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# Every rendition a creative's image is cut to: name → (width, height).
IMAGE_SIZES = {
    "banner": (1200, 300),
    "banner_phone": (720, 360),
    "card": (800, 600),
    "box": (600, 400),
    "thumb": (160, 160),
}


@dataclass(frozen=True)
class Placement:
    code: str
    name: str
    description: str
    sizes: tuple[str, ...]


PLACEMENTS = {
    p.code: p
    for p in (
        Placement(
            "home",
            _("Home page banner"),
            _("A wide banner under the search box of the home page."),
            ("banner", "banner_phone"),
        ),
        Placement(
            "search",
            _("Card in search results"),
            _(
                "A card among the search results: at most one in every eight "
                "results, never the first."
            ),
            ("card",),
        ),
        Placement(
            "listing",
            _("Box on a listing page"),
            _("A box beside (on phones: below) the owner card of a listing page."),
            ("box",),
        ),
        Placement(
            "inbox",
            _("Line in the inbox"),
            _("One line under the conversations of the messages page."),
            ("thumb",),
        ),
    )
}

PLACEMENT_CHOICES = [(p.code, p.name) for p in PLACEMENTS.values()]
# Search results between two ad cards.
SEARCH_AD_EVERY = 8
# Boosted listings at the top of a results page.
MAX_BOOSTED = 2
