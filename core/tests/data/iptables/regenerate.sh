#!/usr/bin/env bash
# Regenerates the golden iptables corpus from the real tool.
#
# Usage, as root: core/tests/data/iptables/regenerate.sh
#
# For every `in` line of rules.txt it appends that rule spec to a chain of a throwaway
# network namespace (nat PREROUTING for DNAT, nat POSTROUTING for SNAT and MASQUERADE,
# nat PREROUTING for REDIRECT, raw PREROUTING for NOTRACK and CT, filter FORWARD otherwise; user chains X and Y exist in both tables) and writes what
# `iptables-save` prints for it as the `out` line that follows. For every line of
# rejected.txt it rewrites the third column with what real iptables does with the input:
# `accepted` or `refused`. Specs are split into arguments by the shell (eval), so the
# corpus uses shell quoting. Nothing runs in the root namespace; the namespace is deleted
# on exit, whatever happens. The committed tests only read the files: they need neither
# root nor iptables.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
ns=ntw-ipt-gen-$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ipt() { ip netns exec "$ns" iptables "$@"; }
for t in filter nat; do for c in X Y; do ipt -t "$t" -N "$c"; done; done
iptables --version >&2

# try SPEC: appends SPEC to its chain and prints what iptables-save shows for it.
try() {
  local spec=$1 table=filter chain=FORWARD
  case "$spec" in
    *DNAT*) table=nat chain=PREROUTING ;;
    *SNAT* | *MASQUERADE*) table=nat chain=POSTROUTING ;;
    *REDIRECT*) table=nat chain=PREROUTING ;;
    *NOTRACK* | *" CT "*) table=raw chain=PREROUTING ;;
    *owner*) chain=OUTPUT ;;
  esac
  ipt -t "$table" -F "$chain"
  eval "set -- $spec" 2>/dev/null || return 1
  ipt -t "$table" -A "$chain" "$@" 2>/dev/null || return 1
  ip netns exec "$ns" iptables-save -t "$table" | sed -n -E "s/^-A $chain( |\$)//p"
}

tmp=$(mktemp)
while IFS= read -r line; do
  case "$line" in
    "in "*)
      printf '%s\n' "$line"
      spec=${line#in }
      if ! res=$(try "$spec"); then
        echo "iptables refused a golden input: $spec" >&2
        exit 1
      fi
      if [ "$(printf '%s\n' "$res" | wc -l)" -ne 1 ]; then
        echo "not exactly one rule for: $spec" >&2
        exit 1
      fi
      printf 'out %s\n' "$res"
      ;;
    "out "* | out) ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$dir/rules.txt" >"$tmp"
mv "$tmp" "$dir/rules.txt"

tmp=$(mktemp)
while IFS= read -r line; do
  case "$line" in
    "#"* | "") printf '%s\n' "$line" ;;
    *)
      kind=${line%% | *}; rest=${line#* | }
      token=${rest%% | *}; rest=${rest#* | }
      input=${rest#* | }
      if try "$input" >/dev/null; then verdict=accepted; else verdict=refused; fi
      printf '%s | %s | %s | %s\n' "$kind" "$token" "$verdict" "$input"
      ;;
  esac
done <"$dir/rejected.txt" >"$tmp"
mv "$tmp" "$dir/rejected.txt"
echo "regenerated $dir/rules.txt and $dir/rejected.txt" >&2
