"""A batch's report: the JSON or CSV file of ``--report``, the summary table, and the exit code."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from cad.export import Staging
from tracecad.jobs import BatchResult

__all__ = ["CSV_COLUMNS", "write_report", "print_summary", "exit_code"]


#: Report columns written to a CSV report, in order.
CSV_COLUMNS = ("input", "status", "error", "outputs", "width_mm", "height_mm", "thickness_mm", "bodies", "holes",
               "curve_segments", "warnings", "seconds")


def write_report(path: str | os.PathLike[str], result: BatchResult, version: str) -> Path:
    """JSON (``{"tracecad", "summary", "results"}``), or CSV when ``path`` ends in ``.csv``. Atomic."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    with Staging() as stage:
        tmp = stage.path(path)
        if path.suffix.lower() == ".csv":
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(CSV_COLUMNS)
                for e in result.entries:
                    row = []
                    for col in CSV_COLUMNS:
                        v = e.get(col)
                        if col == "outputs":
                            v = ";".join(v.values()) if v else ""
                        elif col == "warnings":
                            v = "; ".join(v) if v else ""
                        elif col == "seconds":
                            v = v.get("total") if isinstance(v, dict) else v
                        row.append("" if v is None else v)
                    w.writerow(row)
        else:
            doc = {"tracecad": version, "summary": result.summary(), "results": result.entries}
            tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        stage.commit()
    return path


def print_summary(result: BatchResult, *, max_rows: int = 50, file=None) -> None:
    """The summary table (every input up to ``max_rows``, otherwise failures only) and a totals line."""
    from rich.console import Console  # (lazy: rich costs start-up time)
    from rich.table import Table

    console = Console(file=file, width=max(100, Console(file=file).width))
    entries = result.entries
    shown = entries if len(entries) <= max_rows else [e for e in entries if e["status"] not in ("ok", "skipped")]
    if shown:
        table = Table(title="tracecad", show_lines=False)
        for col in ("input", "status", "size mm", "bodies", "holes", "segments", "faces", "seconds"):
            table.add_column(col, overflow="fold")
        for e in shown:
            if e["status"] == "ok":
                table.add_row(e["input"], "ok",
                              f"{e['width_mm']:.1f} x {e['height_mm']:.1f} x {e['thickness_mm']:g}",
                              str(e["bodies"]), str(e["holes"]), str(e["curve_segments"]),
                              str(e["step_faces"] if e["step_faces"] is not None else "-"),
                              f"{e['seconds']['total']:.2f}")
            elif e["status"] == "skipped":
                table.add_row(e["input"], "skipped", "outputs exist", "", "", "", "", "")
            else:
                table.add_row(e["input"], f"[red]{e['status']}[/red]", e["error"] or "", "", "", "", "", "")
        console.print(table)
    for e in shown:
        for line in _colour_lines(e):
            console.print(line, markup=False, highlight=False)
    s = result.summary()
    rate = (s["converted"] + s["failed"]) / s["seconds"] if s["seconds"] > 0 else 0.0
    line = (f"converted {s['converted']}, failed {s['failed']}, skipped {s['skipped']}"
            + (f", not run {s['not_run']} (interrupted)" if s["not_run"] or result.interrupted else "")
            + f" of {s['inputs']} in {s['seconds']:.1f} s ({rate:.2f} files/s, "
            + f"{s['jobs']} {'worker' if s['jobs'] == 1 else 'workers'}, {s['executor']})")
    console.print(line, markup=False, highlight=False)


def _colour_lines(e: dict) -> list[str]:
    """The printer set-up of a colour conversion: its filaments, or the colour changes of a single nozzle."""
    if e.get("status") != "ok" or not e.get("filaments"):
        return []
    lines = [f"{e['input']}: merged {', '.join(m['merged'])} into {m['color']}" for m in e.get("merged_colors", [])]
    if e.get("color_changes") is not None and e.get("layer_height_mm"):
        lines.append(f"{e['input']}: start with {e['filaments'][0]}; "
                     + "; ".join(c["text"] for c in e["color_changes"]))
    else:
        lines.append(f"{e['input']}: " + ", ".join(f"extruder {i} {c}" for i, c in enumerate(e["filaments"], 1)))
    return lines


def exit_code(result: BatchResult) -> int:
    """0 when every input converted (or was skipped), 1 when one failed, 130 when interrupted."""
    if result.interrupted:
        return 130
    return 1 if result.failed else 0
