"""The modes of a conversion, one module each: :mod:`~tracecad.modes.extrude` (with its products,
:mod:`~tracecad.modes.product`), :mod:`~tracecad.modes.colours` and :mod:`~tracecad.modes.relief`.

Each builds in memory and then writes through :func:`cad.export.write_checked`; they share the output
paths and the report entry of :mod:`~tracecad.modes.common`.
"""
