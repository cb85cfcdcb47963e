"""Tokenisation and language detection."""

from __future__ import annotations

from index.text import detect_language, lexical_tokens, tokenize


def test_chinese_gives_character_unigrams_and_bigrams() -> None:
    assert lexical_tokens("深度学习") == ["深", "度", "学", "习", "深度", "度学", "学习"]


def test_chinese_punctuation_splits_runs_and_is_dropped() -> None:
    tokens = lexical_tokens("材料，涂层。")
    assert "，" not in tokens and "。" not in tokens
    assert "材料" in tokens and "涂层" in tokens
    assert "料涂" not in tokens


def test_english_is_lowercased_stemmed_and_stopwords_removed() -> None:
    assert lexical_tokens("The Batteries are RUNNING and charged") == ["batteri", "run", "charg"]


def test_english_possessive_and_curly_apostrophe() -> None:
    assert lexical_tokens("the patient\u2019s cells") == ["patient", "cell"]


def test_mixed_text_is_handled_run_by_run() -> None:
    tokens = lexical_tokens("基于BERT的文本分类 using transformers")
    assert "bert" in tokens and "transform" in tokens
    assert "文本" in tokens and "分类" in tokens
    assert "的文" in tokens
    assert "using" not in tokens


def test_tokens_carry_offsets_into_the_source() -> None:
    text = "Welding 机器人"
    for token in tokenize(text):
        assert text[token.start : token.end] == token.surface


def test_detect_language() -> None:
    assert detect_language("注塑件翘曲变形怎么解决？") == "zh"
    assert detect_language("How can we reduce warping of injection-moulded parts?") == "en"
    assert detect_language("修正Rodrigues参数模型，平方和优化") == "zh"
    assert detect_language("We use 深度学习 for defect detection in steel") == "en"
    assert detect_language("") == "en"
