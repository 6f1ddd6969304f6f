#!/bin/bash
# test_completion.sh COMPLETION_SCRIPT VAULTCTL
#
# Sources the bash completion for vaultctl and checks what it completes:
# commands, sub-commands, options, and target names read from a stub
# vaultctl on PATH that prints a known `target list --json` answer (and
# records its arguments); and that nothing is completed, and nothing
# printed, when the daemon is not running (the real vaultctl against a
# socket nobody listens on).
set -u

SCRIPT=$1
VAULTCTL=$2
tmp=$(mktemp -d /tmp/vd-compl.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0

# shellcheck source=/dev/null
source "$SCRIPT" || { echo "FAIL: cannot source $SCRIPT" >&2; exit 1; }
complete -p vaultctl | grep -q -- '-F _vaultctl' ||
	{ echo "FAIL: no completion registered for vaultctl" >&2; exit 1; }

# complete_line "WORDS..." : COMP_WORDS from the words, the cursor on the
# last one (an empty last word: pass a trailing "").
complete_line()
{
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_vaultctl 2>"$tmp/stderr"
	if [[ -s $tmp/stderr ]]; then
		echo "FAIL: completion printed on stderr: $(cat "$tmp/stderr")" >&2
		fails=$((fails + 1))
	fi
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' |
	    sed 's/ $//'
}

expect()	# expected-words words...
{
	local want=$1 got
	shift
	got=$(complete_line "$@")
	if [[ $got != "$want" ]]; then
		echo "FAIL: '$*' completed to '$got', expected '$want'" >&2
		fails=$((fails + 1))
	fi
}

# Stub vaultctl: the target list as `vaultctl target list --json` prints it
# (indented, sorted keys, nested arrays and objects included).
mkdir "$tmp/bin"
cat >"$tmp/bin/vaultctl" <<STUB
#!/bin/sh
printf '%s\n' "\$*" >>"$tmp/args"
case "\$*" in
*"target list --json")
	cat <<'JSON'
[
  {
    "account_hosts": [
      "localhost",
      "127.0.0.1"
    ],
    "created_at": "2026-11-25T21:55:38Z",
    "host": "10.0.0.5",
    "name": "batch1",
    "policy": "bank",
    "port": 3306,
    "user": "root"
  },
  {
    "account_hosts": "auto",
    "name": "batch2",
    "unix_socket": "/run/mysqld/mysqld.sock",
    "user": "root"
  },
  {
    "name": "reporting.db-3",
    "user": "root"
  }
]
JSON
	;;
*) exit 1 ;;
esac
STUB
chmod 755 "$tmp/bin/vaultctl"
PATH=$tmp/bin:$PATH

expect "target" vaultctl ta
expect "abandon add check list remove set set-password show" vaultctl target ""
expect "batch1 batch2" vaultctl target check b
expect "remove" vaultctl target r
expect "audit" vaultctl au
expect "init" vaultctl --socket /x in
expect "list restore verify" vaultctl audit ""
expect "keygen" vaultctl escrow k
expect "pin" vaultctl escrow pi
expect "--accept-vault-key" vaultctl breakglass --ac
expect "generate" vaultctl policy gen
expect "--csv --help --json --limit --socket" vaultctl history x --
expect "drift" vaultctl status --state d
expect "checked-out" vaultctl status --state che
expect "--wait" vaultctl rotate --w
expect "--all" vaultctl rotate --a
expect "--check" vaultctl status --ch
expect "--prometheus" vaultctl status --p
expect "--check --grace --help --json --prometheus --socket --state" vaultctl status --
expect "" vaultctl status --check --grace ""
expect "--help --host" vaultctl target add n --user root --h
expect "--account-hosts --admin-user --after-reveal --approvals" vaultctl target add n --a
expect "--anchor --checkpoint --data-dir --full --help --journal --key-file --vault-key" vaultctl audit verify --
expect "--anchor --data-dir --help --key-file" vaultctl audit restore --
expect "--allow-unindexed" vaultctl breakglass --al
expect "--allow-unindexed" vaultctl breakglass share --al
expect "--unindexed" vaultctl escrow export --un
expect "interactive moderate sensitive" vaultctl init --kdf-cost ""
expect "auto" vaultctl target add n --account-hosts ""

# Target names, from the stub's JSON (nested keys are not names).
expect "batch1 batch2 reporting.db-3" vaultctl get ""
expect "batch1 batch2" vaultctl rotate ba
expect "reporting.db-3" vaultctl target show rep
expect "batch1 batch2" vaultctl target set-password b
expect "batch1 batch2" vaultctl target set b
expect "" vaultctl target set batch1 ""
expect "--every" vaultctl target set batch1 --ev
expect "--force" vaultctl target add n --f
expect "batch1 batch2" vaultctl check b
expect "" vaultctl check --all ""
expect "--all --help --json --socket" vaultctl check --
expect "--help --json --socket" vaultctl target set-password batch1 --
expect "batch1 batch2 reporting.db-3" vaultctl history --limit 5 ""
# Checkouts (issue 17): names for request, checkin, revoke; not after --id.
expect "batch1 batch2" vaultctl request b
expect "batch1 batch2" vaultctl checkin b
expect "batch1 batch2" vaultctl revoke b
expect "" vaultctl revoke --id 3 ""
expect "" vaultctl approve ""
expect "--approvals" vaultctl target set batch1 --ap
expect "--check --checkout-max" vaultctl target add n --ch
expect "approve" vaultctl app
expect "request requests" vaultctl reque
# Only one name: after it, nothing.
expect "" vaultctl get batch1 ""
# rotate --all names no target, before or after the option.
expect "" vaultctl rotate --all ""
expect "--all --help --json --socket --wait" vaultctl rotate --all --
expect "batch1 batch2 reporting.db-3" vaultctl rotate --wait ""
# Not for commands without a name.
expect "" vaultctl status ""
# --socket, before or after the command, is passed to vaultctl.
: >"$tmp/args"
expect "batch2" vaultctl --socket /srv/v.sock get batch2
grep -qx -- '--socket /srv/v.sock target list --json' "$tmp/args" ||
	{ echo "FAIL: --socket not passed on: $(cat "$tmp/args")" >&2; fails=$((fails + 1)); }
: >"$tmp/args"
expect "batch1" vaultctl rotate --socket /s2 batch1
grep -qx -- '--socket /s2 target list --json' "$tmp/args" ||
	{ echo "FAIL: --socket after the command: $(cat "$tmp/args")" >&2; fails=$((fails + 1)); }

# A stub that fails (daemon down, permission denied): no names.
cat >"$tmp/bin/vaultctl" <<'STUB'
#!/bin/sh
echo "vaultctl: cannot connect" >&2
exit 1
STUB
expect "" vaultctl get ""

# The real vaultctl with no daemon behind the socket: no names, no output.
ln -sf "$VAULTCTL" "$tmp/bin/vaultctl"
expect "" vaultctl --socket "$tmp/none.sock" get ""
expect "" vaultctl get --socket "$tmp/none.sock" b

# Every command and option the real vaultctl's help shows is completed.
cmds=$("$VAULTCTL" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
[[ -n $cmds ]] || { echo "FAIL: no commands in vaultctl --help" >&2; fails=$((fails + 1)); }
all=$(complete_line vaultctl "")
for c in $cmds; do
	[[ " $all " == *" $c "* ]] ||
		{ echo "FAIL: command $c not completed" >&2; fails=$((fails + 1)); }
	for o in $("$VAULTCTL" "$c" --help 2>&1 | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		grep -qE -- "(^|[ \"])$o([ \"]|\$)" "$SCRIPT" ||
			{ echo "FAIL: option $o of $c not completed" >&2; fails=$((fails + 1)); }
	done
done

if ((fails)); then
	echo "test_completion: $fails failure(s)" >&2
	exit 1
fi
echo "test_completion: ok"
