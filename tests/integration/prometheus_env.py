"""A real Prometheus (Debian's package) on a free loopback port, scraping the sandbox."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

PROMETHEUS = shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """One Prometheus process with its own config and storage under ``root``."""

    def __init__(
        self,
        root: Path,
        targets: list[str],
        job: str = "relrun-router",
        labels: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """With ``labels`` (target -> its labels), the targets are file-discovered.

        Then :meth:`set_targets` changes them while it runs (a canary started by the
        release), as an inventory-driven service discovery would.
        """
        self.root = root
        self.job = job
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "prometheus.yml"
        self.targets_file = root / "targets.json"
        if labels is None:
            listed = ", ".join(json.dumps(t) for t in targets)
            discovery = f"    static_configs: [{{targets: [{listed}]}}]\n"
        else:
            self.set_targets({t: labels.get(t, {}) for t in targets})
            discovery = (
                f"    file_sd_configs: [{{files: [{json.dumps(str(self.targets_file))}],"
                " refresh_interval: 1s}]\n"
            )
        self.config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: {job}\n{discovery}",
            encoding="utf-8",
        )
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def set_targets(self, labelled: dict[str, dict[str, str]]) -> None:
        """Replace the file-discovered targets (target -> labels), atomically."""
        groups = [{"targets": [t], "labels": labels} for t, labels in labelled.items()]
        temporary = self.targets_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(groups), encoding="utf-8")
        temporary.replace(self.targets_file)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        """Start it and wait until it answers and has scraped every target once."""
        assert PROMETHEUS is not None
        for _ in range(5):  # a free port taken in between by someone else: try another
            self.port = free_port()
            log = (self.root / "prometheus.log").open("ab")
            self.proc = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=log,
            )
            log.close()
            if self._wait_ready(timeout):
                break
            self.stop()
        else:
            raise AssertionError(f"prometheus did not start: {self.log()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(f'up{{job="{self.job}"}} == 1')
            if result is not None and result:
                return
            time.sleep(0.2)
        raise AssertionError(f"prometheus never scraped {self.job}: {self.log()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        return False

    def query(self, promql: str) -> list[dict[str, object]] | None:
        """An instant query's result vector (None when Prometheus did not answer)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                document = json.loads(response.read())
        except (OSError, ValueError):
            return None
        result = document.get("data", {}).get("result")
        return result if isinstance(result, list) else None

    def log(self) -> str:
        path = self.root / "prometheus.log"
        return path.read_text(encoding="utf-8", errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Kill it (SIGKILL: a monitoring outage, not a clean shutdown) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None


def docs_queries(example: int) -> str:
    """The ``queries:`` block of docs/metrics.md's worked example ``example``, as written.

    The drills read the docs' queries word for word, so a worked example that stops
    working fails its test.
    """
    text = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text(
        encoding="utf-8"
    )
    section = text[text.index(f"## Worked example {example}") :]
    block = section[section.index("```yaml\nqueries:") + len("```yaml\n") :]
    return block[: block.index("```")]
