"""The article's language, for Bluesky ``langs`` and Mastodon ``language`` (both filter and translate by it).

The source's own word wins: front matter ``lang``, ``<html lang>``, a feed's ``<language>``, WordPress's
locale; :func:`with_language` then does nothing and the detector is never imported (it loads a 4 MB model,
about a second). Otherwise the language is detected from title and summary with py3langid (an offline
model shipped in the package), and kept only when the text says it clearly:

* at least :data:`MIN_WORDS` words (three words are a name or a slogan, not a language);
* a normalised probability of at least :data:`MIN_CONFIDENCE`;
* one language for (nearly) all of it: each sentence long enough is classified on its own, and when
  less than :data:`MIN_SHARE` of the words agree with the whole, the text is mixed and gets none.

A wrong language is worse than none (Mastodon would hide the post from readers filtering by language).
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from typing import Any

from bot.article import Article

MIN_WORDS = 4
MIN_CONFIDENCE = 0.95
MIN_SHARE = 0.8
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_lock = threading.Lock()
_identifier: Any = None


def _classifier() -> Any:
    """py3langid's identifier with normalised probabilities, loaded once, on first need."""
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


def _words(text: str) -> int:
    """Words, counting each CJK character as one (Japanese and Chinese put no spaces between words)."""
    cjk = len(_CJK.findall(text))
    return cjk + len(_WORD.findall(_CJK.sub(" ", text)))


def detect_language(text: str) -> str | None:
    """The language of ``text`` as an ISO 639-1 code, or None when it is short, unclear or mixed."""
    text = " ".join(text.split())
    total = _words(text)
    if total < MIN_WORDS:
        return None
    classify = _classifier().classify
    lang, confidence = classify(text)
    if confidence < MIN_CONFIDENCE:
        return None
    agreeing = 0
    for sentence in _SENTENCE.split(text):
        words = _words(sentence)
        if words < MIN_WORDS:
            agreeing += words  # too short to judge: it does not make the text mixed
        elif classify(sentence)[0] == lang:
            agreeing += words
    return str(lang) if agreeing >= MIN_SHARE * total else None


def with_language(article: Article) -> Article:
    """``article`` with ``lang`` set: the source's, else detected from title and summary, else None."""
    if article.lang:
        return article
    sample = "\n".join(part for part in (article.title, article.summary) if part)
    lang = detect_language(sample)
    return replace(article, lang=lang) if lang else article
