"""
The ads policy: shown to advertisers (`/business/policy/`) and checked in
review. The words below only raise a warning for the reviewer to look at;
the reviewer decides.
"""

import re

from django.utils.translation import gettext_lazy as _

RULES = [
    (
        "broker",
        _("No broker or agent services"),
        _(
            "The site's whole promise is renting without a broker. No ads for "
            "brokers, agents, “dalal” or anyone taking a commission for finding "
            "a place or a tenant."
        ),
    ),
    (
        "exclusion",
        _("No housing ads that exclude people"),
        _(
            "No ad may offer or refuse housing by caste, religion, ethnicity, "
            "origin, gender or marital status."
        ),
    ),
    (
        "payment",
        _("No payment requests"),
        _(
            "No ad may ask people to pay a deposit, a fee or “token money” to "
            "see or reserve a place, or send money to anyone."
        ),
    ),
    (
        "honest",
        _("Honest and clearly an ad"),
        _(
            "The link leads to the advertiser's own https:// site, the domain shown "
            "is that site, and the ad does not pretend to be a listing."
        ),
    ),
]

WATCH_WORDS = {
    "broker": [r"broker", r"dalal", r"agent", r"commission", r"brokerage"],
    "exclusion": [
        r"caste",
        r"brahmin",
        r"dalit",
        r"only (?:for )?(?:hindu|muslim|christian|buddhist)s?",
        r"no (?:muslim|christian|madhesi|foreigner|indian)s?",
        r"religion",
    ],
    "payment": [
        r"token money",
        r"advance (?:fee|payment)",
        r"pay (?:now|first|before)",
        r"send money",
        r"esewa",
        r"khalti",
    ],
}


def warnings(campaign, creatives) -> list[dict]:
    """Phrases in the campaign's words that the policy asks the reviewer to check."""
    rules = {code: title for code, title, _text in RULES}
    found = []
    for creative in creatives:
        text = f"{campaign.name} {creative.headline} {creative.text}".lower()
        for code, patterns in WATCH_WORDS.items():
            for pattern in patterns:
                match = re.search(rf"\b{pattern}\b", text)
                if match:
                    found.append(
                        {
                            "rule": rules[code],
                            "phrase": match.group(0),
                            "creative": creative.headline,
                        }
                    )
    return found
