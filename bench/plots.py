"""The two figures of a run, drawn with matplotlib (Agg: no display needed).

* latency.png: open-loop latency against offered load, orders vs bare, per catalog
  (p50 and p99, measured from each request's scheduled time; the closed-loop peaks
  as vertical lines);
* backlog.png: the pipeline section's backlog over time across its steps, with the
  offered rate of each step.

A section that did not run leaves its figure with a note saying so, so both files
exist after every run.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display on a server or in CI
import matplotlib.pyplot as plt
from matplotlib import ticker

COLOURS = {"bare": "tab:blue", "orders": "tab:red"}
LABELS = {"bare": "bare baseline", "orders": "POST /orders"}


def latency(accept: dict | None, path: Path) -> None:
    catalogs = [c for c in ("spread", "hot") if accept and c in accept]
    fig, axes = plt.subplots(1, max(1, len(catalogs)), figsize=(6 * max(1, len(catalogs)), 4.5), squeeze=False)
    if not catalogs:
        _note(axes[0][0], "accept section not run")
    for ax, catalog in zip(axes[0], catalogs, strict=False):
        figures = accept[catalog]
        for endpoint in ("bare", "orders"):
            points = [(p["offered_rate"], p[endpoint]) for p in figures["open_loop"]]
            rates = [rate for rate, _ in points]
            colour = COLOURS[endpoint]
            ax.plot(rates, [m["p50_ms"] for _, m in points], "o--", color=colour, label=f"{LABELS[endpoint]} p50")
            ax.plot(rates, [m["p99_ms"] for _, m in points], "s-", color=colour, label=f"{LABELS[endpoint]} p99")
            peak = figures["peak"][endpoint]["rate"]
            ax.axvline(peak, color=colour, linestyle=":", linewidth=1, label=f"{LABELS[endpoint]} peak {peak:.0f}/s")
        ax.set_yscale("log")
        plain = ticker.FuncFormatter(lambda value, _: f"{value:g}")  # 40, not 4x10^1
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.set_xlabel("offered load (requests/s, open loop)")
        ax.set_ylabel("latency from scheduled send (ms)")
        ax.set_title(f"{catalog} catalog")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Latency against offered load")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def backlog(pipeline: dict | None, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.5))
    samples = (pipeline or {}).get("samples") or []
    if not samples:
        _note(ax, "pipeline section not run")
    else:
        t = [s["t"] for s in samples]
        ax.plot(t, [s["backlog"] for s in samples], color="tab:red", linewidth=1.2, label="backlog (orders)")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("orders placed, not yet fully processed")
        rate_ax = ax.twinx()
        rate_ax.step(t, [s["rate"] for s in samples], where="post", color="tab:grey", linewidth=1, label="offered rate")
        rate_ax.set_ylabel("offered rate (orders/s)")
        rate_ax.set_ylim(bottom=0)
        steps = [*pipeline.get("steps", []), pipeline.get("half_rate")]
        for step in filter(None, steps):
            colour = "tab:green" if step["sustained"] else "tab:orange"
            ax.axvspan(step["t_start"], step["t_start"] + step["seconds"], color=colour, alpha=0.12)
            ax.annotate(
                f"{step['rate']:g}/s" + (" (half rate)" if step is pipeline.get("half_rate") else ""),
                (step["t_start"], 1),
                xycoords=("data", "axes fraction"),
                xytext=(2, -12),
                textcoords="offset points",
                fontsize=7,
            )
        ax.grid(True, alpha=0.3)
        lines = ax.get_legend_handles_labels()
        rate_lines = rate_ax.get_legend_handles_labels()
        # Below the axes: inside, it would hide a step's label or the backlog itself.
        ax.legend(
            lines[0] + rate_lines[0],
            lines[1] + rate_lines[1],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=2,
            fontsize=8,
        )
        ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.set_title("Pipeline backlog across the steps (green: sustained, orange: not)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
