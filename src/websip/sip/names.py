"""Header names: compact forms, canonical spelling and which headers are lists.

RFC 3261 7.3.1: header names are case-insensitive; 7.3.3 and 20 define the
compact forms. websip writes every header under its canonical long name.
"""

from __future__ import annotations

from websip.exceptions import ParseError

from .abnf import is_token

# RFC 3261 7.3.3 and the extensions that define compact forms
# (RFC 3265 o/u, RFC 3515 r, RFC 3892 b, RFC 3841 j/d, RFC 4028 x, RFC 4474 y, a).
COMPACT_FORMS: dict[str, str] = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "u": "allow-events",
    "r": "refer-to",
    "b": "referred-by",
    "x": "session-expires",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
    "y": "identity",
}

# Known headers, in the spelling websip writes them (RFC 3261 20 and extensions).
# Unknown headers keep the spelling they arrived with.
KNOWN_NAMES = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info",
    "Allow", "Allow-Events", "Authentication-Info", "Authorization", "Call-ID",
    "Call-Info", "Contact", "Content-Disposition", "Content-Encoding",
    "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date",
    "Error-Info", "Event", "Expires", "Flow-Timer", "From", "History-Info",
    "Identity", "Identity-Info", "In-Reply-To", "Max-Forwards", "MIME-Version",
    "Min-Expires", "Min-SE", "Organization", "P-Asserted-Identity",
    "P-Preferred-Identity", "Path", "Priority", "Privacy", "Proxy-Authenticate",
    "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route",
    "Refer-Sub", "Refer-To", "Referred-By", "Reject-Contact", "Replaces",
    "Reply-To", "Request-Disposition", "Require", "Retry-After", "Route", "RSeq",
    "Server", "Service-Route", "Session-Expires", "SIP-ETag", "SIP-If-Match",
    "Subject", "Subscription-State", "Supported", "Timestamp", "To", "Unsupported",
    "User-Agent", "Via", "Warning", "WWW-Authenticate",
)  # fmt: skip
_SPELLING: dict[str, str] = {name.lower(): name for name in KNOWN_NAMES}

# Headers whose field value is a comma-separated list of independent entries
# (RFC 3261 7.3.1): a message keeps each entry as a value of its own, so that
# ``get_headers("Via")`` and ``parse_header("Route", 1)`` see one entry each.
ENTITY_LIST_HEADERS = frozenset(
    {
        "via",
        "contact",
        "route",
        "record-route",
        "path",
        "service-route",
        "p-asserted-identity",
        "p-preferred-identity",
        "reason",
        "warning",
        "accept",
        "alert-info",
        "call-info",
        "error-info",
        "history-info",
        "accept-contact",
        "reject-contact",
    }
)

# Headers whose value is a comma-separated list of tokens: one line is one typed
# value (a list), and a message's ``get_token_list`` joins every line.
TOKEN_LIST_HEADERS = frozenset(
    {
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "allow-events",
        "content-encoding",
        "accept-encoding",
        "accept-language",
        "in-reply-to",
    }
)

_canonical_cache: dict[str, tuple[str, str]] = {}


def canonical_key(name: str) -> str:
    """The lookup key of a header name: lower-case long form."""
    key = name.lower()
    return COMPACT_FORMS.get(key, key)


def canonical_name(name: str) -> str:
    """The spelling websip writes a header name in (``call-id`` -> ``Call-ID``)."""
    return split_name(name)[1]


def split_name(name: str) -> tuple[str, str]:
    """``(key, spelling)`` for a header name, memoised: parsing calls this per line."""
    hit = _canonical_cache.get(name)
    if hit is not None:
        return hit
    if not is_token(name):
        raise ParseError(f"invalid header name {name!r}")
    key = canonical_key(name)
    spelling = _SPELLING.get(key, name)
    if len(_canonical_cache) < 4096:  # bounded: names come from the network
        _canonical_cache[name] = (key, spelling)
    return key, spelling


def spelled(name: str) -> str:
    """The known spelling of a full header name, without compact-form expansion.

    Used for URI headers (``?Replaces=...``), where a one-letter name is just a name.
    """
    return _SPELLING.get(name.lower(), name)


# --------------------------------------------------------------------------
# Keys of a message's header index (message.py)
# --------------------------------------------------------------------------
# A message files its headers under an *index key*: the canonical spelling of a
# known header ("Via", "Call-ID"), else the lower-case name. Keys are spellings
# rather than lower-case names for speed: the names of a typical message are
# written the canonical way by every common UA and proxy, so parse_message can
# index the lines under their names as written and only check, in one C-level
# set operation, that all of them are keys already (KNOWN_SPELLINGS).

KNOWN_SPELLINGS = frozenset(KNOWN_NAMES)
# ENTITY_LIST_HEADERS and TOKEN_LIST_HEADERS as index keys.
ENTITY_LIST_KEYS = frozenset(_SPELLING.get(key, key) for key in ENTITY_LIST_HEADERS)

# Any name a caller or the network used -> its index key. Bounded: names come
# from the network. Seeded with the spellings code uses, so lookups by the
# canonical name never miss.
INDEX_KEYS: dict[str, str] = {name: name for name in KNOWN_NAMES}
_index_names: dict[str, tuple[str, str]] = {}


def index_key(name: str) -> str:
    """The index key of a header name (any case, compact forms accepted); not validated."""
    key = INDEX_KEYS.get(name)
    if key is None:
        key = canonical_key(name)
        key = _SPELLING.get(key, key)
        if len(INDEX_KEYS) < 4096:
            INDEX_KEYS[name] = key
    return key


def index_name(name: str) -> tuple[str, str]:
    """``(index key, spelling)`` of a header name; ParseError if it is not a token."""
    hit = _index_names.get(name)
    if hit is None:
        key, spelling = split_name(name)
        hit = (_SPELLING.get(key, key), spelling)
        if len(_index_names) < 4096:
            _index_names[name] = hit
    return hit
