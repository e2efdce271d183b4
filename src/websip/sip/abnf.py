"""RFC 3261 section 25 grammar, as named regular-expression fragments.

Each fragment carries the ABNF it implements in a comment. Fragments are plain
strings, combined into compiled patterns by the modules that use them; every
compiled pattern is applied with ``fullmatch`` (or ``match`` at an explicit
position) so nothing is accepted by accident at either end.

Deliberate leniencies, where real traffic differs from the ABNF, are marked
"lenient:" with the reason.
"""

from __future__ import annotations

import re

# alphanum = ALPHA / DIGIT
ALPHANUM = r"A-Za-z0-9"
# mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
MARK = r"\-_.!~*'()"
# unreserved = alphanum / mark
UNRESERVED = ALPHANUM + MARK
# escaped = "%" HEXDIG HEXDIG  (validated separately, see ESCAPE_ERROR)
ESCAPED = r"%"
# user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
USER_UNRESERVED = r"&=+$,;?/"
# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
PASSWORD_CHARS = UNRESERVED + ESCAPED + r"&=+$,"
# user = 1*( unreserved / escaped / user-unreserved )
USER_CHARS = UNRESERVED + ESCAPED + USER_UNRESERVED
# param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
# paramchar = param-unreserved / unreserved / escaped
PARAM_CHARS = r"\[\]/:&+$" + UNRESERVED + ESCAPED
# hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
# hname = 1*( hnv-unreserved / unreserved / escaped ); hvalue = *( same )
HNV_CHARS = r"\[\]/?:+$" + UNRESERVED + ESCAPED

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
TOKEN_CHARS = ALPHANUM + r"\-.!%*_+`'~"
TOKEN = f"[{TOKEN_CHARS}]+"
# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
#        "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"

# hostname = *( domainlabel "." ) toplabel [ "." ]
# lenient: labels are checked as runs of alphanum and "-" (real names such as
# "-x.invalid" or a toplabel starting with a digit appear in the wild).
HOSTNAME = r"[A-Za-z0-9\-.]+"
# IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
IPV4 = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
# IPv6reference = "[" IPv6address "]"  (the address itself checked by IPV6_ADDRESS)
IPV6_REFERENCE = r"\[[0-9A-Fa-f:.]+\]"
# host = hostname / IPv4address / IPv6reference
HOST = f"(?:{IPV6_REFERENCE}|{HOSTNAME})"
# port = 1*DIGIT  (lenient on length here; the value is range-checked as an int)
PORT = r"[0-9]+"
# The hostname of a SIP URI or Via as dot-separated non-empty labels, so that only
# IPv6 references and hosts ending with a digit need a second look (is_valid_host).
# Possessive quantifiers (*+, ++, ?+) here and in the other fast patterns: nothing
# that may follow can be matched by giving characters back, so they accept exactly
# what the plain quantifiers do, without the engine's bookkeeping for backtracking.
HOSTNAME_LABELS = r"[A-Za-z0-9\-]++(?:\.[A-Za-z0-9\-]++)*+\.?+"

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
# (written as an "unrolled loop": one character class run per step is much faster
# in Python's regex engine than an alternation per character)
QUOTED_CONTENT = r'[^"\\\r\n]*(?:\\[^\r\n][^"\\\r\n]*)*'  # between the quotes
QUOTED_STRING = f'"{QUOTED_CONTENT}"'

# Status-Code = 3DIGIT; SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT
STATUS_CODE = r"[1-6][0-9][0-9]"
SIP_VERSION = r"SIP/2\.0"

# Methods that are known tokens: fast paths skip the token check for them.
COMMON_METHODS = frozenset(
    ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
     "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE")
)  # fmt: skip

HEX_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# A "%" that does not start a valid escape: the whole element is malformed.
ESCAPE_ERROR = re.compile(r"%(?![0-9A-Fa-f]{2})")
TOKEN_RE = re.compile(TOKEN)
WORD_RE = re.compile(WORD)
# callid = word [ "@" word ]
CALLID_RE = re.compile(f"{WORD}(?:@{WORD})?")
IPV4_RE = re.compile(IPV4)
HOSTNAME_RE = re.compile(HOSTNAME)
_HEX4_RE = re.compile(r"[0-9A-Fa-f]{1,4}")


def is_ipv6_address(addr: str) -> bool:
    """RFC 3261 25.1 IPv6address (RFC 4291 text form, IPv4-mapped tail allowed)."""
    if addr.count("::") > 1:
        return False
    if "." in addr:
        head, _, v4 = addr.rpartition(":")
        if not IPV4_RE.fullmatch(v4) or any(int(p) > 255 for p in v4.split(".")):
            return False
        # The dotted quad stands for two 16-bit groups.
        addr = head + ":0:0"
    if "::" in addr:
        left, right = addr.split("::")
        groups = (left.split(":") if left else []) + (right.split(":") if right else [])
        if len(groups) > 7:
            return False
    else:
        groups = addr.split(":")
        if len(groups) != 8:
            return False
    return all(_HEX4_RE.fullmatch(g) for g in groups)


def is_token(text: str) -> bool:
    """True when ``text`` is an RFC 3261 token."""
    return TOKEN_RE.fullmatch(text) is not None


def unquote(text: str) -> str:
    """The content of a quoted-string (which must include its quotes), unescaped."""
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    out = []
    i = 0
    n = len(inner)
    while i < n:
        ch = inner[i]
        if ch == "\\" and i + 1 < n:
            out.append(inner[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def quote(text: str) -> str:
    """``text`` as a quoted-string: quotes and backslashes escaped (RFC 3261 25.1)."""
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def check_no_crlf(value: str, what: str) -> None:
    """Refuse CR, LF and NUL in a value that will be written into a header."""
    if "\r" in value or "\n" in value or "\x00" in value:
        from websip.exceptions import ParseError

        raise ParseError(f"{what} contains CR, LF or NUL (header injection)")


# A valid dotted quad (each part 0-255, up to 3 digits): is_valid_host's usual
# case, answered by one C-level match.
_OCTET = r"(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])"
_VALID_IPV4_RE = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


def is_valid_host(host: str) -> bool:
    """Host syntax check: hostname, IPv4address or IPv6reference (with brackets)."""
    if _VALID_IPV4_RE.fullmatch(host) is not None:
        return True
    if host.startswith("["):
        return host.endswith("]") and is_ipv6_address(host[1:-1])
    if not host or HOSTNAME_RE.fullmatch(host) is None:
        return False
    if host[-1].isdigit() and IPV4_RE.fullmatch(host):
        return all(int(part) < 256 for part in host.split("."))
    # RFC 3261 25.1: no empty labels; a dotted all-digit name that is not a
    # valid IPv4 address (e.g. "1.2.3.999") is refused.
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not all(labels):
        return False
    return len(labels) == 1 or not labels[-1].isdigit()
