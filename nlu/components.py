"""Custom Rasa NLU components: a bilingual spaCy tokenizer, the lexicon extractor, the command classifier.

They are registered with Rasa's default recipe and referenced from ``config.yml`` as
``nlu.components.BilingualSpacyTokenizer``, ``nlu.components.LexiconEntityExtractor`` and
``nlu.components.CommandClassifier``.
Models and files are loaded when Rasa creates the component, never at import.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.commands import parse_command
from nlu.lexicon import Lexicon

COMMAND_INTENT = "command"

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def _script_runs(text: str) -> List[tuple[int, str, bool]]:
    """Split ``text`` into (offset, chunk, is_cjk) runs of one script."""
    runs: List[tuple[int, str, bool]] = []
    position = 0
    for match in _CJK_RUN.finditer(text):
        if match.start() > position:
            runs.append((position, text[position:match.start()], False))
        runs.append((match.start(), match.group(0), True))
        position = match.end()
    if position < len(text):
        runs.append((position, text[position:], False))
    return runs


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False
)
class BilingualSpacyTokenizer(Tokenizer):
    """Tokenizes Chinese runs with a blank spaCy ``zh`` pipeline and the rest with ``en``.

    The blank Chinese pipeline segments by character; the blank English pipeline
    applies spaCy's rule-based tokenizer. Paths point at pipelines saved by the set-up.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Default configuration of the component."""
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            "zh_model": "var/spacy/zh_blank",
            "en_model": "var/spacy/en_blank",
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Load both blank pipelines named in ``config``."""
        super().__init__(config)
        self._zh = spacy.load(Path(config["zh_model"]))
        self._en = spacy.load(Path(config["en_model"]))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        """Create the component (see parent class for the full docstring)."""
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokenize ``attribute`` of ``message`` script run by script run."""
        text = message.get(attribute) or ""
        tokens: List[Token] = []
        for offset, chunk, is_cjk in _script_runs(text):
            nlp = self._zh if is_cjk else self._en
            for token in nlp.make_doc(chunk):
                if token.is_space or not token.text.strip():
                    continue
                start = offset + token.idx
                tokens.append(Token(token.text, start, lemma=token.text.lower()))
        return self._apply_token_pattern(tokens)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class LexiconEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Adds field, region, budget, deadline, maturity and match_rank entities by rule."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Default configuration of the component."""
        return {"lexicon": "data/lexicon.yml"}

    def __init__(self, lexicon: Lexicon) -> None:
        """Keep the loaded lexicon."""
        self._lexicon = lexicon

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        """Create the component, reading the lexicon file named in ``config``."""
        return cls(Lexicon.load(Path(config["lexicon"])))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Leave training data unchanged: the rules need no training."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Append rule-extracted entities to every message."""
        for message in messages:
            text: Optional[str] = message.get(TEXT)
            if not text:
                continue
            found = [m.as_rasa(text) for m in self._lexicon.extract(text)]
            existing = message.get(ENTITIES, [])
            message.set(ENTITIES, existing + self.add_extractor_name(found), add_to_output=True)
        return messages


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class CommandClassifier(GraphComponent):
    """Sets the ``command`` intent (confidence 1) when a message spells a command.

    Runs after the statistical classifier: account and thread commands ("login CODE",
    "进入洽谈3", "accept 3", "propose licence 500000 yuan 12 months") follow a grammar
    (``nlu/commands.py``), which decides them more reliably than DIET. The action server
    parses the same text with the same grammar for the arguments.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Default configuration of the component."""
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        """Create the component."""
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Leave training data unchanged: the grammar needs no training."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Override the intent of every message that is a command."""
        for message in messages:
            text: Optional[str] = message.get(TEXT)
            command = parse_command(text) if text and not text.startswith("/") else None
            if command is None:
                continue
            intent = {INTENT_NAME_KEY: COMMAND_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [intent], add_to_output=True)
        return messages
