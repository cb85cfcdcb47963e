"""Human-readable explanations of why a document matched a query."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from index.text import Token, cjk_runs, display_terms, tokenize

ELLIPSIS = "\u2026"

_SENTENCE_END = re.compile(r"[。！？；!?;]+|\.+(?=\s|$)|\n+")

ZH_EDGE_CHARS = frozenset("的了和与及或在对是中为把被将从以于并其之也都而等")
"""Function characters trimmed from the ends of shared Chinese strings."""

ZH_GENERIC_TERMS = frozenset(
    """
    一种 一个 基于 研究 方法 分析 进行 通过 我们 本文 利用 采用 应用 问题 需要 如何 可以 什么
    没有 有没有 哪些 能否 相关 影响 结果 表明 提出 以及 及其 这个 这些 那些 公司 企业 希望 想要
    """.split()
)
"""Chinese strings too generic to be shown as shared terms."""


@dataclass(frozen=True)
class _Sentence:
    text: str
    start: int


def _readable_surface(surface: str) -> str:
    """Lower-case a capitalised word ("Welding" -> "welding") but keep acronyms ("CNC")."""
    if len(surface) > 1 and surface[0].isupper() and surface[1:].islower():
        return surface.lower()
    return surface


def _shared_english(query: str, text: str) -> list[tuple[int, str]]:
    text_surface: dict[str, str] = {}
    for term, surface in display_terms(text):
        text_surface.setdefault(term, surface)
    found: list[tuple[int, str]] = []
    seen: set[str] = set()
    for position, (term, _surface) in enumerate(display_terms(query), start=1):
        if term in text_surface and term not in seen and len(term) > 1:
            seen.add(term)
            found.append((position, _readable_surface(text_surface[term])))
    return found


def _trim_edges(term: str) -> str:
    start, end = 0, len(term)
    while start < end and term[start] in ZH_EDGE_CHARS:
        start += 1
    while end > start and term[end - 1] in ZH_EDGE_CHARS:
        end -= 1
    return term[start:end]


def _shared_chinese(query: str, text: str) -> list[tuple[int, str]]:
    haystack = "\n".join(cjk_runs(text))
    found: list[tuple[int, str]] = []
    seen: set[str] = set()
    position = 0
    for run in cjk_runs(query):
        i = 0
        while i < len(run) - 1:
            length = 1
            while i + length < len(run) and run[i : i + length + 1] in haystack:
                length += 1
            if length >= 2:
                term = _trim_edges(run[i : i + length])
                if len(term) >= 2 and term not in ZH_GENERIC_TERMS and not any(term in s for s in seen):
                    seen.add(term)
                    found.append((position + i, term))
                i += length
            else:
                i += 1
        position += len(run)
    return found


def shared_terms(query: str, text: str, limit: int = 5) -> list[str]:
    """List readable terms a query and a text have in common.

    English words are compared by stem and shown as written in the text
    ("welding" for a query saying "weld"); stopwords and generic words are skipped.
    Chinese terms are the longest strings of two or more characters of the query that
    occur in the text (e.g. "注塑件" rather than its bigrams), with function characters
    trimmed from their ends.

    Args:
        query: The user's query.
        text: A matched document.
        limit: Maximum number of terms.

    Returns:
        Up to ``limit`` terms in the order they appear in the query.
    """
    if limit <= 0:
        return []
    found = _shared_english(query, text) + _shared_chinese(query, text)
    found.sort(key=lambda item: item[0])
    return [term for _position, term in found[:limit]]


def split_sentences(text: str) -> list[tuple[str, int]]:
    """Split a text into sentences on 。！？； (Chinese), ``. ! ? ;`` (English) and newlines.

    A full stop only ends a sentence when followed by whitespace or the end, so
    decimals such as ``3.5`` stay whole.

    Args:
        text: Any text.

    Returns:
        ``(sentence, start_offset)`` pairs, stripped, empty ones dropped.
    """
    sentences: list[tuple[str, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        _append_sentence(sentences, text, start, end)
        start = end
    _append_sentence(sentences, text, start, len(text))
    return sentences


def _append_sentence(sentences: list[tuple[str, int]], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        sentences.append((stripped, start + chunk.index(stripped)))


def _token_weight(token: Token) -> float:
    return 1.0 if token.kind == "zh1" else 2.0


def closest_passage(query: str, text: str, max_chars: int = 80) -> str:
    """Return the sentence of a text that best matches a query, shortened if needed.

    Sentences are scored by the distinct query tokens they contain, each weighted by
    its kind (words and Chinese bigrams 2, Chinese characters 1) times its rarity
    among the text's sentences (``log(1 + n_sentences / sentence_frequency)``). A
    sentence longer than ``max_chars`` is cut to the window holding the most matched
    tokens, with an ellipsis marking each cut.

    Args:
        query: The user's query.
        text: A matched document.
        max_chars: Maximum length of the result, ellipses included.

    Returns:
        The passage; the text's first sentence if nothing matches; "" for an empty text.
    """
    sentences = split_sentences(text)
    if not sentences or max_chars <= 0:
        return ""
    query_terms = {token.term: _token_weight(token) for token in tokenize(query)}
    sentence_tokens = [[t for t in tokenize(sentence) if t.term in query_terms] for sentence, _ in sentences]
    frequency = Counter(term for tokens in sentence_tokens for term in {t.term for t in tokens})
    rarity = {term: math.log(1.0 + len(sentences) / count) for term, count in frequency.items()}
    best_index, best_score = 0, 0.0
    for index, tokens in enumerate(sentence_tokens):
        score = sum(query_terms[term] * rarity[term] for term in {t.term for t in tokens})
        if score > best_score:
            best_index, best_score = index, score
    sentence = sentences[best_index][0]
    weights = {term: query_terms[term] * rarity[term] for term in rarity}
    return _window(sentence, sentence_tokens[best_index], weights, max_chars)


def _window(sentence: str, tokens: list[Token], weights: dict[str, float], max_chars: int) -> str:
    if len(sentence) <= max_chars:
        return sentence
    width = max(max_chars - 2, 1)
    best_start, best_score = 0, -1.0
    for candidate in [0] + [max(0, t.start - 10) for t in tokens]:
        start = min(candidate, len(sentence) - width)
        inside = {t.term for t in tokens if t.start >= start and t.end <= start + width}
        score = sum(weights.get(term, 0.0) for term in inside)
        if score > best_score:
            best_start, best_score = start, score
    start, end = best_start, best_start + width
    if start > 0 and sentence[start - 1].isalnum() and sentence[start].isalnum():
        space = sentence.find(" ", start, start + 15)
        if space != -1:
            start = space + 1
    if end < len(sentence) and sentence[end - 1].isalnum() and sentence[end].isalnum():
        space = sentence.rfind(" ", end - 15, end)
        if space > start:
            end = space
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(sentence) else ""
    body = sentence[start:end].strip()
    room = max_chars - len(prefix) - len(suffix)
    return prefix + body[:room] + suffix
