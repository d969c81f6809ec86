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

import base64
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

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


# The password in a URL's user-info: scheme://user:PASSWORD@host (DATABASE_URL, webhooks).
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@")
# The play variable naming the variables a runbook marked secret (``secrets:``).
SECRET_VARS = "relrun_secret_vars"


def url_passwords(text: str) -> set[str]:
    """Passwords inside URLs' user-info in ``text``, as written and percent-decoded.

    Args:
        text: any value (an environment variable, an inventory value).

    Returns:
        The passwords found.
    """
    found: set[str] = set()
    for match in _URL_PASSWORD.finditer(text):
        found |= {match.group(1), unquote(match.group(1))}
    return found


def encodings(secret: str) -> set[str]:
    """A secret and the forms it is commonly echoed in: base64 and URL-encoded.

    Args:
        secret: a secret value.

    Returns:
        The value, its base64 (standard and URL-safe, padded and not) and its
        percent-encodings, plus the passwords of URLs inside it.
    """
    raw = secret.encode("utf-8")
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("=")}
    for password in url_passwords(secret):
        forms |= {password, quote(password, safe="")}
    return forms


class Redactor:
    """Masks a fixed set of secret values, in their common encodings, in text and data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = {s for s in secrets if len(s) >= MIN_SECRET_LEN}
        every = {form for s in known for form in encodings(s)}
        # Longest first, so a secret that contains another is masked whole.
        self.secrets: tuple[str, ...] = tuple(
            sorted({s for s in every if len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
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
    try:
        data = yaml.load(playbook_text, Loader=_unsafe_loader())  # a SafeLoader: no object tags
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


def playbook_secret_vars(playbook_text: str) -> tuple[set[str], set[str]]:
    """The variables a runbook marked secret, and the values the playbook itself holds.

    Args:
        playbook_text: the rendered playbook.

    Returns:
        The names (``relrun_secret_vars`` of the plays) and the literal values of those
        names among the plays' vars (the runbook's own ``vars``).
    """
    try:
        data = yaml.load(playbook_text, Loader=_unsafe_loader())
    except yaml.YAMLError:
        return set(), set()
    names: set[str] = set()
    values: set[str] = set()
    plays = data if isinstance(data, list) else []
    for play in plays:
        play_vars = play.get("vars") if isinstance(play, dict) else None
        if not isinstance(play_vars, dict):
            continue
        marked = play_vars.get(SECRET_VARS)
        if isinstance(marked, list):
            names |= {str(n) for n in marked}
    for play in plays:
        play_vars = play.get("vars") if isinstance(play, dict) else None
        if isinstance(play_vars, dict):
            values |= {
                str(v)
                for k, v in play_vars.items()
                if k in names and isinstance(v, str | int | float) and not isinstance(v, bool)
            }
    return names, values


def _unsafe_loader() -> type[yaml.SafeLoader]:
    class _Loader(yaml.SafeLoader):
        pass

    def _unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        return None

    _Loader.add_constructor("!unsafe", _unsafe)
    return _Loader


def environment_secrets(environ: Mapping[str, str], referenced: Iterable[str]) -> set[str]:
    """Secret values in the controller's environment.

    Args:
        environ: the environment ansible-playbook inherits.
        referenced: variables the playbook reads passwords from, and those the runbook
            marked secret (always secrets, whatever their names).

    Returns:
        Their values, the values of variables named like secrets, and every password
        inside a URL's user-info (``DATABASE_URL=postgres://app:PASSWORD@db``).
    """
    found = {environ[name] for name in referenced if environ.get(name)}
    found.update(
        value
        for name, value in environ.items()
        if is_secret_name(name) and len(value) >= MIN_GUESSED_LEN
    )
    for value in environ.values():
        if "://" in value:
            found |= url_passwords(value)
    return found


def sandbox_secrets(environ: Mapping[str, str]) -> set[str]:
    """The secrets of the sandbox a run drives: admin token, JWT key, users' passwords.

    They are files relrun created itself (``RELRUN_SANDBOX_DIR/secrets/``), read as
    credentials by the tasks; their values are known here, whatever the tasks print.

    Args:
        environ: the run's environment (``RELRUN_SANDBOX_DIR`` names the sandbox).

    Returns:
        The values; empty without a sandbox.
    """
    root = environ.get("RELRUN_SANDBOX_DIR")
    if not root:
        return set()
    found: set[str] = set()
    secrets = Path(root) / "secrets"
    for name in ("admin.token", "jwt.key"):
        try:
            found.add((secrets / name).read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            continue
    try:
        users = json.loads((secrets / "users.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        users = None
    _secret_leaves(users, False, found, min_len=MIN_SECRET_LEN)
    return found


def _secret_leaves(
    value: Any,
    named_secret: bool,
    out: set[str],
    marked: frozenset[str] = frozenset(),
    min_len: int = MIN_GUESSED_LEN,
) -> None:
    """Collect literal strings under secret-named or marked keys, and URLs' passwords.

    Templates are not values yet, so they are skipped.
    """
    if isinstance(value, Mapping):
        for key, item in value.items():
            secret = named_secret or is_secret_name(str(key)) or str(key) in marked
            _secret_leaves(item, secret, out, marked, MIN_SECRET_LEN if secret else min_len)
        return
    if isinstance(value, list | tuple):
        for item in value:
            _secret_leaves(item, named_secret, out, marked, min_len)
        return
    if not isinstance(value, str | int) or isinstance(value, bool):
        return
    try:
        text = str(value)  # a vault-encrypted value raises without the vault password
    except Exception:  # any failure means: not a literal value relrun can know
        return
    if "{{" in text or "{%" in text:
        return
    if "://" in text:
        out |= url_passwords(text)
    if named_secret and len(text) >= min_len:
        out.add(text)


@functools.lru_cache(maxsize=16)
def _inventory_secrets(path: str, mtime_ns: int, marked: frozenset[str]) -> frozenset[str]:
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
        _secret_leaves(dict(group.get_vars()), False, found, marked)
    for host in manager.hosts.values():
        _secret_leaves(dict(host.get_vars()), False, found, marked)
    return frozenset(found)


def inventory_secrets(path: Path, marked: Iterable[str] = ()) -> frozenset[str]:
    """Literal values of inventory variables named like secrets (``*password*``, ``*token*``…).

    Also the values of the variables a runbook marked secret, whatever their names, and
    the passwords inside URLs anywhere in the inventory.

    Values that are templates are resolved by Ansible only on the host, so they are not
    known here; the modules that use them mask them.

    Args:
        path: the inventory file.
        marked: variable names the runbook marked secret.

    Returns:
        The values; empty when the inventory cannot be read.
    """
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return frozenset()
    return _inventory_secrets(str(path.resolve()), mtime, frozenset(marked))


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
    marked, in_playbook = playbook_secret_vars(playbook_text)
    return Redactor(
        environment_secrets(env, playbook_env_references(playbook_text) | marked)
        | inventory_secrets(inventory, marked)
        | in_playbook
        | sandbox_secrets(env)
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
