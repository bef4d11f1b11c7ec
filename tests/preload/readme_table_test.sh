#!/usr/bin/env bash
# The option tables of README.md (between <!-- options:begin --> and <!-- options:end -->)
# and docs/options.md (same markers) must equal `uzswap-options --markdown`, generated from
# preload/options.def. Regenerate with scripts/options-table.sh.
set -euo pipefail
tool=$1 root=$2
expected=$("$tool" --markdown)
status=0
for f in "$root/README.md" "$root/docs/options.md"; do
  actual=$(sed -n '/<!-- options:begin -->/,/<!-- options:end -->/p' "$f" | sed '1d;$d')
  if [ "$actual" != "$expected" ]; then
    echo "FAIL: the option table in $f differs from 'uzswap-options --markdown':" >&2
    diff <(echo "$expected") <(echo "$actual") >&2 || true
    status=1
  fi
done
[ $status -eq 0 ] && echo "option tables match preload/options.def"
exit $status
