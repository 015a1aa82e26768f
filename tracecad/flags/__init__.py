"""Option groups of ``tracecad convert``, one module per feature.

Each module has ``add_arguments(parser)``, which adds its argument group, and ``apply(args, kw)``,
which turns the parsed flags into :class:`tracecad.options.ConvertOptions` keyword arguments (raising
``ValueError`` or :class:`tracer.errors.InvalidInputError` on a bad combination). :data:`GROUPS`
lists them in the order of ``--help``; ``apply`` runs in the same order.
"""

from __future__ import annotations

from tracecad.flags import colour, dxf, fit, photo, product, relief, slicer, stroke

__all__ = ["GROUPS"]

GROUPS = (fit, relief, stroke, product, colour, slicer, dxf, photo)
