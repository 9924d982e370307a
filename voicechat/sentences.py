"""Splitting reply text into sentences to speak one at a time, from a whole text or from a token stream.

A sentence ends at ``.``, ``!``, ``?`` or ``…`` followed by a space and an upper-case letter, digit or quote
(so "3.5", "e.g. this" and "Dr. Smith" do not split), or at a line break. A clause longer than
``max_chars`` is cut at its last comma, semicolon or space, so speech can start before a long sentence ends.
"""

from __future__ import annotations

import re

from voicechat import defaults

_ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "prof", "st", "vs", "etc", "e.g", "i.e", "no", "fig", "approx"}
)
_CLAUSE = re.compile(r"[,;:\u2014](?=\s)|\s[-\u2013](?=\s)")  # a clause mark followed by a space
_END = re.compile(r"""([.!?…]+["')\]]*)(\s+)(?=["'(\[]?[A-Z0-9À-Ý])|\n+""")
_MARKDOWN_NOISE = re.compile(r"(\*\*|__|`+|^#+\s*|^\s*[-*+]\s+)", re.MULTILINE)


def split_sentences(text: str, *, max_chars: int = defaults.SPEECH_CHUNK_CHARS) -> list[str]:
    """The sentences of ``text``, stripped, none longer than ``max_chars``."""
    splitter = SentenceSplitter(max_chars=max_chars)
    return [*splitter.push(text), *splitter.flush()]


def speakable(text: str) -> str:
    """``text`` without markdown marks a voice should not read out (``**``, backticks, bullets, headings)."""
    return _MARKDOWN_NOISE.sub("", text)


def group_for_speech(sentences: list[str], *, max_chars: int = defaults.SPEECH_CHUNK_CHARS) -> list[str]:
    """Consecutive sentences joined into pieces of at most ``max_chars`` (fewer provider calls)."""
    pieces: list[str] = []
    for sentence in sentences:
        if pieces and len(pieces[-1]) + 1 + len(sentence) <= max_chars:
            pieces[-1] = f"{pieces[-1]} {sentence}"
        else:
            pieces.append(sentence)
    return pieces


class SentenceSplitter:
    """Feed text as it streams with ``push``; complete sentences come out as soon as they end."""

    def __init__(
        self, *, max_chars: int = defaults.SPEECH_CHUNK_CHARS, first_clause_chars: int | None = None
    ) -> None:
        """``first_clause_chars``: the first piece may end at a clause mark (comma, semicolon, colon, dash)
        once it is this long, so speech can start before the first full stop."""
        self._buffer = ""
        self._max_chars = max_chars
        self._first_clause = first_clause_chars
        self._started = False

    def push(self, delta: str) -> list[str]:
        """Add streamed text; return the sentences it completed."""
        self._buffer += delta
        done: list[str] = []
        start = 0
        for match in _END.finditer(self._buffer):
            if match.group(1) and _is_abbreviation(self._buffer[start : match.start(1) + 1]):
                continue
            end = match.end(1) if match.group(1) else match.start()
            done.extend(self._cut(self._buffer[start:end]))
            start = match.end()
        self._buffer = self._buffer[start:]
        if not done and not self._started and self._first_clause is not None:
            clause = next((m for m in _CLAUSE.finditer(self._buffer) if m.end() >= self._first_clause), None)
            if clause is not None:
                done.extend(self._cut(self._buffer[: clause.end()]))
                self._buffer = self._buffer[clause.end() :]
        while len(self._buffer) > self._max_chars:
            head, self._buffer = _cut_clause(self._buffer, self._max_chars)
            done.extend(self._cut(head))
        self._started = self._started or bool(done)
        return done

    def flush(self) -> list[str]:
        """The rest of the text once the stream has ended."""
        rest, self._buffer = self._buffer, ""
        return self._cut(rest)

    def _cut(self, text: str) -> list[str]:
        pieces = []
        text = text.strip()
        while len(text) > self._max_chars:
            head, text = _cut_clause(text, self._max_chars)
            pieces.append(head.strip())
        if text:
            pieces.append(text)
        return [p for p in pieces if p]


def _is_abbreviation(sentence: str) -> bool:
    words = sentence.rstrip(".").split()
    last_word = words[-1].lower() if words else ""
    return last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())


def _cut_clause(text: str, max_chars: int) -> tuple[str, str]:
    """Cut ``text`` at the last comma/semicolon (else space) within ``max_chars``."""
    window = text[:max_chars]
    for marks in (",;:", " "):
        cut = max(window.rfind(mark) for mark in marks)
        if cut > max_chars // 3:
            return text[: cut + 1], text[cut + 1 :]
    return text[:max_chars], text[max_chars:]


# English words a sentence does not end on: articles, possessives, prepositions that need an object,
# conjunctions and hesitations. A pause after one of them is mid-phrase, whatever the voice sounds like.
# (Words that often end questions, "is", "do", "that", "on", are left out: a later answer beats a cut one.)
_DANGLING = frozenset(
    """a an the my your our their in at for to of with about from by into onto upon under between during
    and or but nor because if unless although though whereas than um uh er erm hmm""".split()  # noqa: SIM905
)


def ends_mid_phrase(text: str) -> bool:
    """Whether ``text`` stops on a word no English sentence ends with ("the weather in")."""
    words = re.findall(r"[A-Za-z']+", text.lower())
    return bool(words) and words[-1] in _DANGLING
