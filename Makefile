# Two commands matter: `make run` (start the assistant) and `make test` (run every test).
# Both install whatever is missing first; every step below is idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help

APP_PY := .venv/bin/python
RASA := .venv-rasa/bin/rasa
export PYTHONPATH := $(CURDIR)
export PYSPARK_PYTHON := $(CURDIR)/.venv/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export SPARK_LOCAL_IP ?= 127.0.0.1

MODEL_INPUTS := config.yml bot/domain.yml data/lexicon.yml $(sort $(wildcard data/nlu/*.yml data/dialogue/*.yml nlu/*.py))
MODEL_HASH := $(shell cat $(MODEL_INPUTS) 2>/dev/null | sha256sum | cut -c1-16)
MODEL := models/$(MODEL_HASH).tar.gz

# The production profile (MATCHMAKER_PROFILE=production) also needs PostgreSQL and Redis, and
# their passwords: taken from the environment, else generated once into var/production.env.
PROD_ENV := var/production.env
PRODUCTION := $(filter production,$(MATCHMAKER_PROFILE))
WITH_PROD_ENV := $(if $(PRODUCTION),. ./$(PROD_ENV) &&,)

.PHONY: help install system web spacy demo model run test test-fast test-unit test-dialogue lint nlu-report \
  infra infra-up infra-down prod-up prod-down index learn

help:
	@echo "make run   - install what is missing, build demo data, index and model, start the assistant"
	@echo "make test  - install what is missing and run every test"
	@echo "make test-fast - the same without the heaviest tests (production profile, Spark cluster, abuse)"
	@echo "make infra-up / infra-down - start / stop the local HDFS and HBase (127.0.0.1)"
	@echo "make prod-up / prod-down - start / stop HDFS, HBase, PostgreSQL and Redis for MATCHMAKER_PROFILE=production"
	@echo "make index - rebuild the index with the Spark job from the exported listings"
	@echo "make learn - train collaborative filtering and compute credit scores from the behaviour events"

install: system .venv/.installed .venv-rasa/.installed web spacy

infra: system
	@infra/fetch.sh

system:
	@scripts/install-system.sh

.venv/.installed: requirements/app.lock
	@test -x .venv/bin/python || $$(scripts/find-python.sh 3.11) -m venv .venv
	.venv/bin/pip install -q --upgrade pip==24.3.1
	.venv/bin/pip install -q -r requirements/app.lock
	@touch $@

.venv-rasa/.installed: requirements/rasa.lock
	@test -x .venv-rasa/bin/python || $$(scripts/find-python.sh 3.10) -m venv .venv-rasa
	.venv-rasa/bin/pip install -q --upgrade pip==24.3.1
	.venv-rasa/bin/pip install -q -r requirements/rasa.lock
	@touch $@

web: bot/web/node_modules/.installed

bot/web/node_modules/.installed: bot/web/package-lock.json
	cd bot/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

spacy: var/spacy/zh_blank/meta.json

var/spacy/zh_blank/meta.json: scripts/make_spacy_blanks.py .venv-rasa/.installed
	.venv-rasa/bin/python scripts/make_spacy_blanks.py var/spacy

demo: .venv/.installed $(if $(PRODUCTION),prod-up)
	$(WITH_PROD_ENV) $(APP_PY) -m matchmaker.bootstrap

model: $(MODEL)

$(MODEL): .venv-rasa/.installed var/spacy/zh_blank/meta.json
	$(RASA) train --config config.yml --domain bot/domain.yml --data data/nlu data/dialogue \
	  --out models --fixed-model-name $(MODEL_HASH)

index: install
	$(APP_PY) -m jobs.export_listings
	$(APP_PY) -m jobs.build_index

learn: install
	$(APP_PY) -m jobs.train_cf
	$(APP_PY) -m jobs.credit

infra-up: infra
	@infra/up.sh
	@echo "HDFS:  hdfs://127.0.0.1:8020 (WebHDFS http://127.0.0.1:9870)"
	@echo "HBase: Thrift 127.0.0.1:9090"
	@echo "Use them with: MATCHMAKER_PROFILE=cluster make run"

infra-down:
	@infra/down.sh

$(PROD_ENV):
	@scripts/production-env.sh $@

prod-up: install infra $(PROD_ENV)
	@. ./$(PROD_ENV) && infra/up.sh && infra/postgres.sh start && infra/redis.sh start
	@echo "PostgreSQL: 127.0.0.1:55432, Redis: 127.0.0.1:56379 (passwords in $(PROD_ENV) unless set in the environment)"
	@echo "Use them with: MATCHMAKER_PROFILE=production make run"

prod-down:
	@infra/redis.sh stop; infra/postgres.sh stop; infra/down.sh

run: install demo model
	$(WITH_PROD_ENV) $(APP_PY) -m bot.stack --model $(MODEL)

lint: .venv/.installed
	$(APP_PY) -m ruff check .
	$(APP_PY) -m mypy

test-dialogue: install model
	$(RASA) data validate --config config.yml --domain bot/domain.yml --data data/nlu data/dialogue --fail-on-warnings
	$(RASA) test core --model $(MODEL) --stories tests/e2e/test_stories.yml --fail-on-prediction-errors \
	  --out results/e2e

test: install infra model lint test-dialogue
	MATCHMAKER_MODEL_ARCHIVE=$(MODEL) $(APP_PY) -m pytest

test-fast: install infra model lint
	MATCHMAKER_MODEL_ARCHIVE=$(MODEL) $(APP_PY) -m pytest -m "not heavy"

nlu-report: install
	bench/nlu_cross_validation.sh
