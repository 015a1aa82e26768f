"""The settings of one web app server: workers, limits, result lifetime."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from tracecad.options import DEFAULT_MAX_PIXELS

__all__ = ["ServerSettings", "ENVIRONMENT_VARIABLE"]

#: How ``tracecad serve`` hands its settings to the application it starts (JSON).
ENVIRONMENT_VARIABLE = "TRACECAD_WEB_SETTINGS"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What ``tracecad serve`` was started with.

    workers : conversions and previews that run at once, each in its own process; the rest wait.
    max_upload_bytes : the largest request body (the image and the form fields).
    time_limit_s : the longest a conversion may run before its worker is stopped.
    max_pixels : the largest image, in pixels (refused from the header, before decoding).
    result_ttl_s : how long converted files stay downloadable.
    allowed_hosts : host names a request's Host header may carry (None: any); a server on the loopback
        address answers only to its own names, so that no other web site can reach it through DNS rebinding.
    """

    workers: int = 2
    max_upload_bytes: int = 25 * 1024 * 1024
    time_limit_s: float = 120.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    result_ttl_s: float = 3600.0
    allowed_hosts: tuple[str, ...] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> ServerSettings:
        """The settings in :data:`ENVIRONMENT_VARIABLE`, or the defaults."""
        raw = os.environ.get(ENVIRONMENT_VARIABLE)
        if not raw:
            return cls()
        kw = json.loads(raw)
        if kw.get("allowed_hosts") is not None:
            kw["allowed_hosts"] = tuple(kw["allowed_hosts"])
        return cls(**kw)
