"""Manual gates, standard library only: an operator's pause, resume and promote.

Beside a run's dead man's switch lease, ``PATH.gate`` carries what operators asked of the
run that owns it (``relrun pause``, ``resume``, ``promote``, from any controller that can
write the lease's directory) and what the run is waiting for. The analysis module of a
bake reads it at every sample (:class:`Gate`), right after it renewed the lease, so a held
release keeps its switch renewed and its canary judged:

- ``paused`` (an operator's pause): at the end of its bake the stage holds its weight until
  ``resume`` (or ``promote``) clears it;
- ``promote`` (``scope`` ``stage`` or ``full``): ends the current bake, and its pause, now;
  ``full`` also skips the stages left (the module sets ``relrun_promoted_full``);
- ``waiting``: written by the module while a stage holds (``kind`` ``pause``,
  ``approval`` or ``operator``; since; the timeout and its default), for ``relrun status``.

A request is taken once (``taken_at``); every one taken is returned in the module's result
(``gates``), so who asked, when and why reach the journal and the reports.
"""

from __future__ import annotations

import copy
import glob
import os
import time
from typing import Any

from .deadman import (
    _locked,
    read_lease,
    request_rollback,
    write_lease,
)

ACTIONS = ("pause", "resume", "promote")


def gate_path(lease_path: str) -> str:
    """Where the operators' gate requests to the run holding lease ``lease_path`` go."""
    return lease_path + ".gate"


def read_gate(lease_path: str, owner: str) -> dict[str, Any]:
    """Run ``owner``'s gate state (empty when there is none, or it is another run's)."""
    state = read_lease(gate_path(lease_path))
    return state if owner and state.get("owner") == owner else {}


def ask(
    lease_path: str, owner: str, action: str, by: str, reason: str, scope: str = "stage",
    at: float | None = None,
) -> dict[str, Any]:
    """Record an operator's ``action`` for run ``owner``.

    Args:
        lease_path: the run's lease file.
        owner: the run asked (its run id).
        action: ``pause``, ``resume`` or ``promote``.
        by: who asked (``user@host``).
        reason: why (``--reason``).
        scope: for ``promote``: ``stage`` (this one) or ``full`` (skip the rest).
        at: when (default now).

    Returns:
        The gate state after the request.

    Raises:
        ValueError: an unknown action or scope.
    """
    if action not in ACTIONS or scope not in ("stage", "full"):
        raise ValueError(f"unknown gate request {action} ({scope})")
    target = gate_path(lease_path)
    request = {"by": by, "reason": reason, "at": time.time() if at is None else at}
    with _locked(target):
        state = read_lease(target)
        if state.get("owner") != owner:
            state = {"owner": owner}
        if action == "pause":
            state["paused"] = request
        elif action == "resume":
            state["paused"] = None
            state["resumed"] = request
        else:
            state["promote"] = {**request, "scope": scope}
        write_lease(target, state)
    return dict(state)


def held(directory: str, owner: str = "") -> list[dict[str, Any]]:
    """The live leases held (claimed or armed) in ``directory``, with their gate state.

    Args:
        directory: a router host's ``relrun_deadman_dir``.
        owner: only this run's (default: every run's).

    Returns:
        ``{"path", "lease", "gate"}`` of each, sorted by path.
    """
    found = []
    for path in sorted(glob.glob(os.path.join(directory, "relrun-deadman-*.json"))):
        lease = read_lease(path)
        who = str(lease.get("owner") or "")
        live = time.time() <= float(lease.get("expires") or 0)
        if who and lease.get("state") in ("armed", "claimed") and live and owner in ("", who):
            found.append({"path": path, "lease": lease, "gate": read_gate(path, who)})
    return found


def refusal(action: str, state: dict[str, Any]) -> str:
    """Why ``action`` makes no sense for a run whose gate state is ``state`` ("" if it does)."""
    if action == "resume" and not state.get("paused"):
        waiting = state.get("waiting") or {}
        hint = (
            f"; stage {waiting.get('stage')} waits for its {waiting.get('kind')}: "
            "relrun promote" if waiting.get("kind") in ("pause", "approval") else ""
        )
        return "is not paused by an operator" + hint
    if action == "pause" and state.get("paused"):
        paused = state["paused"]
        return (
            f"is already paused (by {paused.get('by')}: "
            f"{paused.get('reason') or 'no reason given'}); relrun resume ends it"
        )
    return ""


def deliver(
    directory: str, owner: str, action: str, by: str, reason: str, scope: str = "stage"
) -> dict[str, Any]:
    """Deliver an operator's request to run ``owner``'s leases in ``directory``.

    ``abort`` writes the rollback request (``LEASE.control``) beside its armed leases;
    the others the gate request, unless :func:`refusal` refuses it (nothing is written).

    Returns:
        ``leases`` (after the request, see :func:`held`), ``asked`` (the lease files
        written) and ``refused`` (why not, or "").
    """
    leases = held(directory, owner)
    asked: list[str] = []
    if action != "abort":
        for item in leases:
            why = refusal(action, item["gate"])
            if why:
                return {"leases": leases, "asked": [], "refused": why}
    for item in leases:
        if action == "abort":
            if item["lease"].get("state") == "armed":
                message = f"relrun abort by {by}: {reason or 'no reason given'}"
                request_rollback(item["path"], owner, "manual", f"{by} (relrun abort)", message)
                asked.append(item["path"])
        else:
            ask(item["path"], owner, action, by, reason, scope)
            asked.append(item["path"])
    return {"leases": held(directory, owner), "asked": asked, "refused": ""}


class Gate:
    """The analysis module's side: holds a bake past its end, or ends it, as asked.

    Attributes:
        events: every request taken during this task, and a pause's timeout.
        full: a ``promote --full`` was taken: the stages left are skipped.
    """

    def __init__(
        self, lease_path: str, owner: str, stage: str, pause: dict[str, Any] | None
    ) -> None:
        self.path = lease_path
        self.owner = owner
        self.stage = stage
        self.pause = pause or None
        self.events: list[dict[str, Any]] = []
        self.full = False
        self._held_since: float | None = None
        self._seen_pause: float | None = None
        self._waiting: dict[str, Any] | None = None

    def __call__(self, done: bool) -> str | dict[str, Any] | None:
        """After a sample that found no breach: ``end`` the bake, ``hold`` it, or a breach.

        Args:
            done: the bake's duration has elapsed.

        Returns:
            ``"end"`` (promoted, or a pause's default promote), ``"hold"`` (keep judging
            past the bake), a breach (a pause's timeout whose default is rollback) or None
            (go on as the bake would).
        """
        target = gate_path(self.path)
        if not os.path.exists(target) and not (done and self.pause):
            return None  # the common case: no operator spoke, no gate here
        with _locked(target):
            found = read_lease(target)
            # Another run's requests (a run that held the backend before) are not ours.
            state: dict[str, Any] = (
                copy.deepcopy(found) if found.get("owner") == self.owner else {"owner": self.owner}
            )
            decision = self._decide(state, done)
            if decision == "hold":
                state["waiting"] = self._waiting
            else:
                state.pop("waiting", None)
            if state != found and (found.get("owner") == self.owner or len(state) > 1):
                write_lease(target, state)
        return decision

    def _note(self, action: str, request: dict[str, Any], **more: Any) -> None:
        self.events.append(
            {"action": action, "stage": self.stage, "by": request.get("by"),
             "reason": request.get("reason"), "at": request.get("at"),
             "taken_at": round(time.time(), 3), **more}
        )

    def _decide(self, state: dict[str, Any], done: bool) -> str | dict[str, Any] | None:
        promote = state.get("promote")
        if isinstance(promote, dict) and not promote.get("taken_at"):
            promote.update(taken_at=time.time(), stage=self.stage)
            self._note("promote", promote, scope=promote.get("scope") or "stage")
            self.full = promote.get("scope") == "full"
            if state.get("paused"):
                state["paused"] = None  # a promotion ends an operator's pause too
            return "end"
        paused = state.get("paused")
        if isinstance(paused, dict) and paused.get("at") != self._seen_pause:
            self._seen_pause = paused.get("at")
            self._note("pause", paused)
        elif not paused and self._seen_pause is not None:
            self._seen_pause = None
            resumed = state.get("resumed") or {}
            self._note("resume", resumed)
        if not done:
            return None
        now = time.time()
        self._held_since = self._held_since or now
        if isinstance(paused, dict):
            self._waiting = {"kind": "operator", "stage": self.stage, "since": self._held_since,
                             "by": paused.get("by"), "reason": paused.get("reason")}
            return "hold"
        if self.pause is None:
            return None
        timeout = self.pause.get("timeout")
        if timeout and now - self._held_since >= float(timeout):
            default = str(self.pause.get("default") or "promote")
            self._note("timeout", {"by": "runbook", "reason": f"pause timeout {timeout:g}s",
                                   "at": now}, default=default)
            if default == "promote":
                return "end"
            return {
                "reason": "pause_timeout", "observed": round(now - self._held_since, 3),
                "threshold": float(timeout),
                "message": f"nobody promoted stage {self.stage} within its pause's timeout "
                f"({timeout:g}s); its default action is rollback",
            }
        self._waiting = {
            "kind": str(self.pause.get("why") or "pause"), "stage": self.stage,
            "since": self._held_since,
            "timeout_at": self._held_since + float(timeout) if timeout else None,
            "default": self.pause.get("default"),
        }
        return "hold"
