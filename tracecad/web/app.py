"""The ASGI application of ``tracecad serve``: the page, the static files and the HTTP API.

``GET /`` the page; ``GET /static/...`` its scripts, styles and the vendored three.js;
``GET /api/health``; ``POST /api/source`` (the photo to click on, after its EXIF orientation, and its
size), ``POST /api/preview`` (the live trace) and ``POST /api/convert`` (the files), all multipart
with the image in field ``image`` and options named after the command line's;
``GET /files/{id}/{name}`` a converted file. An error is ``{"error": "one sentence"}`` with a 4xx
status (5xx when the server itself failed), and the server goes on.

FastAPI is imported inside :func:`create_app`: it comes with the optional ``web`` extra.
"""


import asyncio
import json
import re
from contextlib import asynccontextmanager
from pathlib import Path

from tracecad.web.forms import IMAGE_FIELD, FormError, options_from_form
from tracecad.web.settings import ServerSettings
from tracecad.web.store import ResultStore
from tracecad.web.workers import TaskTimeout, WorkerDied, WorkerPool
from tracer import __version__

__all__ = ["create_app", "app_from_environment", "STATIC_DIR", "error_status", "BodyLimit"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: HTTP status of a failed task, by the error's class name (anything else that the input caused: 422).
STATUS = {"ImageTooLargeError": 413, "MemoryError": 413, "ImageReadError": 415, "PhotoRangeError": 400,
          "internal": 500}

#: Served with every answer: nothing but this server's own scripts, styles and pictures.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; script-src 'self'; "
                                 b"style-src 'self'; connect-src 'self' blob:; object-src 'none'; "
                                 b"base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def error_status(kind: str) -> int:
    """The HTTP status of a task that failed with error class ``kind``."""
    return STATUS.get(kind, 422)


class BodyTooLarge(Exception):
    """The request body is over the upload limit."""


class BodyLimit:
    """ASGI middleware: refuses a body over ``limit`` bytes (413, from Content-Length or while it is
    read), a Host header that is not allowed (400), and adds the security headers."""

    def __init__(self, app, limit: int, allowed_hosts: tuple[str, ...] | None) -> None:
        self.app, self.limit, self.allowed_hosts = app, limit, allowed_hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.allowed_hosts is not None:
            host = headers.get(b"host", b"").decode("latin-1").lower()
            host = host[1:].split("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0] if host.count(":") == 1 else host
            if host not in self.allowed_hosts:
                return await _json(send, 400, {"error": "this server only answers to requests addressed to "
                                                        f"{self.allowed_hosts[0]}"})
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _json(send, 413, {"error": _too_large(self.limit)})
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge()
            return message

        async def secured_send(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        try:
            await self.app(scope, limited_receive, secured_send)
        except BodyTooLarge:
            await _json(send, 413, {"error": _too_large(self.limit)})


def _too_large(limit: int) -> str:
    return f"the upload is larger than this server's limit of {limit / 1048576:g} MB"


async def _json(send, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": data})


def _safe_name(filename: str | None) -> tuple[str, str]:
    """An upload's file name -> (name for messages, stem of the output files): letters, digits, ``._-``."""
    base = re.split(r"[/\\]", filename or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")[:80] or "image"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return base, (stem.strip("._") or "image")


def create_app(settings: ServerSettings = ServerSettings(), *, pool: WorkerPool | None = None):
    """The application (FastAPI). It starts its worker pool and result store when it starts, and
    stops the workers and deletes every result when it stops."""
    from fastapi import FastAPI, Request  # (lazy: the optional web extra)
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile

    state: dict = {}

    @asynccontextmanager
    async def lifespan(app):
        state["pool"] = pool or WorkerPool(settings.workers, settings.time_limit_s)
        state["store"] = ResultStore(settings.result_ttl_s)
        await run_in_threadpool(state["pool"].start)
        sweeper = asyncio.create_task(_sweep(state["store"]))
        try:
            yield
        finally:
            sweeper.cancel()
            await run_in_threadpool(state["pool"].close)
            state["store"].close()

    app = FastAPI(title="tracecad", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def read_request(request: Request):
        """(image bytes, name, stem, options) of a multipart request, or an error response."""
        try:
            form = await request.form(max_files=2, max_fields=200)
        except BodyTooLarge:
            return error(413, _too_large(settings.max_upload_bytes))
        except Exception:  # noqa: BLE001 - a malformed body is the client's error
            return error(400, "send a multipart form with the image in the field 'image'")
        try:
            return await parse_form(form)
        finally:
            await form.close()

    async def parse_form(form):
        upload = form.get(IMAGE_FIELD)
        if not isinstance(upload, UploadFile):
            return error(400, "no image: send the picture in the form field 'image'")
        fields = []
        for key, value in form.multi_items():
            if key == IMAGE_FIELD:
                continue
            if not isinstance(value, str):
                return error(400, f"field {key!r} must be text, not a file")
            fields.append((key, value))
        try:
            options = options_from_form(fields, max_pixels=settings.max_pixels)
        except FormError as exc:
            return error(exc.status, str(exc))
        data = await upload.read()
        if len(data) > settings.max_upload_bytes:
            return error(413, _too_large(settings.max_upload_bytes))
        if not data:
            return error(400, "the uploaded file is empty")
        name, stem = _safe_name(upload.filename)
        return data, name, stem, options

    async def run(task: dict):
        try:
            answer = await run_in_threadpool(state["pool"].run, task)
        except TaskTimeout as exc:
            return error(504, f"{task['name']}: the conversion was stopped: {exc}")
        except WorkerDied:
            return error(500, f"{task['name']}: the conversion failed: its worker process crashed "
                              "(the server goes on; try other settings)")
        if "error" in answer:
            return error(error_status(answer["kind"]), answer["error"])
        return answer["ok"]

    @app.get("/api/health")
    async def health():
        return {"tracecad": __version__}

    async def look(request: Request, kind: str):
        """A task that writes no file (the photo as loaded, or the preview): its answer as it is."""
        got = await read_request(request)
        if isinstance(got, JSONResponse):
            return got
        data, name, _stem, options = got
        return await run({"kind": kind, "source": data, "options": options, "name": name})

    @app.post("/api/source")
    async def source(request: Request):
        return await look(request, "source")

    @app.post("/api/preview")
    async def preview(request: Request):
        return await look(request, "preview")

    @app.post("/api/convert")
    async def convert(request: Request):
        got = await read_request(request)
        if isinstance(got, JSONResponse):
            return got
        data, name, stem, options = got
        store: ResultStore = state["store"]
        rid, folder = store.new()
        result = await run({"kind": "convert", "source": data, "options": options, "name": name,
                            "out_dir": str(folder), "stem": stem})
        if isinstance(result, JSONResponse):
            store.discard(rid)
            return result
        outputs = result.get("outputs", {})
        names = store.publish(rid, list(outputs.values()), zip_name=f"{stem}.zip")
        result["outputs"] = {fmt: f"/files/{rid}/{names[p]}" for fmt, p in outputs.items() if p in names}
        result["zip"] = f"/files/{rid}/{stem}.zip"
        result["id"] = rid
        return result

    @app.get("/files/{rid}/{name}")
    async def files(rid: str, name: str):
        path = state["store"].path(rid, name)
        if path is None:
            return error(404, "no such file (results are kept for an hour)")
        return FileResponse(path, filename=name)

    @app.get("/")
    async def index():
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(404)
    async def not_found(request, exc):
        return error(404, "not found")

    @app.exception_handler(405)
    async def not_allowed(request, exc):
        return error(405, "this address does not take that method")

    return BodyLimit(app, settings.max_upload_bytes + 64 * 1024, settings.allowed_hosts)


def app_from_environment():
    """The application with the settings ``tracecad serve`` put in the environment (for an ASGI server:
    ``uvicorn --factory tracecad.web.app:app_from_environment``)."""
    return create_app(ServerSettings.from_environment())


async def _sweep(store: ResultStore) -> None:
    while True:
        await asyncio.sleep(60)
        await asyncio.to_thread(store.expire)
