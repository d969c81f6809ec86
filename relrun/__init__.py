"""relrun: release runbooks rendered into Ansible playbooks, with a rehearsed rollback."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("relrun")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
