/*
 * rotation.pml - a Promela model of vaultd's password rotation protocol
 * (DESIGN.md "Rotation, crash-safe"; vaultd/state.h; vaultd/rotate.c).
 *
 * One target, its versions in the store, and the server's rows of the
 * target's account.  Processes:
 *
 *   engine    the rotation engine: scheduler and one job at a time
 *             (prep, open_as, apply, verify, record; resolve; check);
 *             crashes at any step (memory lost, the store kept); a job
 *             vaultd prepares ahead and holds for a free slot (rotate.c
 *             run_job) is this one with more steps of the others between
 *             its prep and its open_as, which the interleaving has;
 *   operator  get, rotate, set-password, target remove, abandon and
 *             config reload, at any time, concurrent with the engine
 *             (one request at a time: get and the others are single
 *             steps, so two at once add no new outcome here);
 *   admin     the person who answers a drift alert with set-password
 *             (liveness run only);
 *   outsider_drift  sets a row's password to one the vault does not
 *             know, or restores an older kept one (a backup restore);
 *   crasher   kills the engine (bounded, so fairness means something);
 *   vendor    (with -DCHECKOUT, issue 17) access requests of the target:
 *             request, approve (the N-th), deny, expiry, check-in, revoke.
 *
 * The names of states, events and outcomes are those of vaultd/state.c
 * with a prefix (V_ version state, E_ version event, T_ target state,
 * O_ job outcome): tests/model/names.sh checks that both lists agree.
 *
 * Claims (one spin run each, ./pan -N <name>; tests/model/check.sh):
 *   a   every row holds a password the vault has stored, unless an
 *       outsider set it; every answer of get logs in on every reachable
 *       row no outsider touched;
 *   b   no password is generated while a version is pending;
 *   c   every pending version is resolved (liveness, weak fairness);
 *   d   vaultd never makes the server block an account: the failed
 *       logins it causes between two successful ones stay below MAXERR;
 *   e   (CHECKOUT) no scheduled rotation generates a password while a
 *       checkout holds the target;
 *   f   (CHECKOUT) every end of a checkout (check-in, expiry, revoke)
 *       leads to a new password in force, unless the target is removed
 *       (liveness, weak fairness).
 *
 * Broken variants (spin -DBROKEN_x), each of which spin must reject:
 *   BROKEN_GET_NOWAIT  get answers "current" while a job is in flight or
 *                      a version is pending (issue 13 case 9)       -> a
 *   BROKEN_NO_HASH     resolution fails a pending version on the login
 *                      probes alone, taking an unreachable row for "not
 *                      held" (issue 13 case 1)                      -> a
 *   BROKEN_FORGET      a commit that fails after the server changed is
 *                      forgotten and the engine trusts its memory
 *                      (issue 13 case 12)                           -> b
 *   BROKEN_REAPPLY     resolution re-applies the pending password
 *                      without probing; the server refuses a reused
 *                      password (issue 13 case 2)                   -> c
 *   BROKEN_WINDOW      resolution waits for the rotation window
 *                      (issue 13 case 3)                            -> c
 *   BROKEN_CHECK       the drift check logs in again with a password it
 *                      knows is refused (issue 13 case 4)           -> d
 *   BROKEN_VOLATILE    the engine's count of failed logins and its
 *                      known refusals live in memory only; a crash
 *                      forgets them                                 -> d
 *   BROKEN_NOHOLD      the scheduler ignores the checkout           -> e
 *   BROKEN_VOLATILE_END  the rotation a checkout's end makes due is
 *                      kept in memory only; a crash forgets it      -> f
 */

/* ---- which claim this run checks ----------------------------------- */

/*
 * tests/model/check.sh compiles one claim per run (-DCLAIM_A ...); with
 * none named, all four are compiled (for runs by hand, ./pan -N name).
 * A variable that no step of the model reads and the claim of the run
 * does not read either is declared "hidden" (not part of the state): this
 * merges states that differ only in it, and changes nothing else.
 */
#if !defined(CLAIM_A) && !defined(CLAIM_B) && !defined(CLAIM_C) && \
    !defined(CLAIM_D) && !defined(CLAIM_E) && !defined(CLAIM_F)
#define CLAIM_A
#define CLAIM_B
#define CLAIM_C
#define CLAIM_D
#endif
#if (defined(CLAIM_E) || defined(CLAIM_F)) && !defined(CHECKOUT)
#define CHECKOUT	/* the claims on checkouts need the vendor */
#endif
#if (defined(CLAIM_C) || defined(CLAIM_F)) && !defined(LIVENESS)
#define LIVENESS	/* the admin answers drift alerts */
#endif

#ifdef LIVENESS
#define TSTATE_VIS		/* the admin reads the target state */
#else
#define TSTATE_VIS	hidden	/* a label nothing reads */
#endif
#ifdef CLAIM_A
#define OUTSIDER_T	bool
#else
#define OUTSIDER_T	hidden byte	/* a ghost of claim a (a hidden
					 * variable cannot be a bit) */
#endif
#ifdef CLAIM_D
#define FAILS_VIS
#else
#define FAILS_VIS	hidden	/* the server's counter: claim d's */
#endif

/* ---- sizes ---------------------------------------------------------- */

/*
 * Version slots.  A version lives in a slot; a slot whose version was
 * retired or failed (password dropped) is reused for a new version, so
 * runs are unbounded with finitely many slots.  At most current, one
 * previous and one pending are stored at once, and set-password needs one
 * more: 4 slots always leave a free one.
 */
#define NS		4
#define UNKNOWN		NS	/* pseudo slot: a password the vault never had */

/*
 * Account rows (user@host).  Row MAIN (localhost, the Unix socket) is the
 * target's own path; rows 0..NREACH-1 accept logins from the vault; the
 * others (::1 under bind-address=127.0.0.1) cannot be reached from here
 * and are changed and compared through the main session only.
 */
#ifndef NH
#define NH		3
#endif
#ifndef NREACH
#define NREACH		2
#endif
#define MAIN		0
#define ALLROWS		((1 << NH) - 1)

#define MAXERR		4		/* the server's max_password_errors */
#define LIMIT		(MAXERR / 2)	/* vaultd stops trying at this many */

/* Environment budgets: finite, so "eventually" is meaningful. */
#ifndef MAXCRASH
#define MAXCRASH	2		/* engine crashes */
#endif
#ifndef MAXFAULT
#define MAXFAULT	2		/* refusals and lost connections */
#endif
#ifndef MAXDISK
#define MAXDISK		1		/* commits that fail (disk full) */
#endif
#ifndef MAXDRIFT
#define MAXDRIFT	1		/* outsider changes */
#endif

/* ---- the names shared with vaultd/state.c ---------------------------- */

mtype:vstate = { V_pending, V_current, V_previous, V_retired, V_failed };
mtype:vevent = { E_promote, E_supersede, E_prune, E_fail, E_abandon };
mtype:tstate = { T_ok, T_pending, T_retrying, T_failed, T_drift };
mtype:outcome = { O_ok, O_failed, O_unreachable, O_partial, O_drift };
/* Access requests (issue 17; used with -DCHECKOUT): "checked-in" in C. */
mtype:rstate = { R_pending, R_approved, R_denied, R_expired, R_checked_in,
    R_revoked };
mtype:revent = { RE_approve, RE_deny, RE_expiry, RE_checkin, RE_revoke };

/* Results of one login and of one statement (not state names). */
#define L_OK		0	/* logged in */
#define L_REFUSED	1	/* access denied */
#define L_SKIP		2	/* not tried: known to be refused */
#define L_CAPPED	3	/* not tried: the failed-login budget is spent */

#define R_OK		0	/* the statement applied */
#define R_REFUSED	1	/* the server refused it: nothing changed */
#define R_LOST		2	/* connection lost: maybe applied */

/* ---- the store (durable: survives a crash) --------------------------- */

mtype:vstate vs[NS + 1];	/* vs[UNKNOWN] stays V_failed */
TSTATE_VIS mtype:tstate tstate = T_ok;
bool due;			/* a rotation is due (schedule, request) */
bool removed;			/* target removed (versions kept) */
byte vfails[NH];		/* failed logins vaultd may have caused on
				 * each account since its last good login:
				 * counted before each try */
byte bad[NH];			/* per account, bit v: version v's password
				 * is known to be refused there */
#ifdef CHECKOUT
mtype:rstate co = R_expired;	/* the target's newest access request (a
				 * user has one open at a time; one checkout
				 * per target: one is enough here) */
#ifndef BROKEN_VOLATILE_END
bool co_due;			/* a rotation due by a checkout's end: the
				 * schedule record's next_due now, trigger
				 * checkin/expiry/revoke, written with the
				 * request's move */
#endif
#endif

/* ---- the configuration (a file; reload swaps it) --------------------- */

/*
 * Outside the rotation window, or paused.  The engine reads only "inside
 * the window and not paused" (rotations start only then; a resolution
 * ignores both), so one bit stands for both settings.
 */
bool closed;

/* ---- the engine's memory (lost on a crash) --------------------------- */

bool busy;			/* a job for the target is in flight */
bool unrecorded;		/* a job's OK outcome awaits its commit */
byte mslot;			/* ... the version it verified */
bool ab_req;			/* an admin asked to abandon the pending one */
#ifdef BROKEN_FORGET
bool mpend;			/* the engine's belief: a version is pending */
#endif
#if defined(CHECKOUT) && defined(BROKEN_VOLATILE_END)
bool co_due;			/* BROKEN: in memory only */
#endif

/* ---- the server ------------------------------------------------------ */

byte srv[NH];			/* the slot whose password each row holds */
FAILS_VIS byte fails[NH];	/* the server's failed-login counter */

/* ---- clients and environment ----------------------------------------- */

bool sp_req;			/* the admin's set-password waits for the job
				 * (liveness run) */
bool crashing;			/* the crasher has struck */
byte crashes, faults, disk, drifts;

/* ---- ghosts (for the claims only) ------------------------------------ */

OUTSIDER_T outsider[NH];	/* the row's password was set by an outsider
				 * since the vault last set it */
bool get_bad;			/* a get answered a password that does not
				 * log in on an untouched reachable row */
bool gen_bad;			/* a password was generated while a version
				 * was pending */
bool started;			/* the store below is initialised */
bool lost_pw;			/* a row the vault set lost its stored
				 * password (its version was dropped) */
#ifdef CHECKOUT
bool co_bad;			/* a scheduled rotation generated a password
				 * while the target was checked out */
bool co_owed;			/* a checkout ended; no rotation since */
#endif

/* canon() scratch, not part of the state */
hidden byte pm[NS + 1];
hidden byte ci, cj, nb;

/* ---- store helpers ---------------------------------------------------- */

#define PENDING	(vs[0] == V_pending || vs[1] == V_pending || \
		 vs[2] == V_pending || vs[3] == V_pending)
#define STORED(s) (vs[s] == V_pending || vs[s] == V_current || \
		   vs[s] == V_previous)
#define KNOWN_BAD(h, v)	((bad[h] >> (v)) & 1)
#define BIT(v)		(1 << (v))

/* The slot in state st, or UNKNOWN (at most one of each in this model). */
inline slot_of(st, out)
{
	out = UNKNOWN;
	if
	:: vs[0] == st -> out = 0
	:: vs[1] == st -> out = 1
	:: vs[2] == st -> out = 2
	:: vs[3] == st -> out = 3
	:: else
	fi
}

/*
 * vd_vstate_next(): the version machine.  A move the table forbids is an
 * error of the model (assert), as a -1 is a bug in the C code.
 */
inline vmove(s, ev)
{
	if
	:: vs[s] == V_pending && ev == E_promote -> vs[s] = V_current
	:: vs[s] == V_pending && ev == E_supersede -> vs[s] = V_previous
	:: vs[s] == V_pending && (ev == E_fail || ev == E_abandon) ->
		vs[s] = V_failed
	:: vs[s] == V_current && ev == E_supersede -> vs[s] = V_previous
	:: vs[s] == V_previous && ev == E_prune -> vs[s] = V_retired
	:: else -> assert(false)
	fi
}

/*
 * vd_tstate_next(): the target machine, moved by a job's outcome.  The
 * retry limit is 1 here: a second failure in a row exhausts the retries
 * (the schedule record's counter is abstracted into the state).
 */
inline tnext(o)
{
	if
	:: o == O_ok -> tstate = T_ok
	:: o == O_partial -> tstate = T_pending
	:: o == O_drift -> tstate = T_drift
	:: else ->	/* O_failed, O_unreachable: nothing applied */
		tstate = (tstate == T_retrying || tstate == T_failed ->
		    T_failed : T_retrying)
	fi
}

/*
 * A slot gets a fresh password (a new version).  A row still holding the
 * slot's old, dropped password now holds one the vault does not know.
 */
inline reuse(n)
{
	hi = 0;
	do
	:: hi < NH ->
		if
		:: srv[hi] == n -> srv[hi] = UNKNOWN
		:: else
		fi;
		bad[hi] = bad[hi] & ~BIT(n);
		hi++
	:: else -> break
	od;
	hi = 0
}

/* The lowest slot whose password is dropped (retired or failed). */
inline free_slot(n)
{
	if
	:: vs[0] == V_retired || vs[0] == V_failed -> n = 0
	:: else -> if
		:: vs[1] == V_retired || vs[1] == V_failed -> n = 1
		:: else -> if
			:: vs[2] == V_retired || vs[2] == V_failed -> n = 2
			:: else -> n = 3
			fi
		fi
	fi
}

/*
 * vd_rotate_supersede() and the promote of record(): version s becomes
 * current; the old current becomes previous; previous versions beyond the
 * kept ones (here: current and one previous) are pruned, the newest
 * previous is kept.
 */
inline promote(s)
{
	hi = 0;
	do
	:: hi < NS ->
		if
		:: vs[hi] == V_previous -> vmove(hi, E_prune)
		:: else
		fi;
		hi++
	:: else -> break
	od;
	hi = 0;
	do
	:: hi < NS ->
		if
		:: vs[hi] == V_current -> vmove(hi, E_supersede)
		:: else
		fi;
		hi++
	:: else -> break
	od;
	hi = 0;
	vmove(s, E_promote);
	tnext(O_ok);
	due = false;
#ifdef CHECKOUT
	/* A new password in force: what the holder saw is dead. */
	co_due = false;
	co_owed = false;
#endif
	canon()
}

/*
 * target.set_password: the admin set password n on every row (he could
 * reach them all) and hands it to the vault, which verifies it on the
 * reachable rows (good logins: the counters reset) and stores it as
 * current.  A pending version is superseded (previous: it may have been
 * in force); of the older ones only the newest is kept.
 */
inline set_password()
{
	byte n;

	free_slot(n);
	reuse(n);
	hi = 0;
	do
	:: hi < NS ->
		if
		:: vs[hi] == V_previous -> vmove(hi, E_prune)
		:: else
		fi;
		hi++
	:: else -> break
	od;
	hi = 0;
	do
	:: hi < NS ->
		if
		:: vs[hi] == V_current -> vmove(hi, E_supersede);
			if	/* a pending one is newer: it is kept */
			:: PENDING -> vmove(hi, E_prune)
			:: else
			fi
		:: else
		fi;
		hi++
	:: else -> break
	od;
	hi = 0;
	do
	:: hi < NS ->
		if
		:: vs[hi] == V_pending -> vmove(hi, E_supersede)
		:: else
		fi;
		hi++
	:: else -> break
	od;
	hi = 0;
	vs[n] = V_current;
	do
	:: hi < NH ->
		srv[hi] = n;
		outsider[hi] = false;
		if
		:: hi < NREACH -> fails[hi] = 0; vfails[hi] = 0
		:: else
		fi;
		hi++
	:: else -> break
	od;
	hi = 0;
	n = 0;
	tstate = T_ok;
	ab_req = false;
#ifdef BROKEN_FORGET
	mpend = false;
#endif
	canon()
}

/*
 * The state space is reduced by naming versions by their role, not by
 * their number: after every change of the store, the current version is
 * in slot 0, the previous one in slot 1, the pending one in slot 2, and
 * slot 3 is free (set-password uses it for a moment).  A dropped version
 * (retired, failed) keeps no slot: a row that holds its password holds,
 * for the vault, an unknown one (the vault can never log in with it
 * again); if no outsider set that row, the vault lost its password, which
 * claim a catches through lost_pw.  Known refusals and the memory's
 * verified version are renamed the same way.
 */
inline canon()
{
	ci = 0;
	do
	:: ci < NS ->
		if
		:: vs[ci] == V_current -> pm[ci] = 0
		:: vs[ci] == V_previous -> pm[ci] = 1
		:: vs[ci] == V_pending -> pm[ci] = 2
		:: else -> pm[ci] = UNKNOWN
		fi;
		ci++
	:: else -> break
	od;
	pm[UNKNOWN] = UNKNOWN;
	ci = 0;
	do
	:: ci < NH ->
		if
		:: srv[ci] != UNKNOWN && pm[srv[ci]] == UNKNOWN &&
		   !outsider[ci] -> lost_pw = true
		:: else
		fi;
		srv[ci] = pm[srv[ci]];
		nb = 0;
		cj = 0;
		do
		:: cj < NS ->
			if
			:: KNOWN_BAD(ci, cj) && pm[cj] != UNKNOWN ->
				nb = nb | BIT(pm[cj])
			:: else
			fi;
			cj++
		:: else -> break
		od;
		bad[ci] = nb;
		ci++
	:: else -> break
	od;
	if
	:: unrecorded -> mslot = pm[mslot]
	:: else
	fi;
	/* the same states, in role order */
	nb = 0;
	ci = 0;
	do
	:: ci < NS ->
		if
		:: vs[ci] == V_previous -> nb = nb | 1
		:: vs[ci] == V_pending -> nb = nb | 2
		:: else
		fi;
		ci++
	:: else -> break
	od;
	vs[0] = V_current;
	vs[1] = ((nb & 1) -> V_previous : V_failed);
	vs[2] = ((nb & 2) -> V_pending : V_failed);
	vs[3] = V_failed;
	ci = 0; cj = 0; nb = 0
}

/* ---- server operations ------------------------------------------------ */

/*
 * One fresh login as the account on row h with slot v's password
 * (open_as(), vd_drv_probe()).  Never with a password known to be
 * refused there; never once the account's budget is spent; the try is
 * counted durably before it is made, so a crash cannot hide it.
 */
inline login(h, v)
{
	if
	:: KNOWN_BAD(h, v) -> res = L_SKIP
	:: !KNOWN_BAD(h, v) && vfails[h] >= LIMIT -> res = L_CAPPED
	:: !KNOWN_BAD(h, v) && vfails[h] < LIMIT ->
		vfails[h]++;	/* schedule record, before the try */
		d_step {
			if
			:: srv[h] == v ->
				fails[h] = 0; vfails[h] = 0; res = L_OK
			:: else ->
				if
				:: fails[h] < MAXERR -> fails[h]++
				:: else
				fi;
				bad[h] = bad[h] | BIT(v);
				res = L_REFUSED
			fi
		}
	fi
}

/* A login that heeds neither the known refusals nor the budget. */
inline login_blind(h, v)
{
	d_step {
		if
		:: srv[h] == v -> fails[h] = 0; vfails[h] = 0; res = L_OK
		:: else ->
			if
			:: fails[h] < MAXERR -> fails[h]++
			:: else
			fi;
			res = L_REFUSED
		fi
	}
}

/*
 * One ALTER USER for row h through the main session
 * (vd_drv_set_password()).  The server refuses a password already in
 * force there (password_reuse_check, password history); otherwise the
 * statement applies, or (faults) is refused, or the connection is lost
 * with the statement applied or not.
 */
inline set_pw(h, v)
{
	atomic {
		if
		:: srv[h] == v -> res = R_REFUSED
		:: else ->
			if
			:: true -> srv[h] = v; outsider[h] = false; res = R_OK
			:: faults < MAXFAULT -> faults++; res = R_REFUSED
			:: faults < MAXFAULT -> faults++;
				srv[h] = v; outsider[h] = false; res = R_LOST
			:: faults < MAXFAULT -> faults++; res = R_LOST
			fi
		fi;
		if	/* it may be in force now */
		:: res != R_REFUSED -> bad[h] = bad[h] & ~BIT(v)
		:: else
		fi
	}
}

/* ---- the engine --------------------------------------------------------- */

#ifdef BROKEN_FORGET
#define PEND_VIEW	mpend
#else
#define PEND_VIEW	PENDING
#endif

#ifdef BROKEN_WINDOW
#define RESOLVE_WIN	(!closed)
#else
#define RESOLVE_WIN	true	/* resolution finishes a change: no window */
#endif

#define IDLE	(!busy && !unrecorded && !removed && !sp_req)

/*
 * A checkout holds scheduled rotations (state.h vd_checkout_holds(); the
 * model's "due" stands for a scheduled one, as for the window); the end
 * of a checkout makes one due that ignores window and pause.
 */
#if defined(CHECKOUT) && !defined(BROKEN_NOHOLD)
#define HELD	(co == R_approved)
#else
#define HELD	false
#endif
#ifdef CHECKOUT
#define CO_DUE	co_due
#else
#define CO_DUE	false
#endif

active proctype engine()
{
	byte p, u, c, q, hi, held, res;
	bool ma, resolving, drop;
	mtype:vevent ev = E_fail;
	mtype:outcome out = O_ok;

	/* The target as target.add leaves it: version slot 0 current and
	 * in force on every row (srv[*] = 0); the other slots unused. */
	d_step {
		vs[0] = V_current;
		vs[1] = V_failed; vs[2] = V_failed; vs[3] = V_failed;
		vs[UNKNOWN] = V_failed;
		started = true
	}

	do
	:: {
end_idle:
	do
	/* record(), again: a commit that failed (disk full) is re-tried
	 * before anything else; memory knows the outcome meanwhile. */
	:: atomic { unrecorded && !removed ->
		if
		:: disk < MAXDISK -> disk++
		:: true -> promote(mslot); unrecorded = false; mslot = 0
		fi }

	/* resolve(): a pending version, found in the store (start-up,
	 * retries), is finished before anything else; ignores the window. */
	:: atomic { IDLE && PENDING && RESOLVE_WIN ->
		busy = true; resolving = true;
		slot_of(V_pending, p); slot_of(V_current, c);
		slot_of(V_previous, q) };
		goto open

	/* prep(): a rotation, only with no pending version: the new
	 * password is durable as pending before the server is touched. */
	:: atomic { IDLE && !PEND_VIEW && (due && !closed && !HELD || CO_DUE) ->
		if
		:: disk < MAXDISK -> disk++	/* the pending commit failed:
						 * nothing started */
		:: true ->
			busy = true; resolving = false;
			gen_bad = gen_bad || PENDING;	/* claim b */
#ifdef CHECKOUT
			/* claim e: only a checkout's end rotates while
			 * checked out (one request: none is then) */
			co_bad = co_bad || (co == R_approved && !co_due);
#endif
			free_slot(p);
			reuse(p);
			vs[p] = V_pending;
			canon();
			slot_of(V_pending, p); slot_of(V_current, c);
			slot_of(V_previous, q);
#ifdef BROKEN_FORGET
			mpend = true;
#endif
		fi };
		if
		:: busy -> goto open
		:: else
		fi

	/* check(): JOB_CHECK, drift check with the current password (the
	 * rotation a checkout's end made due goes first: it is requested
	 * at once, checkout.c end_rotate()). */
	:: atomic { IDLE && !PENDING && !CO_DUE ->
		busy = true; slot_of(V_current, c) };
		goto check

	/* The scheduler's timer: the cadence makes a rotation due. */
	:: atomic { !due && !removed && !PENDING -> due = true }
	od;

	/* ---- open_as(): the main session, on the target's own path ---- */
open:
	u = UNKNOWN;
	if
	:: faults < MAXFAULT -> faults++; out = O_unreachable; goto record
	:: true
	fi;
	/* pending first (resolution), then current, then the kept older */
	if
	:: resolving -> login(MAIN, p);
		if
		:: res == L_OK -> u = p
		:: res == L_CAPPED -> out = O_drift; goto record
		:: else
		fi
	:: else
	fi;
	if
	:: u == UNKNOWN && c != UNKNOWN -> login(MAIN, c);
		if
		:: res == L_OK -> u = c
		:: res == L_CAPPED -> out = O_drift; goto record
		:: else
		fi
	:: else
	fi;
	if
	:: u == UNKNOWN && q != UNKNOWN -> login(MAIN, q);
		if
		:: res == L_OK -> u = q
		:: else
		fi
	:: else
	fi;
	if
	:: u == UNKNOWN -> out = O_drift; goto record
	:: else
	fi;
	if
	:: resolving -> goto probe
	:: else -> goto apply
	fi;

	/* ---- resolve(): probe each row before applying anything ---- */
probe:
	hi = 0;
	do
	:: hi < NH ->
		if
		:: hi == MAIN ->	/* the main session answers for it */
			if
			:: u == p -> held = held | BIT(hi)
			:: else
			fi
		:: hi != MAIN && hi < NREACH ->	/* a login with it */
			login(hi, p);
			if
			:: res == L_OK -> held = held | BIT(hi)
			:: res == L_REFUSED || res == L_SKIP	/* not held */
			:: res == L_CAPPED -> out = O_drift; goto record
			fi
		:: hi >= NREACH ->	/* unreachable: compare hashes */
#ifndef BROKEN_NO_HASH
			if
			:: faults < MAXFAULT -> faults++;
				out = O_partial; goto record
			:: srv[hi] == p -> held = held | BIT(hi)
			:: srv[hi] != p
			fi
#else
			skip	/* taken for "not held" */
#endif
		fi;
		hi++
	:: else -> break
	od;
	/* Held by no row: it may be failed (or abandoned on request). */
	if
	:: held == 0 && ab_req -> ev = E_abandon; drop = true;
		out = O_failed; goto record
	:: held == 0 && !ab_req -> ev = E_fail; drop = true;
		out = O_failed; goto record
	:: !(held == 0 && ab_req) -> ab_req = false	/* forward */
	fi;

	/* ---- apply: each row that does not hold it yet, in any order
	 * (configured or discovered hosts come in no fixed order) ---- */
apply:
#ifdef BROKEN_REAPPLY
	held = 0;	/* applied again where it is in force */
#endif
	do
	:: held == ALLROWS -> break
	:: else ->
		atomic {
			if
			:: !((held >> 0) & 1) -> hi = 0
			:: !((held >> 1) & 1) -> hi = 1
			:: NH > 2 && !((held >> 2) & 1) -> hi = 2
			fi;
			set_pw(hi, p);
			held = held | BIT(hi)
		};
		if
		:: res == R_OK -> ma = true
		:: res == R_REFUSED -> out = (ma || resolving -> O_partial :
			O_failed); goto record
		:: res == R_LOST -> ma = true; out = O_partial; goto record
		fi
	od;

	/* ---- verify: a fresh login per reachable row ---- */
	hi = 0;
	do
	:: hi < NREACH ->
		if
		:: hi == MAIN && u == p	/* the main session proved it */
		:: else -> login(hi, p);
			if
			:: res == L_OK
			:: res == L_CAPPED -> out = O_drift; goto record
			:: else -> out = O_partial; goto record
			fi
		fi;
		hi++
	:: else -> break
	od;
	out = O_ok;

	/* ---- record(): the outcome, one transaction ---- */
record:
	atomic {
		if
		:: out == O_ok ->
			if
			:: disk < MAXDISK -> disk++;	/* ENOSPC: memory knows */
#ifndef BROKEN_FORGET
				unrecorded = true; mslot = p
#else
				mpend = false	/* memory says: done */
#endif
			:: true -> promote(p);
#ifdef BROKEN_FORGET
				mpend = false
#endif
			fi
		:: out != O_ok ->
			if
			:: drop -> vmove(p, ev)
			:: !drop && !resolving && !ma && out != O_partial ->
				vmove(p, E_fail)	/* nothing applied */
			:: else			/* stays pending */
			fi;
			canon();
#ifdef BROKEN_FORGET
			mpend = PENDING;
#endif
			tnext(out)
		fi;
		busy = false; resolving = false; drop = false; ma = false;
		ev = E_fail; out = O_ok;
		p = 0; u = 0; c = 0; q = 0; hi = 0; held = 0; res = 0
	};
	goto end_idle;

	/* ---- check(): does the current password log in everywhere? ---- */
check:
	hi = 0;
	do
	:: hi < NREACH ->
#ifndef BROKEN_CHECK
		login(hi, c);
#else
		login_blind(hi, c);
#endif
		if
		:: res == L_OK -> hi++
		:: else -> out = O_drift; break
		fi
	:: else -> break
	od;
	atomic {
		if
		:: out == O_drift -> tstate = T_drift;
			due = true	/* a reconcile rotation repairs it */
		:: out == O_ok && tstate == T_drift -> tstate = T_ok
		:: else
		fi;
		busy = false; out = O_ok; c = 0; hi = 0; res = 0
	};
	goto end_idle

	} unless { crashing };

	/* A crash: the memory is lost, the store and the server are kept;
	 * start-up resolves any pending version (the loop above). */
	d_step {
		crashing = false;
		busy = false; unrecorded = false; mslot = 0; ab_req = false;
#ifdef BROKEN_FORGET
		mpend = PENDING;
#endif
#if defined(CHECKOUT) && defined(BROKEN_VOLATILE_END)
		co_due = false;
#endif
#ifdef BROKEN_VOLATILE
		vfails[0] = 0; vfails[1] = 0; vfails[NH - 1] = 0;
		bad[0] = 0; bad[1] = 0; bad[NH - 1] = 0;
#endif
		resolving = false; drop = false; ma = false;
		ev = E_fail; out = O_ok;
		p = 0; u = 0; c = 0; q = 0; hi = 0; held = 0; res = 0
	}
	od
}

/* ---- operators ------------------------------------------------------------ */

#ifdef BROKEN_GET_NOWAIT
#define GET_READY	(!removed)
#else
/* get waits for a job in flight and for a pending version's resolution;
 * a commit that failed is answered from memory. */
#define GET_READY	(!removed && !busy && (unrecorded || !PENDING))
#endif

/* set-password and remove wait for the job in flight (and its commit);
 * remove also for a pending version's resolution (it joins it). */
#define SP_READY	(!busy && !unrecorded && !removed)
#define RM_READY	(!busy && !unrecorded && !removed && !PENDING)

active proctype operator()
{
	byte ans, hi;

	started;
end_op:
	do
	/* get: the version in force, checked on every reachable row */
	:: d_step { GET_READY ->
		if
		:: unrecorded -> ans = mslot
		:: else -> slot_of(V_current, ans)
		fi;
		hi = 0;
		do
		:: hi < NREACH ->
			if
			:: !outsider[hi] && srv[hi] != ans -> get_bad = true
			:: else
			fi;
			hi++
		:: else -> break
		od;
		ans = 0; hi = 0 }

	/* rotate: joins the job in flight or makes one due */
	:: !removed && !due -> due = true

	/* target set-password by an admin: waits for the job in flight,
	 * then stores the password in force as current (one step: a wait
	 * that keeps new jobs from starting, as the admin's below does,
	 * only removes interleavings) */
	:: atomic { SP_READY -> set_password() }

	/* target remove: waits for the job in flight and a pending
	 * version's resolution, then removes (the versions stay) */
	:: atomic { RM_READY -> removed = true }

	/* target abandon: only a version no row holds (resolve checks) */
	:: atomic { PENDING && !ab_req && !removed -> ab_req = true }

	/* config reload: the window opens or closes, a pause starts or
	 * ends */
	:: closed = !closed
	od
}

#ifdef LIVENESS
/*
 * The person who answers a drift alert with set-password; it asks first,
 * so that the engine starts no new job, then waits for the job in
 * flight.  Only in the liveness run: for safety, the operator's
 * set-password above does all this and more.
 */
active proctype admin()
{
	byte hi;

	started;
end_admin:
	do
	:: atomic { tstate == T_drift && !removed && !sp_req -> sp_req = true };
		atomic { SP_READY || removed ->
			if
			:: !removed -> set_password()
			:: else
			fi;
			sp_req = false }
	od
}
#endif

/* ---- environment ------------------------------------------------------------ */

/* Drift: a row gets a password the vault does not know, or a restored
 * backup brings back an older kept version. */
active proctype outsider_drift()
{
	byte h, v;

	started;
	do
	:: drifts < MAXDRIFT && !removed ->
		atomic {
			drifts++;
			select (h : 0 .. NH - 1);
			if
			:: v = UNKNOWN
			:: slot_of(V_previous, v)
			fi;
			srv[h] = v;
			outsider[h] = true;
			h = 0; v = 0
		}
	:: drifts >= MAXDRIFT || removed -> break
	od
}

#ifdef CHECKOUT
/*
 * Access requests of the target (vaultd/checkout.c): one at a time; its
 * moves are the request machine of state.h (vd_rstate_next()).  An end of
 * a checkout makes its rotation due in the same transaction.
 */
active proctype vendor()
{
	started;
end_vendor:
	do
	/* request: once the last one ended */
	:: atomic { co != R_pending && co != R_approved && !removed ->
		co = R_pending }
	/* approve (the N-th distinct approver): checked out */
	:: atomic { co == R_pending -> co = R_approved }
	/* deny, unanswered expiry, revoke of a pending request */
	:: atomic { co == R_pending ->
		if
		:: co = R_denied
		:: co = R_expired
		:: co = R_revoked
		fi }
	/* check-in, expiry, revoke of the checkout: rotates */
	:: atomic { co == R_approved ->
		if
		:: co = R_checked_in
		:: co = R_expired
		:: co = R_revoked
		fi;
		co_due = true; co_owed = true }
	od
}
#endif

active proctype crasher()
{
	started;
	do
	:: crashes < MAXCRASH && !crashing -> crashes++; crashing = true
	:: crashes >= MAXCRASH -> break
	od
}

/* ---- claims ------------------------------------------------------------------ */

#define ROW_OK(h)	(outsider[h] || STORED(srv[h]))

#ifdef CLAIM_A
ltl a { [] (!started || !lost_pw && ROW_OK(0) && ROW_OK(1) && ROW_OK(NH - 1) && !get_bad) }
#endif
#ifdef CLAIM_B
ltl b { [] !gen_bad }
#endif
#ifdef CLAIM_C
ltl c { [] (PENDING -> <> !PENDING) }
#endif
#ifdef CLAIM_D
ltl d { [] (fails[0] < MAXERR && fails[1] < MAXERR && fails[NH - 1] < MAXERR) }
#endif
#ifdef CLAIM_E
ltl e { [] !co_bad }
#endif
#ifdef CLAIM_F
ltl f { [] (co_owed -> <> (!co_owed || removed)) }
#endif
