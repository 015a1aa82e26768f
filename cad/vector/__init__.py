"""Vector sources -> :class:`cad.regions.Regions` without rasterising: SVG documents and text set in a font."""
