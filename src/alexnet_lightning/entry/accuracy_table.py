"""eval.py's one printed table: a labelled row per model, a column per metric and view
(instead of Lightning's tables, which all read ``test/acc`` whatever they measured)."""

from __future__ import annotations

from rich.table import Table

COLUMNS = (("acc", "top-1"), ("acc_top5", "top-5"))


def accuracy_table(
    title: str,
    rows: list[tuple[str, str]],
    metrics: dict[str, float],
    ten_crop: bool,
    caption: str | None = None,
) -> Table:
    """``rows``: (label, metric prefix such as ``test/`` or ``test/member0/``); the columns
    are the centre crop's accuracies, then (``ten_crop``) the ten views'."""
    table = Table(title=title, caption=caption, caption_justify="left")
    table.add_column("model")
    views = [("", "")] + ([("_ten_crop", " ten-crop")] if ten_crop else [])
    for _, view in views:
        for _, name in COLUMNS:
            table.add_column(f"{name}{view}", justify="right")
    for label, prefix in rows:
        cells = [
            f"{metrics[f'{prefix}{key}{suffix}']:.4f}"
            if f"{prefix}{key}{suffix}" in metrics
            else "-"
            for suffix, _ in views
            for key, _ in COLUMNS
        ]
        table.add_row(label, *cells)
    return table
