"""Maintainer tool: normalise the hand-written corpus in place.

    python bench/corpus/normalize.py

For every ``*.sip`` file beside this script: line endings become CRLF (lone LF
and lone CR are converted, existing CRLF is kept) and the Content-Length header
is set to the body's exact length in BYTES (UTF-8 bodies count bytes, not
characters). Everything else is left as written. ``bench_parser.py`` refuses a
corpus that this script would change, so run it after editing a message, then
update ``expected.json`` by hand (it is ground truth and is never generated from
a parser's output).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_CL = re.compile(rb"^(Content-Length|l)[ \t]*:[ \t]*\d*[ \t]*$", re.IGNORECASE | re.MULTILINE)


def normalize(data: bytes) -> bytes:
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no blank line between headers and body")
    head, n = _CL.subn(lambda m: m.group(1) + b": " + str(len(body)).encode(), head)
    if n != 1:
        raise ValueError(f"expected exactly one Content-Length header, found {n}")
    return head + sep + body


def main() -> int:
    changed = 0
    for path in sorted(HERE.glob("*.sip")):
        old = path.read_bytes()
        new = normalize(old)
        if new != old:
            path.write_bytes(new)
            changed += 1
            print(f"normalised {path.name}")
    print(f"{changed} file(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
