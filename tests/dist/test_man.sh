#!/bin/sh
# test_man.sh BUILD_DIR SOURCE_DIR GROFF
#
# The man pages built from docs/man/*.scd render without a single groff or
# man warning, and document what exists: every command, sub-command and
# option that `vaultctl --help` and `vaultctl COMMAND --help` show, every
# exit code; every vaultd option; every configuration section and key the
# config and policy parsers accept (read from their sources, so a new key
# without documentation fails here).
set -eu

BUILD=$1
SRC=$2
GROFF=$3
VAULTCTL=$BUILD/vaultctl
VAULTD=$BUILD/vaultd
tmp=$(mktemp -d /tmp/vd-man.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

for page in vaultctl.1 vaultd.8 vaultd.conf.5; do
	f=$BUILD/man/$page
	[ -s "$f" ] || { fail "$f missing"; continue; }
	if ! "$GROFF" -man -Tutf8 -ww -z "$f" >"$tmp/groff.err" 2>&1 ||
	    [ -s "$tmp/groff.err" ]; then
		fail "$page: groff warnings: $(cat "$tmp/groff.err")"
	fi
	if ! man --warnings -l "$f" >/dev/null 2>"$tmp/man.err" ||
	    [ -s "$tmp/man.err" ]; then
		fail "$page: man -l: $(cat "$tmp/man.err")"
	fi
	# Plain text, one paragraph per line, no hyphenation: for grep.
	"$GROFF" -man -Tascii -rLL=250n -rHY=0 -P-cbou "$f" \
	    >"$tmp/$page.txt" 2>/dev/null
done

# has PAGE WORD: WORD appears as a whole word (options: as written).
has() {
	grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" "$tmp/$1.txt"
}

# vaultctl: commands from its own help.
"$VAULTCTL" --help >"$tmp/help"
cmds=$(sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$tmp/help")
[ "$(echo "$cmds" | wc -w)" -ge 10 ] || fail "too few commands parsed: $cmds"
for c in $cmds; do
	grep -q "^ *vaultctl $c\( \|$\)" "$tmp/vaultctl.1.txt" ||
		fail "vaultctl.1: no synopsis for command '$c'"
	"$VAULTCTL" "$c" --help >"$tmp/help.$c" 2>&1 || true
	# Sub-commands: "vaultctl CMD SUB" in the usage lines.
	for s in $(sed -n "s/^ *\(usage: \)\{0,1\}vaultctl $c \([a-z][a-z]*\)\( .*\)\{0,1\}\$/\2/p" \
	    "$tmp/help.$c"); do
		grep -q "^ *vaultctl $c $s\( \|$\)" "$tmp/vaultctl.1.txt" ||
			fail "vaultctl.1: no synopsis for '$c $s'"
	done
	for o in $(grep -oE -- '--[a-z][a-z-]*' "$tmp/help.$c" | sort -u); do
		has vaultctl.1 "$o" || fail "vaultctl.1: option $o of '$c' missing"
	done
done
for o in $(grep -oE -- '--[a-z][a-z-]*' "$tmp/help" | sort -u); do
	has vaultctl.1 "$o" || fail "vaultctl.1: global option $o missing"
done
# Exit codes: "exit codes: 0 ok, 1 failed, ..." each as an item.
codes=$(sed -n 's/^exit codes: //p' "$tmp/help" | tr ',' '\n' |
    sed -n 's/^ *\([0-9][0-9]*\) .*/\1/p')
[ -n "$codes" ] || fail "no exit codes in vaultctl --help"
for n in $codes; do
	sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$tmp/vaultctl.1.txt" |
	    grep -qE "^ +$n\$" || fail "vaultctl.1: exit code $n missing"
done

# status --check's plugin codes, and every metric status --prometheus
# prints (read from its source, so a new metric without documentation
# fails here).
for w in OK WARNING CRITICAL UNKNOWN; do
	has vaultctl.1 "$w" || fail "vaultctl.1: status --check state $w missing"
done
metrics=$(grep -oE '"vaultd_[a-z_]+' "$SRC/cli/cmd_status.c" | tr -d '"' | sort -u)
[ "$(echo "$metrics" | wc -w)" -ge 10 ] || fail "too few metrics parsed: $metrics"
for m in $metrics; do
	has vaultctl.1 "$m" || fail "vaultctl.1: metric $m missing"
done

# vaultd: the options in its usage and in main.c's table; exit codes.
"$VAULTD" --help >"$tmp/vhelp"
for o in $(grep -oE -- '--[a-z][a-z-]*' "$tmp/vhelp" | sort -u) \
    $(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z]*_argument.*/--\1/p' \
    "$SRC/vaultd/main.c"); do
	has vaultd.8 "$o" || fail "vaultd.8: option $o missing"
done
for n in 0 1 2; do
	sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$tmp/vaultd.8.txt" |
	    grep -qE "^ +$n\$" || fail "vaultd.8: exit code $n missing"
done
for s in SIGTERM SIGHUP; do
	has vaultd.8 "$s" || fail "vaultd.8: $s missing"
done

# vaultd.conf: sections and keys, from the parsers' sources.
sections=$(sed -n 's/.*strcmp(section, "\([a-z]*\)").*/\1/p' "$SRC/vaultd/config.c")
[ -n "$sections" ] || fail "no sections parsed from config.c"
for s in $sections; do
	grep -q "^\[$s" "$tmp/vaultd.conf.5.txt" ||
		fail "vaultd.conf.5: section [$s] missing"
done
grep -q '^\[policy NAME\]' "$tmp/vaultd.conf.5.txt" ||
	fail "vaultd.conf.5: section [policy NAME] missing"
keys=$(sed -n 's/.*strcmp(key, "\([a-z_]*\)").*/\1/p' \
    "$SRC/vaultd/config.c" "$SRC/common/policy.c"
    sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", offsetof.*/\1/p' \
    "$SRC/common/policy.c"
    sed -n '/^static const char \*const role_names\[/,/};/p' "$SRC/vaultd/config.c" |
    grep -oE '"[a-z]+"' | tr -d '"'
    # min_%s, built from the class names.
    echo min_upper min_lower min_digit min_special mode)
[ "$(echo "$keys" | wc -w)" -ge 30 ] || fail "too few keys parsed: $keys"
for k in $keys; do
	has vaultd.conf.5 "$k" || fail "vaultd.conf.5: key $k missing"
done
# Every key of the shipped example is documented too.
for k in $(sed -n 's/^#\{0,1\} *\([a-z_]*\) = .*/\1/p' "$SRC/etc/vaultd.conf.example" | sort -u); do
	has vaultd.conf.5 "$k" || fail "vaultd.conf.5: example key $k missing"
done

if [ "$fails" -ne 0 ]; then
	echo "test_man: $fails failure(s)" >&2
	exit 1
fi
echo "test_man: ok ($(echo $cmds | wc -w) commands, $(echo $keys | wc -w) keys)"
