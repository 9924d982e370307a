"""Whether the user's words answer a held confirm-first call: a small yes/no judge.

A call runs only on a clear yes: a short answer made of nothing but yes-words and politeness ("Yes, go
ahead.", "Sure, please do"). A negation anywhere ("Of course not!", "Okay no", "Sure, but do NOT send it")
never runs it; a yes with a hedge or a condition ("yes, but first...", "okay if it's cheap") is unclear and
is asked once more; anything else ("Okay, can you summarise the thread?", "Correct me if I'm wrong...") is
a new question, which drops the held call.
"""

from __future__ import annotations

import re
from typing import Literal

Verdict = Literal["yes", "no", "unclear", "other"]

# Words that say yes on their own, as phrases of one or two words.
_YES = frozenset(
    {
        "yes", "yeah", "yep", "yup", "yea", "sure", "ok", "okay", "okey", "alright", "confirm", "confirmed",
        "approve", "approved", "absolutely", "definitely", "certainly", "correct", "affirmative", "fine",
        "go ahead", "please do", "do it", "do that", "of course", "sounds good", "that's right",
        "that's fine", "go for it", "all right", "right", "send it", "run it", "proceed",
    }
)  # fmt: skip
# Words that may stand beside a yes without changing it.
_POLITE = frozenset(
    {"please", "thanks", "thank", "you", "go", "ahead", "now", "then", "sir", "mate", "yes", "it", "do",
     "that", "for", "great", "good", "perfect", "so", "well", "oh", "uh", "um", "and"}
)  # fmt: skip
_NO = frozenset(
    {
        "no", "nope", "nah", "not", "don't", "dont", "never", "cancel", "stop", "negative", "wait", "hold",
        "abort", "refuse", "decline", "n't", "shouldn't", "won't", "can't", "cannot", "mustn't",
    }
)  # fmt: skip
_HEDGES = frozenset(
    {
        "but", "if", "maybe", "perhaps", "unless", "actually", "later", "first", "before", "instead",
        "except", "only", "hmm", "think", "guess", "suppose", "probably", "what", "why", "how", "which",
        "who", "when", "where", "can", "could", "would", "should", "me", "wrong",
    }
)  # fmt: skip
# Words in any script (so words of another language are never mistaken for nothing), apostrophes kept.
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+")
LONGEST_ANSWER = 8  # words: a longer utterance is a statement or a question, not an answer


def judge(text: str) -> Verdict:
    """What ``text`` says to a question "shall I run this?"."""
    lowered = text.lower().replace("\u2019", "'")
    words = _WORD.findall(lowered)
    if not words:
        return "other"
    if any(w in _NO or w.endswith("n't") for w in words):
        return "no" if len(words) <= LONGEST_ANSWER and not _hedged(words) else "unclear"
    rest = _without_yes(words)
    said_yes = len(rest) < len(words)
    if not said_yes:
        return "other"
    if len(words) > LONGEST_ANSWER or "?" in lowered:
        return "other" if not rest or any(w not in _POLITE for w in rest) else "unclear"
    if all(w in _POLITE for w in rest):
        return "yes"
    return "unclear" if _hedged(words) or len(rest) <= 3 else "other"


def _hedged(words: list[str]) -> bool:
    return any(w in _HEDGES for w in words)


def _without_yes(words: list[str]) -> list[str]:
    """``words`` with every yes-phrase taken out (two-word phrases first)."""
    rest: list[str] = []
    i = 0
    while i < len(words):
        pair = " ".join(words[i : i + 2])
        if pair in _YES:
            i += 2
        elif words[i] in _YES:
            i += 1
        else:
            rest.append(words[i])
            i += 1
    return rest
