#!/bin/sh
# names.sh - the state, event and outcome names of the C code and of the
# spin model must be the same sets (issue 13: "a check that the two lists
# stay equal").
#
# usage: names.sh [state.c [rotation.pml]]
#
# From vaultd/state.c it takes the name tables, e.g.
#	static const char *const vstate_names[VD_VS__N] = {
#		[VD_VS_PENDING] = "pending",
# and from model/rotation.pml the named mtype lists, e.g.
#	mtype:vstate = { V_pending, V_current, ... };
# Promela's mtype names share one namespace, so the model prefixes each
# list: V_ (vstate, VD_VS_), E_ (vevent, VD_VE_), T_ (tstate, VD_TS_),
# O_ (outcome, VD_OUT_; the stored names: VD_OUT_UNCERTAIN is "partial"),
# R_ (rstate, VD_RS_: access requests, issue 17), RE_ (revent, VD_RE_); a
# "-" of a C name is "_" in the model ("checked-in" is R_checked_in).
# Both sides become lines "<list> <prefix><name>"; exit 1 with a diff when
# they differ, or when either side yields nothing (a parser that finds no
# names must not pass).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
c_file=${1:-$root/vaultd/state.c}
pml_file=${2:-$root/model/rotation.pml}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Strips /* ... */ comments (also across lines) and // comments.
strip_comments() {
	awk '
	{
		line = $0; out = ""
		while (line != "") {
			if (incom) {
				i = index(line, "*/")
				if (i == 0) { line = ""; break }
				line = substr(line, i + 2); incom = 0
			} else {
				i = index(line, "/*")
				if (i == 0) { out = out line; line = ""; break }
				out = out substr(line, 1, i - 1)
				line = substr(line, i + 2); incom = 1
			}
		}
		sub(/\/\/.*/, "", out)
		print out
	}' "$1"
}

# C: "<list> <prefix><name>" for every entry of the six name tables.
strip_comments "$c_file" | awk '
	match($0, /[a-z]+_names\[VD_[A-Z]+__N\]/) {
		list = substr($0, RSTART, RLENGTH)
		sub(/_names.*/, "", list)
		next
	}
	list != "" && /^[ \t]*};/ { list = ""; next }
	list != "" && match($0, /\[VD_(VS|VE|TS|OUT|RS|RE)_[A-Z_]+\][ \t]*=[ \t]*"[a-z_-]+"/) {
		e = substr($0, RSTART, RLENGTH)
		p = e; sub(/^\[VD_/, "", p); sub(/_.*/, "", p)
		n = e; sub(/^[^"]*"/, "", n); sub(/".*/, "", n)
		gsub(/-/, "_", n)	# "checked-in": Promela names take no "-"
		pre = (p == "VS") ? "V_" : (p == "VE") ? "E_" : \
		    (p == "TS") ? "T_" : (p == "RS") ? "R_" : \
		    (p == "RE") ? "RE_" : "O_"
		print list, pre n
	}' | sort >"$tmp/c"

# Model: "<list> <name>" for every name of every mtype list.
strip_comments "$pml_file" | tr '\n' ' ' |
    grep -o 'mtype[ \t]*\(:[ \t]*[a-z_]*\)\{0,1\}[ \t]*=[ \t]*{[^}]*}' |
    awk '{
	list = $0
	sub(/^mtype[ \t]*/, "", list)
	if (list ~ /^:/) {
		sub(/^:[ \t]*/, "", list); sub(/[ \t]*=.*/, "", list)
	} else
		list = "mtype"
	body = $0
	sub(/^[^{]*{/, "", body); sub(/}.*/, "", body)
	n = split(body, names, /[ \t,]+/)
	for (i = 1; i <= n; i++)
		if (names[i] != "")
			print list, names[i]
	}' | sort >"$tmp/m"

if [ ! -s "$tmp/c" ] || [ ! -s "$tmp/m" ]; then
	echo "names: no names found in $c_file or $pml_file" >&2
	exit 1
fi
if ! diff -u --label "$c_file" --label "$pml_file" "$tmp/c" "$tmp/m"; then
	echo "names: the model's mtype lists differ from the C name tables" >&2
	exit 1
fi
echo "names: $(wc -l <"$tmp/c" | tr -d ' ') names agree" \
    "($(cut -d' ' -f1 "$tmp/c" | sort -u | tr '\n' ' ' | sed 's/ $//'))"
