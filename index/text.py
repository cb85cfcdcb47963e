"""Language detection and lexical tokenisation for Chinese and English text.

Text is split into runs of letters/digits. A run of CJK characters becomes character
unigrams plus character bigrams (no word segmenter is needed and recall on technical
Chinese terms is high); any other run (Latin script, digits) becomes lower-cased words
with English stopwords removed and the Snowball English stemmer applied. Punctuation
and whitespace never produce tokens. Mixed text is handled run by run.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import snowballstemmer

Language = Literal["zh", "en"]

TOKENIZER_VERSION = "zh-uni-bi+en-snowball-v1"
"""Identifier stored with saved lexical indexes; changes whenever tokens change."""

ZH_RATIO_THRESHOLD = 0.3
"""Minimum share of CJK characters among letters for a text to count as Chinese."""

_CJK_CLASS = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0002ffff"  # CJK extensions B-F
)
_CJK_CHAR = re.compile(f"[{_CJK_CLASS}]")
_RUN = re.compile(f"(?P<cjk>[{_CJK_CLASS}]+)|(?P<word>[^\\W_{_CJK_CLASS}]+(?:['\u2019][^\\W_{_CJK_CLASS}]+)*)")
_WORD_CHAR = re.compile(f"[^\\W\\d_{_CJK_CLASS}]")

ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's
    i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own
    same shan't she she'd she'll she's should shouldn't so some such than that that's the
    their theirs them themselves then there there's these they they'd they'll they're
    they've this those through to too under until up very was wasn't we we'd we'll we're
    we've were weren't what what's when when's where where's which while who who's whom why
    why's will with won't would wouldn't you you'd you'll you're you've your yours yourself
    yourselves
    """.split()
)
"""English stopwords dropped from lexical tokens (the classic SMART/NLTK-style short list)."""

_STEMMER = snowballstemmer.stemmer("english")


@dataclass(frozen=True)
class Token:
    """One lexical token with its position in the source text.

    Attributes:
        term: Normalised index term (stem for words, characters for CJK n-grams).
        surface: The exact substring of the source text the token came from.
        start: Start offset of ``surface`` in the source text.
        end: End offset (exclusive) of ``surface`` in the source text.
        kind: ``"word"`` for Latin-script words, ``"zh1"``/``"zh2"`` for CJK unigrams/bigrams.
    """

    term: str
    surface: str
    start: int
    end: int
    kind: Literal["word", "zh1", "zh2"]


@dataclass(frozen=True)
class Run:
    """A maximal run of CJK characters or of other letters/digits.

    Attributes:
        kind: ``"cjk"`` or ``"word"``.
        text: The run's text.
        start: Start offset in the source text.
    """

    kind: Literal["cjk", "word"]
    text: str
    start: int


def is_cjk(char: str) -> bool:
    """Tell whether a single character is a CJK ideograph, kana or hangul syllable.

    Args:
        char: A one-character string.

    Returns:
        True for CJK characters.
    """
    return bool(_CJK_CHAR.fullmatch(char))


def detect_language(text: str) -> Language:
    """Guess whether a text is Chinese or English from its share of CJK characters.

    Only letters count: CJK characters against Latin-script letters (digits and
    punctuation are ignored). A text is ``"zh"`` when at least
    ``ZH_RATIO_THRESHOLD`` of its letters are CJK; an empty text is ``"en"``.

    Args:
        text: Any text.

    Returns:
        ``"zh"`` or ``"en"``.
    """
    cjk = len(_CJK_CHAR.findall(text))
    other = len(_WORD_CHAR.findall(text))
    total = cjk + other
    if total == 0:
        return "en"
    return "zh" if cjk / total >= ZH_RATIO_THRESHOLD else "en"


def iter_runs(text: str) -> Iterator[Run]:
    """Split a text into CJK runs and word runs, dropping punctuation and spaces.

    Args:
        text: Any text.

    Yields:
        Runs in text order.
    """
    for match in _RUN.finditer(text):
        kind: Literal["cjk", "word"] = "cjk" if match.group("cjk") else "word"
        yield Run(kind=kind, text=match.group(0), start=match.start())


@lru_cache(maxsize=200_000)
def normalise_word(word: str) -> str:
    """Normalise an English/Latin word: NFKC, lower case, unify apostrophes.

    Args:
        word: A word as it appears in text.

    Returns:
        The normalised word (not stemmed).
    """
    return unicodedata.normalize("NFKC", word).lower().replace("\u2019", "'")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Stem a normalised English word with the Snowball English stemmer.

    Args:
        word: A lower-cased word.

    Returns:
        The stem; possessive ``'s`` endings are removed.
    """
    stemmed: str = _STEMMER.stemWord(word)
    return stemmed


@lru_cache(maxsize=500_000)
def word_term(surface: str) -> str | None:
    """Map a Latin-script word to its index term.

    Args:
        surface: The word as written.

    Returns:
        The stemmed term, or None for stopwords.
    """
    word = normalise_word(surface)
    if word in ENGLISH_STOPWORDS:
        return None
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    if not word:
        return None
    return stem(word)


def _cjk_tokens(run: Run) -> Iterator[Token]:
    text = unicodedata.normalize("NFKC", run.text)
    if len(text) != len(run.text):
        text = run.text
    for i, char in enumerate(text):
        pos = run.start + i
        yield Token(term=char, surface=run.text[i], start=pos, end=pos + 1, kind="zh1")
    for i in range(len(text) - 1):
        pos = run.start + i
        yield Token(term=text[i : i + 2], surface=run.text[i : i + 2], start=pos, end=pos + 2, kind="zh2")


def tokenize(text: str) -> list[Token]:
    """Tokenise a text into lexical tokens with offsets.

    Args:
        text: Chinese, English or mixed text.

    Returns:
        Tokens in text order per run (CJK unigrams of a run come before its bigrams).
    """
    tokens: list[Token] = []
    for run in iter_runs(text):
        if run.kind == "cjk":
            tokens.extend(_cjk_tokens(run))
            continue
        term = word_term(run.text)
        if term is not None:
            end = run.start + len(run.text)
            tokens.append(Token(term=term, surface=run.text, start=run.start, end=end, kind="word"))
    return tokens


def lexical_tokens(text: str) -> list[str]:
    """Turn a text into the index terms used by BM25.

    English/Latin runs give lower-cased, stopword-filtered, Snowball-stemmed words;
    CJK runs give character unigrams and bigrams. Punctuation is dropped. Same terms
    as :func:`tokenize`, without building token objects.

    Args:
        text: Chinese, English or mixed text.

    Returns:
        The terms, with repetitions (term frequency matters).

    Example:
        >>> lexical_tokens("Running tests 深度学习")
        ['run', 'test', '深', '度', '学', '习', '深度', '度学', '学习']
    """
    terms: list[str] = []
    for match in _RUN.finditer(text):
        run = match.group("cjk")
        if run:
            chars = unicodedata.normalize("NFKC", run)
            if len(chars) != len(run):
                chars = run
            terms.extend(chars)
            terms.extend(chars[i : i + 2] for i in range(len(chars) - 1))
            continue
        term = word_term(match.group(0))
        if term is not None:
            terms.append(term)
    return terms


def display_terms(text: str) -> list[tuple[str, str]]:
    """List the content words of a text with their index terms, for explanations.

    Args:
        text: Any text.

    Returns:
        ``(term, surface)`` pairs for Latin-script non-stopwords, in text order.
    """
    pairs: list[tuple[str, str]] = []
    for run in iter_runs(text):
        if run.kind != "word":
            continue
        term = word_term(run.text)
        if term is not None:
            pairs.append((term, run.text))
    return pairs


def cjk_runs(text: str) -> list[str]:
    """Return the CJK runs of a text (for finding shared Chinese words).

    Args:
        text: Any text.

    Returns:
        The runs of consecutive CJK characters, in text order.
    """
    return [run.text for run in iter_runs(text) if run.kind == "cjk"]
