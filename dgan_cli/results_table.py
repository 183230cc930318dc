"""The results table: recipe summaries (`dgan run --json`) side by side, with ratios to two rows.

Each results stage of a recipe is a *source*, named `recipe/stage` and shown
by its label. A row is one (group, metric, source): mean ± std over the runs
of that group (the recipe's `over` axis, e.g. seeds), and the ratio of its
mean to the mean of the baseline source and of the reference source in the
same group (e.g. synthetic / few-shot, synthetic / full supervision). Ratios
are plain ratios of means whatever the metric's direction: above 1 is better
for scores such as mIoU or PCK, below 1 for errors such as MSE.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from dgan_cli.atomic import atomic_output
from dgan_cli.errors import DganError
from dgan_cli.untrusted import read_json

BEGIN, END = "<!-- dgan results: {} -->", "<!-- end of dgan results: {} -->"


@dataclass(frozen=True)
class Source:
    id: str
    label: str
    rows: dict  # (group items, metric) -> {"mean", "std", "n"}


def load_summary(path: Path) -> dict:
    data = read_json(path, "file")
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict) or "recipe" not in data:
        raise DganError(f"{path}: not a recipe summary", hint="write one with `dgan run RECIPE --json PATH`")
    return data


def sources(summaries: list[dict]) -> list[Source]:
    """One source per recipe stage. Summaries of the same recipe (e.g. one run per head, each
    with its own settings) add their groups to it; a group measured twice is refused."""
    found: dict[str, Source] = {}
    for summary in summaries:
        labels = summary.get("labels", {})
        for stage, rows in summary["results"].items():
            keyed = {(tuple(sorted(r.get("group", {}).items())), r["metric"]): r for r in rows}
            name = f"{summary['recipe']}/{stage}"
            if name in found:
                twice = sorted({str(dict(group)) for group, _ in keyed.keys() & found[name].rows.keys()})
                if twice:
                    raise DganError(f"{name}: group {twice[0]} is in more than one summary",
                                    hint="give each summary other matrix values (e.g. --set head=...)")
                keyed = {**found[name].rows, **keyed}
            found[name] = Source(name, labels.get(stage, stage), keyed)
    return list(found.values())


def _find(found: list[Source], wanted: str | None, option: str) -> Source | None:
    if wanted is None:
        return None
    for source in found:
        if source.id == wanted:
            return source
    ids = [s.id for s in found]
    close = difflib.get_close_matches(wanted, ids, n=1)
    raise DganError(f"{option} '{wanted}': no such results source",
                    hint=f"did you mean '{close[0]}'?" if close else f"sources: {', '.join(ids)}")


def parse_metrics(items: list[str]) -> list[tuple[str, str]]:
    """`KEY` or `KEY=NAME` (the `--metric` option) as (key, display name) pairs."""
    pairs = []
    for item in items:
        key, _, name = item.partition("=")
        pairs.append((key.strip(), name.strip() or key.strip()))
    return pairs


def build_table(summaries: list[dict], metrics: list[tuple[str, str]] = (), baseline: str | None = None,
                reference: str | None = None) -> dict:
    """{"columns", "cells" (strings), "rows" (numbers)}: rows by group, then metric (in the order
    given, else sorted), then source (in summary order)."""
    found = sources(summaries)
    ratios = [(key, source) for key, source in (("vs_baseline", _find(found, baseline, "--baseline")),
                                                ("vs_reference", _find(found, reference, "--reference")))
              if source is not None]
    groups = list(dict.fromkeys(g for s in found for g, _ in s.rows))
    names = dict(metrics) if metrics else {m: m for m in sorted({m for s in found for _, m in s.rows})}
    rows = []
    for group in groups:
        for key, name in names.items():
            for source in found:
                cell = source.rows.get((group, key))
                if cell is not None:
                    rows.append({"group": dict(group), "metric": key, "name": name, "source": source.id,
                                 "label": source.label, "mean": cell["mean"], "std": cell["std"], "n": cell["n"],
                                 **{k: _ratio(cell, other, group, key, source) for k, other in ratios}})
    if not rows:
        raise DganError("no results to tabulate", hint="check --metric names against the summaries' metrics")
    group_keys = list(dict.fromkeys(k for r in rows for k in r["group"]))
    columns = [*group_keys, "metric", "label source", "mean ± std", "runs", *(f"÷ {s.label}" for _, s in ratios)]
    cells = [[*(str(r["group"].get(k, "")) for k in group_keys), r["name"], r["label"],
              f"{r['mean']:.3f} ± {r['std']:.3f}", str(r["n"]),
              *("-" if r[k] is None else f"{r[k]:.2f}" for k, _ in ratios)] for r in rows]
    return {"columns": columns, "cells": cells, "rows": rows}


def _ratio(cell: dict, other: Source, group, key: str, source: Source) -> float | None:
    denominator = None if other is source else other.rows.get((group, key))
    if denominator is None or denominator["mean"] == 0:
        return None
    return cell["mean"] / denominator["mean"]


def markdown(table: dict) -> str:
    lines = ["| " + " | ".join(table["columns"]) + " |", "|" + "---|" * len(table["columns"])]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table["cells"]]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str, text: str) -> None:
    """Put `text` between the section's markers in `path` (appended, markers included, if absent)."""
    path = Path(path)
    begin, end = BEGIN.format(section), END.format(section)
    try:
        doc = path.read_text() if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise DganError(f"{path}: unreadable ({exc})") from None
    block = f"{begin}\n{text.rstrip()}\n{end}"
    has_begin, has_end = begin in doc, end in doc
    if has_begin != has_end or (has_begin and doc.index(begin) > doc.index(end)):
        raise DganError(f"{path}: section '{section}' has a broken marker pair",
                        hint=f"it needs '{begin}' followed by '{end}'")
    if has_begin:
        doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = (doc.rstrip() + "\n\n" if doc.strip() else "") + block + "\n"
    with atomic_output(path) as tmp:
        tmp.write_text(doc)


def plot_against(rows: list[dict], x_var: str, path: Path) -> Path:
    """One metric of the table's rows against the numeric group variable `x_var`: a line per
    source through its means, with a band of one std (e.g. mIoU against the number of labels)."""
    from dgan_cli.plot import Series, line_chart

    metrics = list(dict.fromkeys(r["name"] for r in rows))
    if len(metrics) != 1:
        raise DganError(f"--plot draws one metric, the table holds {len(metrics)}", hint="give one --metric")
    points: dict[str, list[tuple[float, float, float]]] = {}
    for row in rows:
        value = row["group"].get(x_var)
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise DganError(f"--x {x_var}: not a numeric matrix variable of every row "
                            f"({row['label']} has {value!r})") from None
        points.setdefault(row["label"], []).append((x, row["mean"], row["std"]))
    series = [Series(label, *map(list, zip(*sorted(p)))) for label, p in points.items()]
    return line_chart(series, path, title=f"{metrics[0]} against {x_var} (mean ± std over runs)",
                      x_label=x_var, y_label=metrics[0])
