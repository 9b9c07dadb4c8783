"""Amazon marketplaces: id, country, region, currency (with minor units) and default language.

Source: CONTRACT.md §9 (Amazon's "Marketplace IDs" and "SP-API Endpoints" pages). The default
language_tag of BE, SA, IE, EG and ZA is not documented by Amazon; the values here are our best
reading and can be overridden per marketplace in ``reconciler.yaml`` (``language_tag``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Marketplace:
    code: str  # the code sellers and Amazon's docs use (UK, not GB)
    country: str
    marketplace_id: str
    region: str  # NA | EU | FE
    currency: str  # ISO 4217
    minor_units: int  # decimals of the currency (JPY 0)
    language_tag: str  # default language_tag of listings in that store


REGION_HOSTS = {
    "NA": "https://sellingpartnerapi-na.amazon.com",
    "EU": "https://sellingpartnerapi-eu.amazon.com",
    "FE": "https://sellingpartnerapi-fe.amazon.com",
}
SANDBOX_HOSTS = {r: h.replace("https://", "https://sandbox.") for r, h in REGION_HOSTS.items()}
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"  # noqa: S105 (a URL)

_TABLE = [
    # code, country, id, region, currency, minor units, language
    ("US", "United States", "ATVPDKIKX0DER", "NA", "USD", 2, "en_US"),
    ("CA", "Canada", "A2EUQ1WTGCTBG2", "NA", "CAD", 2, "en_CA"),
    ("MX", "Mexico", "A1AM78C64UM0Y8", "NA", "MXN", 2, "es_MX"),
    ("BR", "Brazil", "A2Q3Y263D00KWC", "NA", "BRL", 2, "pt_BR"),
    ("UK", "United Kingdom", "A1F83G8C2ARO7P", "EU", "GBP", 2, "en_GB"),
    ("DE", "Germany", "A1PA6795UKMFR9", "EU", "EUR", 2, "de_DE"),
    ("FR", "France", "A13V1IB3VIYZZH", "EU", "EUR", 2, "fr_FR"),
    ("IT", "Italy", "APJ6JRA9NG5V4", "EU", "EUR", 2, "it_IT"),
    ("ES", "Spain", "A1RKKUPIHCS9HS", "EU", "EUR", 2, "es_ES"),
    ("NL", "Netherlands", "A1805IZSGTT6HS", "EU", "EUR", 2, "nl_NL"),
    ("SE", "Sweden", "A2NODRKZP88ZB9", "EU", "SEK", 2, "sv_SE"),
    ("PL", "Poland", "A1C3SOZRARQ6R3", "EU", "PLN", 2, "pl_PL"),
    ("BE", "Belgium", "AMEN7PMS3EDWL", "EU", "EUR", 2, "fr_BE"),
    ("TR", "Turkey", "A33AVAJ2PDY3EV", "EU", "TRY", 2, "tr_TR"),
    ("JP", "Japan", "A1VC38T7YXB528", "FE", "JPY", 0, "ja_JP"),
    ("AU", "Australia", "A39IBJ37TRP1C6", "FE", "AUD", 2, "en_AU"),
    ("SG", "Singapore", "A19VAU5U5O7RUS", "FE", "SGD", 2, "en_SG"),
    ("IN", "India", "A21TJRUUN4KGV", "EU", "INR", 2, "en_IN"),
    ("AE", "United Arab Emirates", "A2VIGQ35RCS4UG", "EU", "AED", 2, "en_AE"),
    ("SA", "Saudi Arabia", "A17E79C6D8DWNP", "EU", "SAR", 2, "ar_SA"),
    ("IE", "Ireland", "A28R8C7NBKEWEA", "EU", "EUR", 2, "en_IE"),
    ("EG", "Egypt", "ARBP9OOSHTCHU", "EU", "EGP", 2, "ar_EG"),
    ("ZA", "South Africa", "AE08WJ6YKNBMC", "EU", "ZAR", 2, "en_ZA"),
]

MARKETPLACES: dict[str, Marketplace] = {row[0]: Marketplace(*row) for row in _TABLE}
BY_ID: dict[str, Marketplace] = {m.marketplace_id: m for m in MARKETPLACES.values()}

# Minor units of every currency we know (ISO 4217), including ones no marketplace uses as its
# own but that a rates file may name.
CURRENCY_MINOR_UNITS: dict[str, int] = {m.currency: m.minor_units for m in MARKETPLACES.values()}
CURRENCY_MINOR_UNITS.update({"CNY": 2, "HKD": 2, "CHF": 2, "NOK": 2, "DKK": 2, "KRW": 0})


def canonical_code(code: str) -> str:
    """A marketplace code as the catalog spells it: upper case, ``GB`` as ``UK``."""
    code = code.upper()
    return "UK" if code == "GB" else code


def by_code(code: str) -> Marketplace:
    """Look up a marketplace by code (``UK`` and ``GB`` both work). Raises KeyError."""
    return MARKETPLACES[canonical_code(code)]


def lookup(code_or_id: str) -> Marketplace | None:
    """A marketplace by code or by marketplace id, or None."""
    if code_or_id in BY_ID:
        return BY_ID[code_or_id]
    try:
        return by_code(code_or_id)
    except KeyError:
        return None
