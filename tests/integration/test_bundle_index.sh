#!/bin/sh
# test_bundle_index.sh - issue 14 items 1 and 2: the signed index and audit
# checkpoint of escrow bundles (common/bundle_index.c), attacked with
# vaultctl and the test helper.  Each attack must be refused.  No database.
#
#   test_bundle_index.sh VAULTCTL HELPER
#
# The attacker holds a bundle (and, for the checkpoint, the data directory
# with its anchor file) but not the vault's key:
#  - hides the newest version (drops its envelopes): break-glass would open
#    the older password;
#  - plants a version the vault signed elsewhere (a diverged copy of the
#    data directory shares its signing key) that the bundle never held;
#  - swaps an envelope for another sealing of the same version, signed by
#    the same vault key;
#  - re-signs the index with a fresh key;
#  - strips the index (and an old unindexed bundle);
#  - cuts the audit tail and rolls back the anchor file with it (refused
#    by the integrity record), then puts back a whole older data file with
#    its anchor: only a bundle's signed checkpoint shows the cut.
set -u

[ $# -eq 2 ] || { echo "usage: $0 VAULTCTL HELPER" >&2; exit 2; }
VC=$1
H=$2
T=$(mktemp -d /tmp/vdbidx.XXXXXX) || exit 1
trap 'rm -rf -- "$T"' EXIT
# shellcheck source=bglib.sh
. "$(dirname "$0")/bglib.sh"

# Expects $T/err to hold text.
says() {
	grep -q -- "$1" "$T/err" || fail "$2: expected '$1' in: $(cat "$T/err")"
}

PW1='Genuine-Pw-1-7481'
PW2='Genuine-Pw-2-5520'
PWA='Db2-Pw-In-Vault-3307'
PWB='Db2-Pw-In-Copy-8812'
PW3='Planted-Pw-3-6150'

"$VC" escrow keygen --out "$T/customer.key" >/dev/null || fail "keygen customer"
"$VC" escrow keygen --out "$T/vendor.key" >/dev/null || fail "keygen vendor"
C="customer=$T/customer.key.pub"
V="vendor=$T/vendor.key.pub"
D=$T/data
printf '%s\n' "$PW1" | "$H" seal "$D" db1 1 previous any "$C" "$V" ||
    fail "seal db1 v1"
fp=$("$VC" escrow vault-key --data-dir "$D" --key-file "$D.key") ||
    fail "escrow vault-key"
"$VC" escrow pin --escrow-key "$T/customer.key" --vault-key "$fp" \
    >/dev/null 2>&1 || fail "pin customer"

# An export needs the vault's key now (to sign the index).
"$VC" escrow export --data-dir "$D" --out "$T/b0" >"$T/out" 2>"$T/err"
[ $? -eq 2 ] || fail "export without a key: not a usage error"
says '--key-file or --passphrase' "export without a key"
[ -e "$T/b0" ] && fail "export without a key wrote a bundle"
"$VC" escrow export --data-dir "$D" --key-file "$D.key" --out "$T/b1" \
    >/dev/null 2>"$T/err" || fail "export b1: $(cat "$T/err")"

printf '%s\n' "$PW2" | "$H" seal "$D" db1 2 current any "$C" "$V" ||
    fail "seal db1 v2"
# A diverged copy of the data directory: same data key, so the same vault
# signing key; what it seals is signed by the pinned key.
cp -a "$D" "$T/copy" && cp -a "$D.key" "$T/copy.key" || fail "copy"
printf '%s\n' "$PWA" | "$H" seal "$D" db2 1 current any "$C" "$V" ||
    fail "seal db2 v1"
printf '%s\n' "$PWB" | "$H" seal "$T/copy" db2 1 current any "$C" "$V" ||
    fail "seal db2 v1 in the copy"
printf '%s\n' "$PW3" | "$H" seal "$T/copy" db1 3 current any "$C" "$V" ||
    fail "seal db1 v3 in the copy"
"$VC" escrow export --data-dir "$D" --key-file "$D.key" --out "$T/b2" \
    >/dev/null 2>"$T/err" || fail "export b2: $(cat "$T/err")"
"$VC" escrow export --data-dir "$T/copy" --key-file "$T/copy.key" \
    --out "$T/bc" >/dev/null 2>"$T/err" || fail "export bc: $(cat "$T/err")"
[ "$(stat -c %a "$T/b2")" = 600 ] || fail "bundle not 0600"
head -c 8 "$T/b2" | grep -q VDBUNDL2 || fail "b2 is not a version 2 bundle"

# Genuine bundles open, with the signed states named.
brk --bundle "$T/b2" --escrow-key "$T/customer.key" db1 ||
    fail "genuine b2: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW2" ] || fail "genuine b2: wrong password"
says 'version 2 was current then' "genuine b2"
brk --bundle "$T/b2" --escrow-key "$T/customer.key" --version 1 db1 ||
    fail "genuine b2 v1: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW1" ] || fail "genuine b2 v1: wrong password"
says 'version 1 was previous then' "genuine b2 v1"
brk --bundle "$T/b1" --escrow-key "$T/customer.key" db1 ||
    fail "genuine b1: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW1" ] || fail "genuine b1: wrong password"
brk --bundle "$T/b2" --escrow-key "$T/customer.key" db2 ||
    fail "genuine b2 db2: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PWA" ] || fail "genuine b2 db2: wrong password"

# ---- a hidden newer version --------------------------------------------------
"$H" bundle "$T/b2" "$T/hidden" drop db1 2 || fail "drop"
brk --bundle "$T/hidden" --escrow-key "$T/customer.key" db1
refused $? "hidden version 2"
says 'version 2 of db1 (current, party customer) is in the bundle.s signed index' \
    "hidden"
says 'hidden after export' "hidden"
grep -q "$PW1" "$T/out" "$T/err" && fail "hidden: the older password was printed"
brk --bundle "$T/hidden" --escrow-key "$T/customer.key" --version 1 db1
refused $? "hidden version 2, --version 1"
# share reads the same bundle the same way.
brk share --bundle "$T/hidden" --escrow-key "$T/customer.key" \
    --to "$T/vendor.key.pub" --out "$T/share" db1
refused $? "share from the hidden bundle"
[ -e "$T/share" ] && fail "share written from a tampered bundle"
# Other targets of the bundle are untouched by the edit.
brk --bundle "$T/hidden" --escrow-key "$T/customer.key" db2 ||
    fail "db2 beside the hidden db1: $(cat "$T/err")"

# ---- a planted version (signed by the same vault, never in this bundle) ------
"$H" bundle "$T/b2" "$T/planted" take "$T/bc" db1 3 customer || fail "plant"
brk --bundle "$T/planted" --escrow-key "$T/customer.key" db1
refused $? "planted version 3"
says 'version 3 of db1 (party customer) is in the bundle but not in its signed index' \
    "planted"
grep -q "$PW3" "$T/out" "$T/err" && fail "planted: its password was printed"

# ---- a swapped envelope (another sealing of the same version) ----------------
"$H" bundle "$T/b2" "$T/swapped" take "$T/bc" db2 1 customer || fail "swap"
brk --bundle "$T/swapped" --escrow-key "$T/customer.key" db2
refused $? "swapped envelope"
says 'the envelope of party customer for db2 version 1 differs' "swapped"
grep -q "$PWB" "$T/out" "$T/err" && fail "swapped: its password was printed"
# The vendor's envelope was not swapped, but the bundle is.
brk --bundle "$T/swapped" --escrow-key "$T/vendor.key" --vault-key "$fp" db2
refused $? "swapped envelope, the other party"

# ---- an index re-signed with a fresh key --------------------------------------
"$H" bundle "$T/b2" "$T/resigned" resign || fail "resign"
brk --bundle "$T/resigned" --escrow-key "$T/customer.key" db1
refused $? "re-signed index, pinned key"
says "the bundle's index is signed by vault key [0-9a-f]*, not the trusted $fp" \
    "re-signed"
brk --bundle "$T/resigned" --escrow-key "$T/vendor.key" --vault-key "$fp" db1
refused $? "re-signed index, --vault-key"
# Trust on first use must not take the index's key over the envelopes'.
cp "$T/vendor.key" "$T/vendor-tofu.key"
brk --bundle "$T/resigned" --escrow-key "$T/vendor-tofu.key" \
    --accept-vault-key db1
refused $? "re-signed index, first use"
sed -n 2p "$T/vendor-tofu.key" | grep -q . &&
    fail "first use on a re-signed index pinned a key"
# A flipped byte in the index: its signature fails.
cp "$T/b2" "$T/flipped"
# Byte 140: inside the first entry's envelope hash.
printf 'X' | dd of="$T/flipped" bs=1 seek=140 conv=notrunc 2>/dev/null
brk --bundle "$T/flipped" --escrow-key "$T/customer.key" db1
refused $? "index byte changed"
says 'fails its signature' "flipped index"

# ---- no index --------------------------------------------------------------
"$H" bundle "$T/b2" "$T/stripped" strip || fail "strip"
brk --bundle "$T/stripped" --escrow-key "$T/customer.key" db1
refused $? "stripped index"
says 'has no signed index' "stripped"
says '--allow-unindexed' "stripped"
brk --bundle "$T/stripped" --escrow-key "$T/customer.key" --allow-unindexed db1 ||
    fail "stripped, --allow-unindexed: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$PW2" ] || fail "stripped, --allow-unindexed: wrong password"
says 'WARNING: bundle .* has no signed index' "--allow-unindexed"
"$VC" escrow export --data-dir "$D" --unindexed --out "$T/old" \
    >"$T/out" 2>"$T/err" || fail "export --unindexed: $(cat "$T/err")"
grep -q 'allow-unindexed' "$T/out" || fail "export --unindexed: $(cat "$T/out")"
brk --bundle "$T/old" --escrow-key "$T/customer.key" db1
refused $? "unindexed export"
# The pin still holds without an index.
cp -a "$D" "$T/forged" || fail "copy forged"
printf 'Forged-Pw-1234\n' | "$H" forge "$T/forged" db1 4 any "$C" "$V" ||
    fail "forge"
"$VC" escrow export --data-dir "$T/forged" --unindexed --out "$T/forged.b" \
    >/dev/null 2>&1 || fail "export forged"
brk --bundle "$T/forged.b" --escrow-key "$T/customer.key" --allow-unindexed db1
refused $? "forged version in an unindexed bundle"
says 'not the trusted' "forged unindexed"

# ---- the checkpoint: a cut tail with the anchor rolled back ------------------
A=$T/aud
printf '%s\n' "$PW1" | "$H" seal "$A" db1 1 current any "$C" "$V" ||
    fail "seal for audit"
"$H" audit "$A" 3 || fail "audit 3"
"$H" savehead "$A" "$T/head.old" || fail "savehead"
cp "$A.anchor" "$T/anchor.old" || fail "save the anchor"
cp "$A/data.mdb" "$T/data.old" || fail "save the data file"
"$VC" audit verify --data-dir "$A" --key-file "$A.key" >"$T/out" 2>"$T/err" ||
    fail "verify: $(cat "$T/err")"
n=$(sed -n 's/^audit log intact: \([0-9]*\) entries$/\1/p' "$T/out")
"$H" audit "$A" 4 || fail "audit 4 more"
"$VC" escrow export --data-dir "$A" --key-file "$A.key" --out "$T/ba" \
    >/dev/null 2>"$T/err" || fail "export ba: $(cat "$T/err")"
"$VC" audit verify --data-dir "$A" --key-file "$A.key" --checkpoint "$T/ba" \
    >"$T/out" 2>"$T/err" || fail "verify --checkpoint: $(cat "$T/err")"
grep -q "continues the signed checkpoint of $T/ba (entry $((n + 4))," "$T/out" ||
    fail "checkpoint not reported: $(cat "$T/out")"
# A later export's checkpoint is older than the log: still a continuation.
"$H" audit "$A" 2 || fail "audit 2 more"
"$VC" audit verify --data-dir "$A" --key-file "$A.key" --checkpoint "$T/ba" \
    >"$T/out" 2>"$T/err" || fail "verify --checkpoint, grown: $(cat "$T/err")"

# The attack: the newest 6 entries go, the older head and the anchor come
# back (the anchor is a file an attacker with the directory's parent can
# replace by an older copy of itself).
cut=$("$H" cut "$A" $((n + 1)) "$T/head.old") || fail "cut"
[ "$cut" -eq 6 ] || fail "cut $cut entries, expected 6"
cp "$T/anchor.old" "$A.anchor"
# Cut record by record, the vault's integrity record already shows it ...
"$VC" audit verify --data-dir "$A" --key-file "$A.key" >"$T/out" 2>"$T/err"
refused $? "cut tail, plain verify (integrity record)"
says "modified outside vaultd" "integrity record"
# ... so the attacker puts back the whole older data file, consistent in
# itself, with its anchor: plain verify cannot tell.
cp "$T/data.old" "$A/data.mdb" || fail "roll back the data file"
"$VC" audit verify --data-dir "$A" --key-file "$A.key" >"$T/out" 2>"$T/err" ||
    fail "the rolled-back copy was expected to pass: $(cat "$T/err")"
"$VC" audit verify --data-dir "$A" --key-file "$A.key" --checkpoint "$T/ba" \
    >"$T/out" 2>"$T/err"
refused $? "cut tail with the anchor rolled back, --checkpoint"
says "entries $((n + 1))-$((n + 4)) are missing" "checkpoint cut"
# A checkpoint of another vault is not taken.
"$VC" audit verify --data-dir "$A" --key-file "$A.key" --checkpoint "$T/b2" \
    >"$T/out" 2>"$T/err"
refused $? "another vault's checkpoint"
says "not this vault's" "foreign checkpoint"
"$VC" audit verify --data-dir "$A" --key-file "$A.key" --checkpoint "$T/old" \
    >"$T/out" 2>"$T/err"
refused $? "an unindexed bundle as checkpoint"
says "no signed checkpoint" "unindexed checkpoint"

if [ $fails -ne 0 ]; then
	echo "test_bundle_index: $fails failure(s)" >&2
	exit 1
fi
echo "test_bundle_index: ok"
