"""Keep secrets out of everything a run writes: events, the journal, Ansible's artifacts.

Secrets reach a run by name only — an environment variable, a file on the host, an
inventory variable — and are resolved when a task runs. The modules that resolve them
mask them in their own results; this module is the controller's second line: it learns
the secret values the controller can know before the run (environment variables named by
the playbook or named like a secret, inventory variables named like a secret) and scrubs
them from every ansible-runner event before ansible-runner writes it to ``job_events/``
and before relrun's handlers (console, journal, reports) see it. What ansible-runner
writes unredacted — the ``command`` file, which records the whole process environment,
the callback's ``job_events/*-partial.json`` files, anything in ``env/`` — is scrubbed
after the run by :func:`scrub_artifacts`, or by ``relrun recover`` when the run was killed.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from relrun.fsutil import write_atomic

PRIVATE = 0o600  # scrubbed artifacts stay readable by their owner only
MASK = "***"
# Same floor as the api_check module's redactor: masking a 1-3 character "secret" would
# shred every other string while protecting nothing.
MIN_SECRET_LEN = 4
# Values found only because of their variable's name are a guess; a short value such as
# "yes" or "false" under ``USE_SECRETS`` is a switch, not a secret.
MIN_GUESSED_LEN = 6

SECRET_NAME = re.compile(
    r"passw|_pass$|^pass$|secret|token|api_?key|private_?key|credential", re.IGNORECASE
)
# Names that hold where a secret is, not the secret: relrun's own convention for
# references (``relrun_api_credentials_file``, ``password_env``).
_REFERENCE_NAME = re.compile(r"_(file|path|dir|env|var|url)$", re.IGNORECASE)
# Keys of module arguments that name an environment variable holding a password.
_ENV_REFERENCE_KEYS = frozenset({"password_env"})


def is_secret_name(name: str) -> bool:
    """Whether a variable's name says it holds a secret value.

    Args:
        name: an environment or inventory variable name.

    Returns:
        True for names like ``API_TOKEN``, ``db_password``, ``ansible_become_pass``;
        False for references such as ``relrun_admin_token_file``.
    """
    return bool(SECRET_NAME.search(name)) and not _REFERENCE_NAME.search(name)


class Redactor:
    """Masks a fixed set of secret values in text and nested data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.secrets: tuple[str, ...] = tuple(
            sorted({s for s in secrets if len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
        )

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def text(self, value: str) -> str:
        """Mask every secret inside one string.

        Args:
            value: any text.

        Returns:
            The text with each secret replaced by ``***``.
        """
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def tree(self, value: Any) -> Any:
        """Mask secrets in every string (and dict key) inside lists and dicts.

        Args:
            value: plain data, as decoded from JSON.

        Returns:
            A copy with every secret masked; numbers whose text is a secret become ``***``.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.tree(k): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(item) for item in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return MASK if str(value) in self.secrets else value
        return value

    def mentions(self, value: Any) -> bool:
        """Whether any secret occurs in the JSON form of ``value`` (a cheap pre-check).

        Args:
            value: JSON-serialisable data.

        Returns:
            True when :meth:`tree` may change something.
        """
        if not self.secrets:
            return False
        # JSON escapes character by character, so a string holding a secret holds the
        # secret's escaped form in the dump.
        text = json.dumps(value, default=str, ensure_ascii=False)
        return any(json.dumps(s, ensure_ascii=False)[1:-1] in text for s in self.secrets)

    def scrub_event(self, raw: dict[str, Any]) -> None:
        """Mask secrets in an ansible-runner event, in place.

        In place because ansible-runner writes the very dict it handed its event handler
        to ``job_events/`` once the handler returns.

        Args:
            raw: the event dict.
        """
        if self.mentions(raw):
            clean = self.tree(raw)
            raw.clear()
            raw.update(clean)


def playbook_env_references(playbook_text: str) -> set[str]:
    """Environment variables a rendered playbook reads passwords from.

    The run layer sees the rendered playbook, not the runbook: the API check modules'
    ``credentials.password_env`` arguments name the variables.

    Args:
        playbook_text: the rendered playbook (YAML with ``!unsafe`` tags).

    Returns:
        The variable names.
    """

    class _Loader(yaml.SafeLoader):
        pass

    def _unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        return None

    _Loader.add_constructor("!unsafe", _unsafe)
    try:
        data = yaml.load(playbook_text, Loader=_Loader)  # a SafeLoader: no object tags
    except yaml.YAMLError:
        return set()
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in _ENV_REFERENCE_KEYS and isinstance(item, str):
                    names.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return names


def environment_secrets(environ: Mapping[str, str], referenced: Iterable[str]) -> set[str]:
    """Secret values in the controller's environment.

    Args:
        environ: the environment ansible-playbook inherits.
        referenced: variables the playbook reads passwords from (always secrets).

    Returns:
        Their values, plus the values of variables named like secrets.
    """
    found = {environ[name] for name in referenced if environ.get(name)}
    found.update(
        value
        for name, value in environ.items()
        if is_secret_name(name) and len(value) >= MIN_GUESSED_LEN
    )
    return found


def _secret_leaves(value: Any, named_secret: bool, out: set[str]) -> None:
    """Collect literal strings under secret-named keys (templates are not values yet)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _secret_leaves(item, named_secret or is_secret_name(str(key)), out)
    elif isinstance(value, list | tuple):
        for item in value:
            _secret_leaves(item, named_secret, out)
    elif named_secret and isinstance(value, str | int) and not isinstance(value, bool):
        try:
            text = str(value)  # a vault-encrypted value raises without the vault password
        except Exception:  # any failure means: not a literal value relrun can know
            return
        if len(text) >= MIN_GUESSED_LEN and "{{" not in text and "{%" not in text:
            out.add(text)


@functools.lru_cache(maxsize=16)
def _inventory_secrets(path: str, mtime_ns: int) -> frozenset[str]:
    # Imported here: loading Ansible's inventory machinery costs ~0.3 s.
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    try:
        manager = InventoryManager(loader=DataLoader(), sources=[path])
    except AnsibleError:
        return frozenset()
    found: set[str] = set()
    for group in manager.groups.values():
        _secret_leaves(dict(group.get_vars()), False, found)
    for host in manager.hosts.values():
        _secret_leaves(dict(host.get_vars()), False, found)
    return frozenset(found)


def inventory_secrets(path: Path) -> frozenset[str]:
    """Literal values of inventory variables named like secrets (``*password*``, ``*token*``…).

    Values that are templates are resolved by Ansible only on the host, so they are not
    known here; the modules that use them mask them.

    Args:
        path: the inventory file.

    Returns:
        The values; empty when the inventory cannot be read.
    """
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return frozenset()
    return _inventory_secrets(str(path.resolve()), mtime)


def run_redactor(
    playbook_text: str, inventory: Path, environ: Mapping[str, str] | None = None
) -> Redactor:
    """The redactor for one ansible-runner invocation.

    Args:
        playbook_text: the rendered playbook.
        inventory: its inventory.
        environ: the environment of ansible-playbook (default: this process's).

    Returns:
        A redactor knowing every secret value the controller can know before the run.
    """
    env = os.environ if environ is None else environ
    return Redactor(
        environment_secrets(env, playbook_env_references(playbook_text))
        | inventory_secrets(inventory)
    )


def _command_records(private_data_dir: Path) -> list[tuple[Path, Any]]:
    records = []
    for command in sorted(private_data_dir.glob("artifacts/*/command")):
        try:
            records.append((command, json.loads(command.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return records


def recorded_environment_secrets(private_data_dir: Path, referenced: Iterable[str]) -> set[str]:
    """Secret values of the environment a run recorded in its ``command`` files.

    The environment of a run whose relrun was killed is gone with it, except in these
    files: this is how a later process learns the secrets it must scrub from them.

    Args:
        private_data_dir: a private data directory of ansible-runner.
        referenced: variables the playbook reads passwords from (always secrets).

    Returns:
        The values, as :func:`environment_secrets` finds them (``***`` from an earlier
        scrub is too short to count).
    """
    names = list(referenced)
    found: set[str] = set()
    for _, record in _command_records(private_data_dir):
        env = record.get("env") if isinstance(record, dict) else None
        if isinstance(env, dict):
            found |= environment_secrets({str(k): str(v) for k, v in env.items()}, names)
    return found


def scrub_command_files(
    private_data_dir: Path, keep: Mapping[str, str], redactor: Redactor
) -> None:
    """Rewrite ansible-runner's ``artifacts/*/command`` files without the environment.

    ansible-runner records the full environment of ansible-playbook there, which is the
    operator's whole environment. Only the variables relrun set itself keep their values
    (redacted); every other value becomes ``***``.

    Args:
        private_data_dir: the run's private data directory.
        keep: the variables relrun set (name → value).
        redactor: masks known secrets in what is kept.
    """
    for command, record in _command_records(private_data_dir):
        env = record.get("env") if isinstance(record, dict) else None
        if isinstance(env, dict):
            record["env"] = {
                name: redactor.text(str(value)) if name in keep else MASK
                for name, value in env.items()
            }
        write_atomic(command, json.dumps(redactor.tree(record), ensure_ascii=False), mode=PRIVATE)


def scrub_artifacts(private_data_dir: Path, keep: Mapping[str, str], redactor: Redactor) -> None:
    """Scrub everything ansible-runner wrote unredacted into a private data directory.

    The ``command`` files as :func:`scrub_command_files` does; ``job_events/*-partial.json``
    (which ansible-runner merges and deletes as events arrive, so only a cut-short run
    leaves them) redacted, or deleted when torn; text files in ``env/`` redacted.
    Idempotent: running it again changes nothing.

    Args:
        private_data_dir: the private data directory of one ansible-runner invocation.
        keep: the variables relrun set (name → value).
        redactor: the secrets to mask.
    """
    scrub_command_files(private_data_dir, keep, redactor)
    for partial in sorted(private_data_dir.glob("artifacts/*/job_events/*-partial.json")):
        try:
            data = json.loads(partial.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            partial.unlink(missing_ok=True)  # torn by the kill: nothing left to redact it by
            continue
        if redactor.mentions(data):
            write_atomic(partial, json.dumps(redactor.tree(data), ensure_ascii=False), mode=PRIVATE)
    for path in sorted(p for p in private_data_dir.glob("env/*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # not text: it cannot be redacted, only removed
            continue
        if redactor.text(text) != text:
            write_atomic(path, redactor.text(text), mode=PRIVATE)
