#!/usr/bin/env bash
# Intent F1 of the NLU pipeline by k-fold cross-validation, separately for each language.
# Prints one JSON object per language, e.g. {"language": "en", "folds": 3, "intent_f1": 0.97, ...}.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD
folds=${FOLDS:-3}
for language in en zh; do
  out=results/nlu-cv-$language
  .venv-rasa/bin/rasa test nlu --config config.yml --nlu data/nlu/$language.yml --cross-validation \
    --folds "$folds" --out "$out" >"$out.log" 2>&1 || { echo "cross-validation failed, see $out.log" >&2; exit 1; }
  .venv-rasa/bin/python - "$out/intent_report.json" "$language" "$folds" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print(json.dumps({"language": sys.argv[2], "folds": int(sys.argv[3]),
                  "intent_f1": round(report["weighted avg"]["f1-score"], 4),
                  "intent_accuracy": round(report["accuracy"], 4),
                  "examples": int(report["weighted avg"]["support"])}))
PY
done
