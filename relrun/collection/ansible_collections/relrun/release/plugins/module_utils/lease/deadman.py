"""The dead man's switch, standard library only: a lease on the router host.

Before traffic moves, relrun arms a lease and a detached watcher process on the router
host. Every traffic and analysis task renews the lease while the process that runs it is
still attached to its Ansible parent. If the lease runs out — relrun was killed, the
controller lost its connection — the watcher itself drains the canary and puts all
traffic back on stable, and records that it fired. A fired lease refuses renewal, so a
release that comes back cannot move traffic again by accident.

There is one lease per router backend, and it has an owner: the run id relrun gives each
release (``relrun_run_id``). It is where two releases of the same backend meet, whatever
controller, user or inventory copy started them, so ownership is enforced here:

- ``claim`` (before the deploy) and ``arm`` (before the first shift) refuse while another
  owner holds the lease (claimed or armed, not expired): :class:`LeaseHeld`.
- ``renew`` by another owner never extends the lease; it raises :class:`LeaseTaken`, so
  that run moves no more traffic to its canary.
- ``disarm`` by the owner ends the lease; a rollback's disarm (``force``) ends it
  whoever owns it, since after a rollback all traffic is on stable. The owner's later
  renewals and arm are then refused too: someone rolled its release back.

The read-modify-write of the lease file is serialised by ``flock`` on a side file, so
two runs arriving at once cannot both win, and a renewal cannot undo the watcher firing.

Beside the lease, ``PATH.control`` carries an operator's request to the running playbook:
the controller's signal handler or ``relrun rollback`` writes ``{"action": "rollback",
"owner", "reason", "by", "message", "at"}`` (:func:`request_rollback`), and the next
renewal of that run that obeys requests (the analysis during a bake, a traffic shift)
raises :class:`RollbackRequested` after renewing: the task fails as at a breach, and the
rollout's own rescue runs the five rollback steps in the same playbook run. The renewal
marks the request taken (``taken_at``), which tells the controller it need not stop the
playbook and roll back in a second run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

POLL_S = 0.25
# A revert that failed is tried again, after a back-off doubling from the first to the
# last value: the router may be down for a while, and a switch that gives up leaves
# users on the canary. Every attempt is recorded; the last ones are kept in the lease.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
KEPT_ATTEMPTS = 20
# The renewing modules (traffic, analysis) learn their run's id from the task environment.
HELD = ("armed", "claimed")


def read_lease(path: str) -> dict[str, Any]:
    """The lease file's content, or an empty dict."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_lease(path: str, data: dict[str, Any]) -> None:
    """Write the lease atomically (temp file + rename): the watcher never reads half."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".lease.", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, sort_keys=True)
    os.replace(tmp, path)


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, ``/proc``), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return True


class LeaseFired(Exception):
    """The switch already reverted traffic; the release must not move it again."""


class LeaseTaken(LeaseFired):
    """The lease is not this run's any more, or another run's rollback disarmed it."""


class RollbackRequested(Exception):
    """An operator asked this run to roll back (signal to its relrun, ``relrun rollback``)."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        super().__init__(str(request.get("message") or "rollback requested"))

    def breach(self) -> dict[str, Any]:
        """The breach a task that obeys the request fails with (``reason``: signal or manual)."""
        request = self.request
        return {
            "reason": request.get("reason") or "manual",
            "observed": None,
            "threshold": None,
            "message": str(request.get("message") or "rollback requested"),
            "by": str(request.get("by") or ""),
            "at": request.get("at"),
        }


class LeaseHeld(Exception):
    """Another run holds the lease: this run must not start moving the backend's traffic."""


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``PATH.lock`` (the lease file itself is replaced)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _owner_of(lease: dict[str, Any]) -> str:
    return str(lease.get("owner") or "")


def _at(stamp: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(stamp)))
    except (TypeError, ValueError):
        return "an unknown time"


def describe(lease: dict[str, Any]) -> str:
    """Who holds a lease, for people: owner, runbook, state and expiry."""
    left = float(lease.get("expires", 0)) - time.time()
    since = lease.get("armed_at") if lease.get("state") == "armed" else lease.get("claimed_at")
    return (
        f"run {_owner_of(lease) or '(unnamed)'} of runbook {lease.get('runbook') or '?'} "
        f"({lease.get('state')} since {_at(since)}; expires at {_at(lease.get('expires'))}"
        + (f", in {left:.0f}s, unless renewed)" if left > 0 else ", its watcher is firing now)")
    )


def holder(lease: dict[str, Any], owner: str) -> dict[str, Any] | None:
    """The lease, if a run other than ``owner`` holds it now; else None.

    Held means claimed or armed and not expired. An armed lease past its expiry whose
    watcher still runs is held too: the watcher is about to revert that run's traffic, and
    taking the lease over now would stop it.
    """
    if _owner_of(lease) == owner:
        return None
    reverting = lease.get("state") == "fired" and not lease.get("reverted_at")
    if reverting and _alive(lease.get("pid")):
        return lease  # its watcher is putting traffic back on stable right now
    if lease.get("state") not in HELD:
        return None
    if time.time() <= float(lease.get("expires", 0)):
        return lease
    if lease.get("state") == "armed" and _alive(lease.get("pid")):
        return lease
    return None


def check(path: str, owner: str) -> dict[str, Any]:
    """Refuse when another run holds the backend (before a rollback moves its traffic).

    Args:
        path: the lease file.
        owner: this run's id; empty for an operator's own ``relrun rollback``, which may
            roll back whatever runs.

    Returns:
        The lease state.

    Raises:
        LeaseHeld: another run holds the lease.
    """
    with _locked(path):
        lease = read_lease(path)
        if owner:
            _refuse_if_held(lease, owner)
    return lease


def _refuse_if_held(lease: dict[str, Any], owner: str) -> None:
    other = holder(lease, owner)
    if other is not None:
        raise LeaseHeld(
            "another release holds this router backend: "
            + describe(other)
            + ". Two releases must not move the same backend's traffic at once; nothing "
            "was moved. Wait for it to end (if its relrun died, its lease runs out by "
            "itself, or `relrun recover` on its controller finishes it)"
        )


def _refuse_if_rolled_back(lease: dict[str, Any], owner: str) -> None:
    """Our lease was disarmed by another run's rollback: never move traffic again."""
    by = str(lease.get("disarmed_by", owner) or "")
    if lease.get("state") == "disarmed" and _owner_of(lease) == owner and by != owner:
        raise LeaseTaken(
            f"the dead man's switch of this run was disarmed at {_at(lease.get('disarmed_at'))}"
            f" by the rollback of run {by or '(unnamed)'}: traffic went back to stable, "
            "so this run must not move it again"
        )


def renew(
    path: str, attached: bool = True, owner: str = "", obey: bool = False
) -> dict[str, Any]:
    """Extend this run's armed lease by its length; refuse if it fired or is not ours.

    Args:
        path: the lease file.
        attached: False when the caller lost its parent (the controller is gone): then
            the lease is left to run out.
        owner: the renewing run's id.
        obey: the caller can hand a rollback request over to the rollout's rescue (a task
            inside the rollout block): a pending request raises, once the lease is renewed.

    Returns:
        The lease state.

    Raises:
        LeaseFired: the switch fired earlier.
        LeaseTaken: another run owns the lease now, or another run's rollback disarmed it;
            the lease is left as it is.
        RollbackRequested: (``obey``) an operator asked this run to roll back.
    """
    lease = _renew(path, attached, owner)
    if obey and owner:
        request = take_request(path, owner)
        if request is not None:
            raise RollbackRequested(request)
    return lease


def _renew(path: str, attached: bool, owner: str) -> dict[str, Any]:
    """:func:`renew` without the requests."""
    me = owner
    with _locked(path):
        lease = read_lease(path)
        if lease.get("state") == "fired":
            raise LeaseFired(
                f"the dead man's switch fired at {lease.get('fired_at')}: traffic was put "
                "back on stable because relrun stopped renewing its lease"
            )
        # An operator's `relrun rollback` (no run id) moves traffic back whoever holds the
        # lease, and extends none but an owner-less one.
        if me and lease and _owner_of(lease) != me:
            raise LeaseTaken(
                "the dead man's switch of this router backend belongs to another run now: "
                + describe(lease)
                + f"; this run ({me or '(unnamed)'}) lost its lease and must not move traffic"
            )
        _refuse_if_rolled_back(lease, me)
        if lease.get("state") == "armed" and attached and _owner_of(lease) == me:
            lease["expires"] = time.time() + float(lease.get("lease", 10))
            write_lease(path, lease)
    return lease


def control_path(path: str) -> str:
    """Where the operator's requests to the run holding lease ``path`` are written."""
    return path + ".control"


def request_rollback(
    path: str, owner: str, reason: str, by: str, message: str, at: float | None = None
) -> dict[str, Any]:
    """Ask the run ``owner`` that renews lease ``path`` to roll back inside its playbook.

    A request already there for the same run is kept (the first one is what happened);
    one for another run is replaced.

    Args:
        path: the lease file.
        owner: the run asked (its run id); requests never reach another run.
        reason: ``signal`` or ``manual``.
        by: who asked, for the journal (``SIGINT to relrun pid 4242``, ``relrun rollback``).
        message: the trigger's message.
        at: when it was asked (epoch seconds; default now).

    Returns:
        The request in force.
    """
    target = control_path(path)
    with _locked(target):
        current = read_lease(target)
        if current.get("action") == "rollback" and current.get("owner") == owner:
            return current
        request = {
            "action": "rollback",
            "owner": owner,
            "reason": reason,
            "by": by,
            "message": message,
            "at": time.time() if at is None else at,
        }
        write_lease(target, request)
    return request


def read_request(path: str, owner: str) -> dict[str, Any] | None:
    """The rollback request for run ``owner`` on lease ``path``, if any (never raises)."""
    request = read_lease(control_path(path))
    if request.get("action") == "rollback" and owner and request.get("owner") == owner:
        return request
    return None


def take_request(path: str, owner: str) -> dict[str, Any] | None:
    """The request for run ``owner``, marked taken (``taken_at``) the first time it is read."""
    target = control_path(path)
    if not os.path.exists(target):
        return None  # the common case, every sample: no lock, no write
    with _locked(target):
        request = read_request(path, owner)
        if request is not None and not request.get("taken_at"):
            request.update(taken_at=time.time(), taken_pid=os.getpid())
            write_lease(target, request)
    return request


def clear_request(path: str, owner: str) -> None:
    """Remove run ``owner``'s request once the run has ended (it must not outlive it)."""
    target = control_path(path)
    with _locked(target):
        if read_request(path, owner) is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)


def parent_attached(original_parent: int) -> bool:
    """Whether this process still has the parent it started with (Ansible's worker)."""
    return os.getppid() == original_parent


def claim(path: str, hold: float, owner: str, runbook: str = "") -> dict[str, Any]:
    """Claim the backend for a run before its deploy: no watcher yet, nothing to revert.

    Args:
        path: the lease file.
        hold: seconds the claim holds before it lapses (the run arms the switch before).
        owner: the claiming run's id.
        runbook: its runbook's name, to tell others who holds the backend.

    Returns:
        The lease state (unchanged if this run has armed it already).

    Raises:
        LeaseHeld: another run holds the lease.
    """
    with _locked(path):
        current = read_lease(path)
        _refuse_if_held(current, owner)
        if current.get("state") == "armed" and _owner_of(current) == owner:
            return current  # a claim never weakens this run's armed switch
        now = time.time()
        state: dict[str, Any] = {
            "state": "claimed",
            "owner": owner,
            "runbook": runbook,
            "claimed_at": now,
            "expires": now + hold,
        }
        write_lease(path, state)
    return state


def arm(
    path: str,
    lease: float,
    revert: Callable[[], dict[str, Any]],
    owner: str = "",
    runbook: str = "",
) -> dict[str, Any]:
    """Arm (or re-arm) the lease for ``owner`` and make sure a watcher runs.

    Args:
        path: the lease file.
        lease: seconds without renewal before the watcher reverts traffic.
        revert: what the watcher does when the lease runs out.
        owner: the arming run's id.
        runbook: its runbook's name, to tell others who holds the backend.

    Returns:
        The lease state, with the watcher's pid.

    Raises:
        LeaseHeld: another run holds the lease (it is left untouched).
        LeaseTaken: another run's rollback disarmed this run's claim.
    """
    with _locked(path):
        current = read_lease(path)
        _refuse_if_held(current, owner)
        _refuse_if_rolled_back(current, owner)
        ours = current.get("state") == "armed" and _owner_of(current) == owner
        now = time.time()
        state: dict[str, Any] = {
            "state": "armed",
            "owner": owner,
            "runbook": runbook,
            "lease": lease,
            "armed_at": now,
            "expires": now + lease,
            # Another run's watcher, if any, sees the pid change and leaves.
            "pid": current.get("pid") if ours else None,
            "pid_ticks": current.get("pid_ticks") if ours else None,
        }
        write_lease(path, state)
    if not _alive(state["pid"]):
        state["pid"] = _spawn_watcher(path, revert)
    return read_lease(path) or state


def disarm(path: str, owner: str = "", force: bool = False) -> dict[str, Any]:
    """Disarm: the watcher exits without touching traffic.

    Args:
        path: the lease file.
        owner: the disarming run's id.
        force: a rollback's disarm (traffic is on stable after it): it also ends a lease
            no live run holds any more, and, for an operator's own rollback (no
            ``owner``), whatever run holds it. Never another live run's lease otherwise.

    Returns:
        The lease state.

    Raises:
        LeaseFired: (not forced) the switch fired: traffic went back to stable, so the
            release did not promote.
        LeaseTaken: (not forced) another run holds the lease now.
    """
    with _locked(path):
        lease = read_lease(path)
        mine = _owner_of(lease) == owner
        if not force and lease.get("state") == "fired" and mine:
            raise LeaseFired(
                f"the dead man's switch fired at {_at(lease.get('fired_at'))}: traffic was "
                "put back on stable before this run could finish"
            )
        other = holder(lease, owner)
        if not force and other is not None:
            raise LeaseTaken(
                "the dead man's switch of this router backend belongs to another run now: "
                + describe(other)
            )
        allowed = mine or (force and (not owner or other is None))
        # A rollback that put traffic on stable ends a watcher still retrying its revert.
        retrying = force and lease.get("state") == "fired" and not lease.get("reverted_at")
        if (lease.get("state") in HELD or retrying) and (allowed or (retrying and force)):
            lease.update(state="disarmed", disarmed_at=time.time(), disarmed_by=owner)
            write_lease(path, lease)
    return lease


def is_live(lease: dict[str, Any]) -> bool:
    """Whether a watcher may still act on ``lease``: held, or fired and not yet reverted."""
    state = lease.get("state")
    return state in HELD or (state == "fired" and not lease.get("reverted_at"))


def abandon(path: str, reason: str) -> dict[str, Any]:
    """End the switch because its router is gone for good (its sandbox was stopped).

    Not for a router that does not answer: that one may come back, and the watcher keeps
    trying (see :func:`_revert_until_done`). Whoever stopped the router calls this: the
    lease becomes ``abandoned`` (``abandoned_at``, ``abandoned_reason``), the attempt log
    records it, and the watcher, armed or retrying, leaves at its next look.

    Returns:
        The lease as it was before (its ``pid`` and ``pid_ticks`` name the watcher).
    """
    with _locked(path):
        lease = read_lease(path)
        state = lease.get("state")
        if is_live(lease):
            now = time.time()
            write_lease(path, {**lease, "state": "abandoned", "abandoned_at": now,
                               "abandoned_reason": reason, "abandoned_from": state})
            _log_attempt(path, {"at": now, "ok": False, "abandoned": True, "error": reason})
    return lease


def _spawn_watcher(path: str, revert: Callable[[], dict[str, Any]]) -> int:
    """Double-fork a detached watcher; it outlives the module process that armed it."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # first child: new session, then fork again and leave
        os.close(read_end)
        os.setsid()
        grandchild = os.fork()
        if grandchild:
            os.write(write_end, str(grandchild).encode())
            os._exit(0)
        os.close(write_end)
        _detach()
        try:
            _watch(path, revert)
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        pid = int(pipe.read() or b"0")
    with _locked(path):
        lease = read_lease(path)
        if lease.get("state") == "armed" and not lease.get("pid"):
            # With its start time, whoever ends the watcher (the sandbox's teardown)
            # can tell it from a later process that got the same pid.
            lease.update(pid=pid, pid_ticks=start_ticks(pid))
            write_lease(path, lease)
    return pid


def _detach() -> None:
    # Ansible waits for the module's stdout to close: the watcher must not hold it.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, 1024)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _watch(path: str, revert: Callable[[], dict[str, Any]]) -> None:
    me = os.getpid()
    while True:
        time.sleep(POLL_S)
        with _locked(path):
            lease = read_lease(path)
            if lease.get("state") != "armed" or lease.get("pid") not in (None, me):
                return  # disarmed, fired already, or another watcher owns it
            if time.time() <= float(lease.get("expires", 0)):
                continue
            lease.update(state="fired", fired_at=time.time(), pid=me, pid_ticks=start_ticks(me))
            write_lease(path, lease)
        _revert_until_done(path, lease, revert)
        return


def _log_attempt(path: str, attempt: dict[str, Any]) -> None:
    """Append one revert attempt to ``PATH.attempts.jsonl``: the lease keeps only the last."""
    try:
        with open(path + ".attempts.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(attempt, sort_keys=True) + "\n")
    except OSError:
        pass  # the lease itself holds the count and the last error


def _revert_until_done(
    path: str,
    lease: dict[str, Any],
    revert: Callable[[], dict[str, Any]],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Revert, and retry a failed revert with a bounded back-off until it succeeds.

    Each attempt is written to the lease (``attempts``: the last few, with ``at``,
    ``ok`` and ``error``; ``attempt_count``; ``revert_error`` while it fails). The loop
    ends when the revert succeeded, or when the lease is no longer this firing's: a
    rollback's forced disarm (traffic is on stable) or another run took it over.

    Returns:
        The lease as last written.
    """
    fired_at = lease["fired_at"]
    delay = RETRY_FIRST_S
    while True:
        attempt: dict[str, Any] = {"at": time.time()}
        try:
            result = revert()
        except Exception as err:  # record why; there is no one else to tell
            attempt.update(ok=False, error=f"{type(err).__name__}: {err}")
        else:
            attempt["ok"] = True
        with _locked(path):
            current = read_lease(path)
            if current.get("fired_at") != fired_at or current.get("state") != "fired":
                return current  # disarmed by a rollback, or another run took over
            attempts = [*current.get("attempts", []), attempt][-KEPT_ATTEMPTS:]
            current.update(attempts=attempts, attempt_count=current.get("attempt_count", 0) + 1)
            if attempt["ok"]:
                current.update(reverted_at=time.time(), revert=result)
                current.pop("revert_error", None)
            else:
                current["revert_error"] = attempt["error"]
            write_lease(path, current)
            _log_attempt(path, attempt)
        if attempt["ok"]:
            return current
        sleep(delay)
        delay = min(delay * 2, RETRY_MAX_S)
