"""Draws bench/coldstart.png from the samples `make bench` wrote to bench/out/coldstarts.csv."""
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
rows = list(csv.DictReader(open(HERE / "out" / "coldstarts.csv")))
peers = sorted({r["peer"] for r in rows}, key=lambda p: p != "Rust")
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
for ax, column, title in [(axes[0], "init_ms", "init: spawn to first /next"),
                          (axes[1], "first_response_ms", "spawn to first response (one-record put)")]:
    data = [[float(r[column]) for r in rows if r["peer"] == p] for p in peers]
    ax.boxplot(data, showfliers=False)
    for i, values in enumerate(data, start=1):
        ax.scatter([i + (j % 7 - 3) * 0.03 for j in range(len(values))], values, s=10, alpha=0.6)
    ax.set_xticks(range(1, len(peers) + 1), peers)
    ax.set_yscale("log")
    ax.set_ylabel("milliseconds (log scale)")
    ax.set_title(title)
    ax.grid(True, which="both", axis="y", alpha=0.3)
fig.suptitle(f"Cold starts, {len(rows) // len(peers)} per function (lower is better)")
fig.tight_layout()
fig.savefig(HERE / "coldstart.png", dpi=110)
print(f"wrote {HERE / 'coldstart.png'}", file=sys.stderr)
