"""Replace secret values with ``***`` everywhere in a module's result."""

from __future__ import annotations

from typing import Any

MASK = "***"
# Masking a one- or two-character "secret" would shred every other string in the result
# while protecting nothing worth protecting.
MIN_SECRET_LEN = 4


class Redactor:
    """Collects secrets during a run and scrubs them from anything returned."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, value: Any) -> None:
        """Remember a secret (its text form, when it is not a string).

        Args:
            value: a captured token, a password, ...
        """
        if value is None or isinstance(value, bool):
            return
        text = value if isinstance(value, str) else str(value)
        if len(text) >= MIN_SECRET_LEN:
            self._secrets.add(text)

    @property
    def secrets(self) -> frozenset[str]:
        """The secrets collected so far."""
        return frozenset(self._secrets)

    def text(self, value: str) -> str:
        """Mask every secret inside one string.

        Longest secrets first, so a secret containing another is masked whole.
        """
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def tree(self, value: Any) -> Any:
        """Mask secrets in every string (and dict key) inside ``value``.

        Non-string scalars equal to a secret's text (a numeric secret) are masked too.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.tree(k): self.tree(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.tree(item) for item in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return MASK if str(value) in self._secrets else value
        return value
