#!/usr/bin/env bash
# Prints the path of a Python interpreter of the version given (e.g. 3.10), or fails.
set -euo pipefail
want=$1
for candidate in "python$want" "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/$want"*/bin/python; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; then
    command -v "$candidate"
    exit 0
  fi
done
echo "Python $want is required but was not found (install it, e.g. with pyenv)" >&2
exit 1
