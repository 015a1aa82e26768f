"""Form fields -> :class:`tracecad.ConvertOptions`, through the command line's own parser.

A field is named after a long option of ``tracecad convert`` without its dashes (``width``,
``thickness``, ``formats``, ``preset``, ``colors``, ``px-mm`` or ``px_mm``, ...); its value is the
option's value, and a flag (``invert``, ``mirror``, ``invert-heights``) is on for ``1``, ``true``,
``on`` or ``yes``. An option that the command line takes more than once (``pick``) is a field given once
per value, up to :data:`MAX_REPEATS` times. The fields become an argv that :func:`tracecad.cli.build_parser` parses, so every
option, default and usage error is exactly the command line's. Options that name files or steer a
batch (``output``, ``debug-dir``, ``report``, ``manifest``, ``jobs``, ...) are refused, and so is
``max-pixels`` above the server's limit.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from tracecad.cli import UsageError, build_parser, options_from_args
from tracecad.options import ConvertOptions
from tracer.errors import InvalidInputError

__all__ = ["FormError", "options_from_form", "form_options", "IMAGE_FIELD", "MAX_REPEATS"]

#: The multipart field that carries the image.
IMAGE_FIELD = "image"

#: Options of ``tracecad convert`` that a web request may not set: files, folders and batch control.
REFUSED = {"output", "out-dir", "debug-dir", "report", "manifest", "jobs", "skip-existing", "executor",
           "scheduler", "json", "debug", "quiet", "help"}
TRUE = {"1", "true", "on", "yes"}
FALSE = {"0", "false", "off", "no", ""}
#: How many times a form may repeat an option that the command line takes more than once (``pick``).
MAX_REPEATS = 32


class FormError(ValueError):
    """A form field cannot be used; ``status`` is the HTTP status (400 usage error, 422 invalid value)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _convert_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    for action in parser._actions:  # the ``convert`` sub-command's own parser
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and "convert" in choices:
            return choices["convert"]
    raise RuntimeError("the tracecad parser has no convert command")


def form_options() -> dict[str, argparse.Action]:
    """``{field name: argparse action}`` for every option a form may set."""
    out: dict[str, argparse.Action] = {}
    for action in _convert_parser(build_parser(raise_errors=True))._actions:
        for opt in action.option_strings:
            negative = isinstance(action, argparse.BooleanOptionalAction) and opt.startswith("--no-")
            if opt.startswith("--") and opt[2:] not in REFUSED and not negative:
                out[opt[2:]] = action
    return out


FIELDS = form_options()


def _argv(fields: Iterable[tuple[str, str]]) -> list[str]:
    argv: list[str] = []
    seen: dict[str, int] = {}
    for raw, value in fields:
        key = raw.strip().lower().replace("_", "-")
        if key not in FIELDS:
            raise FormError(f"unknown option {raw!r}: the form fields are the long options of "
                            "`tracecad convert` without their dashes (width, thickness, formats, ...)")
        action = FIELDS[key]
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1 and not isinstance(action, argparse._AppendAction):
            raise FormError(f"option {raw!r} is given twice")
        if seen[key] > MAX_REPEATS:
            raise FormError(f"option {raw!r} is given more than {MAX_REPEATS} times")
        value = value.strip()
        if action.nargs == 0:  # a flag: on or off
            v = value.lower()
            if v not in TRUE | FALSE:
                raise FormError(f"option {raw!r} is a switch: give true or false, got {value!r}")
            on = v in TRUE
            if isinstance(action, argparse.BooleanOptionalAction):
                argv.append(f"--{key}" if on else f"--no-{key}")
            elif on:
                argv.append(f"--{key}")
        elif value:  # an empty field is the option's default
            argv.append(f"--{key}={value}")
    return argv


def options_from_form(fields: Iterable[tuple[str, str]], *, max_pixels: int) -> ConvertOptions:
    """The options of a request's form fields (the image excluded); raises :class:`FormError`."""
    argv = ["convert", "upload", *_argv(fields)]
    try:
        with np.errstate(all="ignore"):  # (huge coordinates overflow while checked; the photo's size refuses them)
            args = build_parser(raise_errors=True).parse_args(argv)
    except UsageError as exc:
        raise FormError(str(exc), 400) from None
    if args.max_pixels is not None and not 0 < args.max_pixels <= max_pixels:
        raise FormError(f"max-pixels must be from 1 to this server's limit of {max_pixels}", 422)
    try:
        options = options_from_args(args)
    except (InvalidInputError, ValueError) as exc:
        raise FormError(str(exc), 422) from None
    if args.max_pixels is None:
        options = replace(options, max_pixels=max_pixels)
    return options
