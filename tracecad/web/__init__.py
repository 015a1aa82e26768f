"""The local web app behind ``tracecad serve``: a page (upload, live trace, 3D part, downloads) and its HTTP API.

:mod:`tracecad.web.app` builds the ASGI application, :mod:`tracecad.web.launch` runs it with uvicorn,
:mod:`tracecad.web.forms` turns form fields into :class:`tracecad.ConvertOptions` through the CLI's own
parser, :mod:`tracecad.web.workers` runs conversions in spawned worker processes, :mod:`tracecad.web.work`
is what those processes do, and :mod:`tracecad.web.store` keeps the results under random ids. FastAPI,
uvicorn and python-multipart come with the ``web`` extra (``pip install 'tracecad[web]'``).
"""
