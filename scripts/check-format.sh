#!/usr/bin/env bash
# Checks that every C source follows .clang-format (run by ctest as format_check).
#   scripts/check-format.sh [--fix]    --fix rewrites the files instead
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find proto base campaign store report aggregator collector reporter audit keys bench tests \
                          -name '*.[ch]' -not -path '*/corpus/*' | sort)
if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${files[@]}"
  exit 0
fi
clang-format --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files follow .clang-format"
