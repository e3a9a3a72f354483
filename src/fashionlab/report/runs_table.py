"""Finished runs' numbers side by side (HTML, Markdown, terminal); runs.load_run reads them."""

from __future__ import annotations

from ..paper_results import PAPER_REPORTED
from ..runs import RunRecord

COLUMNS = [
    # key, header, format
    ("name", "experiment", "{}"),
    ("parameters", "parameters", "{:,}"),
    ("epochs", "epochs", "{}"),
    ("final_val_accuracy", "final val acc", "{:.4f}"),
    ("best_val_accuracy", "best val acc", "{:.4f}"),
    ("final_val_loss", "final val loss", "{:.4f}"),
    ("best_val_loss", "best val loss", "{:.4f}"),
    ("test_accuracy", "test acc", "{:.4f}"),
    ("test_loss", "test loss", "{:.4f}"),
    ("train_seconds", "train time (s)", "{:,.0f}"),
    ("paper_val_accuracy", "paper val acc", "{:.2f}"),
    ("paper_val_loss", "paper val loss", "{:.2f}"),
]


def comparison_rows(records: list[RunRecord]) -> list[dict]:
    rows = []
    for r in records:
        m = r.metrics
        paper = PAPER_REPORTED.get(r.name, {})
        rows.append({
            "name": r.name,
            "parameters": m.get("parameters"),
            "epochs": len(r.history),
            "final_val_accuracy": m.get("final_val_accuracy"),
            "best_val_accuracy": m.get("best_val_accuracy"),
            "final_val_loss": m.get("final_val_loss"),
            "best_val_loss": m.get("best_val_loss"),
            "test_accuracy": m.get("test_accuracy"),
            "test_loss": m.get("test_loss"),
            "train_seconds": m.get("train_seconds"),
            "paper_val_accuracy": paper.get("val_accuracy"),
            "paper_val_loss": paper.get("val_loss"),
        })
    return rows


def cell(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(cell(row[k], f) for k, _, f in COLUMNS) + " |")
    return "\n".join(lines)


def terminal_table(rows: list[dict]) -> str:
    table = [[h for _, h, _ in COLUMNS]] + [[cell(row[k], f) for k, _, f in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in table)
