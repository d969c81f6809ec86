"""Write the rollback handbook into a run directory."""

from __future__ import annotations

from pathlib import Path

from relrun.fsutil import write_atomic, write_json
from relrun.render.handbook import handbook_data, handbook_markdown
from relrun.runbook.loader import LoadedRunbook


def write_handbook(run_dir: Path, loaded: LoadedRunbook) -> None:
    """Write ``rollback-playbook.json`` and ``rollback-playbook.md``."""
    data = handbook_data(loaded)
    write_json(run_dir / "rollback-playbook.json", data)
    write_atomic(run_dir / "rollback-playbook.md", handbook_markdown(data))
