"""Token buckets, one per client token: the API's rate limiter."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """A bucket of ``burst`` tokens refilled at ``rate`` tokens per second.

    Attributes:
        rate: refill rate (tokens per second).
        burst: capacity.
        tokens: tokens available now.
        stamp: monotonic time of the last refill.
    """

    rate: float
    burst: int
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> float:
        """Take one token.

        Args:
            now: monotonic time.

        Returns:
            0.0 when a token was taken, else the seconds until one will be available.
        """
        if self.tokens < 0:
            self.tokens, self.stamp = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class RateLimiter:
    """Buckets keyed by client token, forgotten after ``idle_s`` without use.

    Attributes:
        idle_s: buckets unused this long are dropped (a full bucket anyway).
        clock: monotonic clock, replaceable in unit tests.
    """

    idle_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _last_sweep: float = 0.0

    def check(self, key: str, rate: float, burst: int) -> int:
        """Charge one request to ``key``.

        Args:
            key: the client token (or anything identifying the client).
            rate: allowed requests per second.
            burst: allowed burst.

        Returns:
            0 when allowed, else the ``Retry-After`` value in whole seconds (at least 1).
        """
        now = self.clock()
        if now - self._last_sweep > self.idle_s:
            self._buckets = {k: b for k, b in self._buckets.items() if now - b.stamp < self.idle_s}
            self._last_sweep = now
        bucket = self._buckets.setdefault(key, TokenBucket(rate=rate, burst=burst))
        wait = bucket.take(now)
        return 0 if wait == 0.0 else max(1, math.ceil(wait))
