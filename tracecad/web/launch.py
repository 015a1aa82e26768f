"""``tracecad serve``: run the web app with uvicorn, print its address, optionally open the browser."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import webbrowser
from dataclasses import replace

from tracecad.web.settings import ENVIRONMENT_VARIABLE, ServerSettings

__all__ = ["run_server", "WebExtraMissing", "is_loopback", "LOOPBACK_NAMES"]

#: The names a server on the loopback address answers to.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class WebExtraMissing(RuntimeError):
    """FastAPI, uvicorn or python-multipart is not installed."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address or name of this computer only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def run_server(settings: ServerSettings = ServerSettings(), *, host: str = "127.0.0.1", port: int = 8765,
               open_browser: bool = False) -> int:
    """Serve until Ctrl-C; returns the exit code (0, or 1 when the port cannot be opened)."""
    try:
        import fastapi  # noqa: F401  (lazy: the optional web extra)
        import multipart  # noqa: F401
        import uvicorn
    except ImportError:
        raise WebExtraMissing("tracecad serve needs the web extra: pip install 'tracecad[web]'") from None
    if is_loopback(host):
        settings = replace(settings, allowed_hosts=LOOPBACK_NAMES)
    else:
        print(f"tracecad: warning: listening on {host}: anyone who can reach this computer on that network "
              "can use this server and its workers", file=sys.stderr)
    try:  # find out now whether the port is free, and which one port 0 gives
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        print(f"tracecad: error: cannot listen on {host}:{port} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    url = _url(host, port)
    os.environ[ENVIRONMENT_VARIABLE] = settings.to_json()  # read by app_from_environment
    config = uvicorn.Config("tracecad.web.app:app_from_environment", factory=True, log_level="warning",
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    print(f"tracecad: serving on {url} ({settings.workers} worker(s); Ctrl-C stops)", flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])  # (it stops the workers and deletes the results before it returns)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, handed on by uvicorn once it has shut down
        pass
    return 0
