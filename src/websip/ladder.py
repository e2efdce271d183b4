"""Sequence ("ladder") diagrams of SIP message flows, as text, SVG or HTML.

What sngrep shows for captured traffic, for one's own user agents: each
participant (a UA, the WebSocket server) is a column, each message an arrow
from its sender to its receiver, labelled with the method or the status.
``websip --ladder`` prints the text form; ``--ladder-file`` writes SVG or HTML.

Pure: records carry their own time (any clock; shown relative to the first
record), so the diagrams are deterministic and testable.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from .exceptions import ParseError
from .sip import Message, Request, Response, parse_message

__all__ = ["Ladder", "LadderRecord", "message_label"]

# Colours of the arrows in SVG/HTML, one per Call-ID in order of appearance.
_PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
)


@dataclass(frozen=True, slots=True)
class LadderRecord:
    """One message on the wire: when, from whom, to whom, and what."""

    time: float
    sender: str
    receiver: str
    message: Message | None
    """The parsed message; None when the bytes were not SIP (``raw`` has them)."""
    raw: bytes = b""

    @property
    def label(self) -> str:
        if self.message is None:
            return f"(not SIP, {len(self.raw)} bytes)"
        return message_label(self.message)

    @property
    def text(self) -> str:
        data = self.raw if self.message is None else self.message.to_bytes()
        return data.decode("utf-8", "replace")


def message_label(message: Message) -> str:
    """The arrow's caption: ``INVITE (SDP)``, ``200 OK (REGISTER)``."""
    sdp = (
        " (SDP)"
        if message.body and (message.content_type or "").startswith("application/sdp")
        else ""
    )
    if isinstance(message, Request):
        return f"{message.method}{sdp}"
    assert isinstance(message, Response)
    try:
        method = message.cseq.method
    except ParseError:
        method = "?"
    reason = f" {message.reason_phrase}" if message.reason_phrase else ""
    return f"{message.status_code}{reason} ({method}){sdp}"


class Ladder:
    """Collects :class:`LadderRecord` s and draws them.

    Args:
        participants: columns to show first, in this order (others are added as
            they appear).
    """

    def __init__(self, participants: Sequence[str] = ()) -> None:
        self.participants: list[str] = []
        self.records: list[LadderRecord] = []
        for name in participants:
            self._participant(name)

    def _participant(self, name: str) -> int:
        if name not in self.participants:
            self.participants.append(name)
        return self.participants.index(name)

    def add(self, record: LadderRecord) -> None:
        self._participant(record.sender)
        self._participant(record.receiver)
        self.records.append(record)

    def add_trace(
        self,
        time: float,
        local: str,
        remote: str,
        direction: Literal["sent", "received"],
        data: bytes,
    ) -> None:
        """Add what a UA's ``on_trace`` reported (``local`` is the UA's column)."""
        try:
            message: Message | None = parse_message(data)
        except ParseError:
            message = None
        sender, receiver = (local, remote) if direction == "sent" else (remote, local)
        self.add(LadderRecord(time, sender, receiver, message, data))

    def extend(self, records: Iterable[LadderRecord]) -> None:
        for record in records:
            self.add(record)

    def _sorted(self) -> list[LadderRecord]:
        # Stable: records of the same instant keep the order they were added in.
        return sorted(self.records, key=lambda r: r.time)

    # -- text -----------------------------------------------------------------

    def render_text(self, *, max_label: int = 48) -> str:
        """A plain-text diagram (ASCII only, so any terminal shows it)."""
        records = self._sorted()
        names = self.participants
        if not names:
            return ""
        labels = [_clip(r.label, max_label) for r in records]
        gap = max([len(n) + 2 for n in names] + [len(lab) + 6 for lab in labels] + [16])
        time_width = 9
        columns = [time_width + gap // 2 + i * gap for i in range(len(names))]
        width = columns[-1] + gap // 2 + 1
        start = records[0].time if records else 0.0

        def blank() -> list[str]:
            row = [" "] * width
            for x in columns:
                row[x] = "|"
            return row

        lines = []
        header = [" "] * width
        for x, name in zip(columns, names, strict=True):
            shown = _clip(name, gap - 2)
            left = max(0, x - len(shown) // 2)
            header[left : left + len(shown)] = shown
        lines.append("".join(header).rstrip())
        for record, label in zip(records, labels, strict=True):
            a = names.index(record.sender)
            b = names.index(record.receiver)
            lo, hi = columns[min(a, b)], columns[max(a, b)]
            caption = blank()
            span = hi - lo - 1
            if a == b:
                text = f"{label} (self)"
                caption[lo + 2 : lo + 2 + len(text)] = text
            else:
                text = _clip(label, span)
                left = lo + 1 + (span - len(text)) // 2
                caption[left : left + len(text)] = text
            arrow = blank()
            stamp = f"{record.time - start:+8.3f} "
            arrow[0 : len(stamp)] = stamp
            if a != b:
                for x in range(lo + 1, hi):
                    arrow[x] = "-"
                if a < b:
                    arrow[hi - 1] = ">"
                else:
                    arrow[lo + 1] = "<"
            lines.append("".join(caption).rstrip())
            lines.append("".join(arrow).rstrip())
        return "\n".join(lines) + "\n"

    # -- SVG ------------------------------------------------------------------

    def render_svg(self) -> str:
        """A standalone SVG document; hovering an arrow shows the whole message."""
        records = self._sorted()
        names = self.participants or ["(nobody)"]
        labels = [_clip(r.label, 60) for r in records]
        char = 7.2  # average glyph width of 12 px monospace
        gap = max([len(n) * char + 30 for n in names] + [len(lab) * char + 40 for lab in labels])
        gap = max(gap, 180.0)
        left, top, row = 90.0, 50.0, 34.0
        columns = [left + gap / 2 + i * gap for i in range(len(names))]
        width = columns[-1] + gap / 2 + 20
        height = top + row * (len(records) + 1) + 20
        start = records[0].time if records else 0.0
        colours: dict[str, int] = {}
        out = [
            '<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" '
            'font-family="monospace" font-size="12">',
            "<title>SIP message flow</title>",
            "<defs>",
            *(
                f'<marker id="head{i}" viewBox="0 0 10 10" refX="10" refY="5" '
                f'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
                f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{c}"/></marker>'
                for i, c in enumerate(_PALETTE)
            ),
            "</defs>",
            f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        ]
        for x, name in zip(columns, names, strict=True):
            out.append(
                f'<text x="{x:.1f}" y="{top - 22:.1f}" text-anchor="middle" '
                f'font-weight="bold">{_xml(name)}</text>'
            )
            out.append(
                f'<line x1="{x:.1f}" y1="{top - 12:.1f}" x2="{x:.1f}" y2="{height - 10:.1f}" '
                'stroke="#999" stroke-dasharray="4 3"/>'
            )
        for n, (record, label) in enumerate(zip(records, labels, strict=True), start=1):
            y = top + row * n
            c = colours.setdefault(_call_id(record), len(colours) % len(_PALETTE))
            colour = _PALETTE[c]
            x1 = columns[names.index(record.sender)]
            x2 = columns[names.index(record.receiver)]
            out.append(f'<g class="message" id="m{n}">')
            out.append(f"<title>{_xml(record.text)}</title>")
            out.append(f'<text x="8" y="{y + 4:.1f}" fill="#555">{record.time - start:+.3f}</text>')
            if x1 == x2:
                out.append(
                    f'<path d="M {x1:.1f} {y - 8:.1f} h 30 v 16 h -30" fill="none" '
                    f'stroke="{colour}" marker-end="url(#head{c})"/>'
                )
                out.append(f'<text x="{x1 + 36:.1f}" y="{y + 4:.1f}">{_xml(label)}</text>')
            else:
                out.append(
                    f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y:.1f}" '
                    f'stroke="{colour}" stroke-width="1.5" marker-end="url(#head{c})"/>'
                )
                out.append(
                    f'<text x="{(x1 + x2) / 2:.1f}" y="{y - 6:.1f}" text-anchor="middle" '
                    f'fill="{colour}">{_xml(label)}</text>'
                )
            out.append("</g>")
        out.append("</svg>")
        return "\n".join(out) + "\n"

    # -- HTML -----------------------------------------------------------------

    def render_html(self, title: str = "websip: SIP message flow") -> str:
        """An HTML page: the SVG diagram, then every message in full."""
        records = self._sorted()
        start = records[0].time if records else 0.0
        items = []
        for n, record in enumerate(records, start=1):
            items.append(
                f'<details id="d{n}"><summary>{n}. {record.time - start:+.3f} s '
                f"{html.escape(record.sender)} &#8594; {html.escape(record.receiver)}: "
                f"{html.escape(record.label)}</summary>"
                f"<pre>{html.escape(record.text)}</pre></details>"
            )
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:1em}"
            "pre{background:#f6f6f6;padding:.5em;overflow-x:auto}"
            "summary{font-family:monospace;cursor:pointer}</style>"
            "</head><body>\n"
            f"<h1>{html.escape(title)}</h1>\n"
            f"{self.render_svg()}"
            f"<h2>Messages ({len(records)})</h2>\n" + "\n".join(items) + "\n</body></html>\n"
        )

    def render_file(self, path: str) -> str:
        """The document for ``path`` by its extension (``.svg``, ``.html``/``.htm``)."""
        lowered = path.lower()
        if lowered.endswith(".svg"):
            return self.render_svg()
        if lowered.endswith((".html", ".htm")):
            return self.render_html()
        raise ValueError(f"cannot tell the format of {path!r}: use a .svg or .html file name")


def _call_id(record: LadderRecord) -> str:
    if record.message is None:
        return ""
    try:
        return record.message.call_id
    except ParseError:
        return ""


def _clip(text: str, width: int) -> str:
    if width <= 1:
        return text[: max(width, 0)]
    return text if len(text) <= width else text[: width - 1] + "~"


def _xml(text: str) -> str:
    # XML 1.0 forbids most control characters even as references: drop them.
    cleaned = "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
    return html.escape(cleaned, quote=True)
