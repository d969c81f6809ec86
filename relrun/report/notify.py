"""Post a run's summary to a webhook: retried with backoff, never fatal, never a secret.

The URL comes from an environment variable (the runbook names the variable), because
webhook URLs embed tokens. The payload is built from the run's report only — runbook,
verdict, reasons, timings, counts, where the reports are — never from the environment,
and the URL never appears in the result or in log lines.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relrun import __version__
from relrun.report.rundocs import RunDocuments, load_run_documents
from relrun.runbook.notify_models import Notify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotifyResult:
    """What happened to a notification.

    Attributes:
        sent: the receiver accepted it (2xx).
        attempts: POSTs made.
        status: the last HTTP status, if any answer came.
        error: why it was not sent (or why the last attempt failed); never holds the URL.
        skipped: why nothing was attempted (not configured, not wanted for this outcome).
        errors: every failed attempt's reason, in order.
    """

    sent: bool = False
    attempts: int = 0
    status: int | None = None
    error: str | None = None
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)


def wanted(on: list[str], failed: bool, regression: bool) -> bool:
    """Whether a run's outcome is one the webhook subscribed to.

    Args:
        on: the webhook's ``on`` list.
        failed: the run did not pass.
        regression: a drill's RTO regressed.

    Returns:
        True to send.
    """
    return "always" in on or (failed and "failure" in on) or (regression and "regression" in on)


def summary_payload(
    docs: RunDocuments, regression: bool, run_id: str | None = None
) -> dict[str, Any]:
    """The JSON body: a summary of the run, built from its report only.

    Args:
        docs: the run's documents.
        regression: whether the history flagged this drill's RTO as a regression.
        run_id: the history store's id of the run, if recorded.

    Returns:
        JSON-ready data.
    """
    run = docs.run
    flag = " (RTO regression)" if regression else ""
    return {
        "source": f"relrun {__version__}",
        "text": f"relrun {docs.kind} of {run.runbook.name} {run.runbook.version}: "
        f"{run.verdict}{flag}",
        "runbook": {"name": run.runbook.name, "version": run.runbook.version,
                    "sha256": run.runbook.sha256},
        "kind": docs.kind,
        "verdict": run.verdict,
        "state": run.state,
        "exit_code": run.exit_code,
        "reasons": list(run.reasons),
        "regression": regression,
        "rto_seconds": run.rto_seconds,
        "rto_budget_seconds": run.rto_budget_seconds,
        "detection_seconds": run.detection_seconds,
        "lost": run.traffic.lost if run.traffic is not None else None,
        "run_id": run_id,
        "run_dir": docs.run_dir,
        "started": run.started,
        "ended": run.ended,
    }


def _post(url: str, body: bytes, timeout: float) -> int:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"relrun/{__version__}"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(response.status)


def _reason(err: Exception, url: str) -> str:
    text = f"HTTP {err.code}" if isinstance(err, urllib.error.HTTPError) else str(err)
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        text = str(err.reason)
    return text.replace(url, "<webhook url>")  # never echo the token-bearing URL


def notify(
    run_dir_or_report: Path | RunDocuments,
    notify_cfg: Notify | None,
    regression: bool,
    *,
    run_id: str | None = None,
    environ: Mapping[str, str] | None = None,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyResult:
    """Send the run's summary to the runbook's webhook, if its outcome asks for it.

    Never raises: every problem ends in the result (and a warning in the log).

    Args:
        run_dir_or_report: a run directory, or the run's documents.
        notify_cfg: the runbook's ``notify`` section (None: nothing to do).
        regression: whether this drill's RTO regressed.
        run_id: the history id to put in the payload.
        environ: where to read the URL variable (default the process environment).
        backoff: seconds before the first retry; doubled for each next one.
        sleep: waits between attempts (tests pass a fake).

    Returns:
        What happened.
    """
    webhook = notify_cfg.webhook if notify_cfg is not None else None
    if webhook is None:
        return NotifyResult(skipped="no webhook configured")
    try:
        docs = (run_dir_or_report if isinstance(run_dir_or_report, RunDocuments)
                else load_run_documents(run_dir_or_report))
    except Exception as err:  # a missing report must not break the caller
        log.warning("notification not sent: %s", err)
        return NotifyResult(error=f"no report to summarise: {err}")
    failed = docs.run.verdict != "pass"
    if not wanted(list(webhook.on), failed, regression):
        return NotifyResult(skipped=f"outcome not in on: {', '.join(webhook.on)}")
    url = (environ if environ is not None else os.environ).get(webhook.url_env, "")
    if not url.startswith(("http://", "https://")):
        error = f"${webhook.url_env} is {'not an http(s) URL' if url else 'not set'}"
        log.warning("notification not sent: %s", error)
        return NotifyResult(error=error)
    body = json.dumps(summary_payload(docs, regression, run_id), sort_keys=True).encode()
    errors: list[str] = []
    status: int | None = None
    for attempt in range(webhook.retries + 1):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        try:
            status = _post(url, body, webhook.timeout)
        except urllib.error.HTTPError as err:
            status = err.code
            errors.append(_reason(err, url))
        except (urllib.error.URLError, OSError, ValueError) as err:
            errors.append(_reason(err, url))
        else:
            return NotifyResult(sent=True, attempts=attempt + 1, status=status, errors=errors)
        log.warning("notification attempt %d failed: %s", attempt + 1, errors[-1])
    return NotifyResult(attempts=webhook.retries + 1, status=status, error=errors[-1],
                        errors=errors)
