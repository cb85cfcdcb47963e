"""Explanations: shared terms and closest passage."""

from __future__ import annotations

from index.explain import closest_passage, shared_terms, split_sentences


def test_shared_english_terms_use_surface_forms_without_stopwords() -> None:
    terms = shared_terms("welding robots for the car bodies", "Robotic welding cell for car body panels.")
    assert terms == ["welding", "robotic", "car", "body"]


def test_shared_chinese_terms_are_readable_words() -> None:
    terms = shared_terms("注塑件翘曲变形怎么解决", "本成果针对注塑件的翘曲变形问题，提出模具温度优化方法。")
    assert "注塑件" in terms and "翘曲变形" in terms
    assert all(len(term) >= 2 for term in terms)
    assert "的" not in "".join(terms)


def test_shared_terms_limit() -> None:
    assert shared_terms("a b c", "x y z") == []
    assert len(shared_terms("battery cell anode cathode electrolyte separator", "battery cell anode cathode electrolyte separator", limit=3)) == 3


def test_split_sentences_keeps_decimals() -> None:
    parts = [s for s, _ in split_sentences("Yield rose to 3.5 percent. Costs fell! 成本下降。效率提高；")]
    assert parts == ["Yield rose to 3.5 percent.", "Costs fell!", "成本下降。", "效率提高；"]


def test_closest_passage_picks_matching_sentence() -> None:
    text = "We study batteries. Our coating reduces warping of injection moulded parts. It is cheap."
    assert closest_passage("warping of moulded parts", text) == "Our coating reduces warping of injection moulded parts."
    zh = "本团队长期从事材料研究。我们开发了控制注塑件翘曲变形的新工艺！已在三家企业应用。"
    assert closest_passage("注塑件翘曲", zh) == "我们开发了控制注塑件翘曲变形的新工艺！"


def test_closest_passage_respects_max_chars() -> None:
    text = "Intro. " + "Filler words about nothing in particular " * 4 + "then the laser welding of aluminium sheets " + "more filler " * 5 + "."
    passage = closest_passage("laser welding aluminium", text, max_chars=40)
    assert len(passage) <= 40
    assert "welding" in passage
    assert closest_passage("anything", "") == ""
