#!/usr/bin/env bash
# Replays the `#[case::name("setup", "command", "expected")]` table of
# core/tests/iptables_ruleset.rs against the real iptables, one fresh throwaway network
# namespace per case, and reports every case whose outcome differs from the table.
#
# Usage, as root: core/tests/data/iptables/check-commands.sh
#
# Setup commands (separated by `;`) must all succeed; the command's outcome is mapped from
# iptables' message to nettwin's error kind. Nothing runs in the root namespace.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
tests="$dir/../../iptables_ruleset.rs"
ns=ntw-ipt-chk-$$
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT

kind_of() {
  case "$1" in
    *"Chain already exists"*) echo already-exists ;;
    *"No chain/target/match"* | *"does not exist"* | *"Bad rule"* | *"Index of deletion too big"* | *"(No such file or directory)"*) echo not-found ;;
    *"(Invalid argument)"* | *"Index of insertion too big"* | *"Bad built-in chain name"*) echo invalid-argument ;;
    *"(Device or resource busy)"*) echo in-use ;;
    *"(Operation not supported)"*) echo not-supported ;;
    *"(Too many links)"*) echo loop ;;
    *) echo "unexpected: $1" ;;
  esac
}

total=0 bad=0
while IFS='|' read -r name setup cmd expected; do
  total=$((total + 1))
  ip netns add "$ns"
  IFS=';' read -ra steps <<<"$setup"
  for s in "${steps[@]}"; do
    [ -z "${s// /}" ] && continue
    if ! out=$(eval "ip netns exec $ns iptables $s" 2>&1); then
      echo "$name: setup '$s' failed: $out"; bad=$((bad + 1))
    fi
  done
  if out=$(eval "ip netns exec $ns iptables $cmd" 2>&1); then got=ok; else got=$(kind_of "$out"); fi
  if [ "$got" != "$expected" ]; then
    echo "$name: '$cmd' gave $got, the table says $expected ($out)"; bad=$((bad + 1))
  fi
  ip netns del "$ns"
done < <(
  # One line per case (rustfmt may have wrapped it), then the four fields.
  awk '/^#\[case::/ { c = $0; while (c !~ /\)\]$/ && (getline l) > 0) { sub(/^ +/, "", l); c = c " " l }; print c }' "$tests" |
    sed -E 's/\( "/("/; s/",? \)\]$/")]/' |
    sed -n -E 's/^#\[case::([a-z0-9_]+)\("([^"]*)", "([^"]*)", "([a-z-]+)"\)\]$/\1|\2|\3|\4/p'
)
echo "$total cases, $bad differences"
[ "$bad" -eq 0 ]
