"""Known items found through the whole dialogue: the fixed subset of the chat benchmark's cases."""

from __future__ import annotations

import pytest

from bench.chat_retrieval import DEFAULT_CASES, Assistant, load_cases, run_cases, summary
from bot.stack import Stack
from matchmaker.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

GOAL_HIT_AT_5 = 0.85


def test_subset_cases_reach_the_goal_in_both_languages(stack: Stack) -> None:
    cases = [case for case in load_cases(PROJECT_ROOT / path for path in DEFAULT_CASES) if case.subset]
    assert {case.lang for case in cases} == {"en", "zh"} and len(cases) >= 40
    outcomes = run_cases(Assistant(stack.config.rasa_url, stack.token), cases, diagnosis=None)
    figures = summary(outcomes)
    missed = [(o.case.id, o.shown[:5]) for o in outcomes if o.rank is None or o.rank > 5]
    for language in ("en", "zh"):
        assert figures["hit@5"][language] >= GOAL_HIT_AT_5, (figures, missed)
