"""Draws `make simulate`'s results from what it wrote to target/simulate/:

- bench/simulation.png: the 1,000,000-object deploy at today's pace over time (queue depth,
  wildcards and paths in progress at CloudFront, keys still stale);
- bench/freshness.png: the frontier a user chooses on, p95 freshness and billed paths against
  the batching window, for the trickle (1 object/s for an hour) and the 1,000,000-object deploy.
"""
import csv
import json
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "simulate"
summary = json.loads((OUT / "summary.json").read_text())


def file_name(name):
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in name)


million = next(s for s in summary["scenarios"] if s["objects"] == 1_000_000 and s["pace"] == "today")
rows = list(csv.DictReader(open(OUT / f"{file_name(million['name'])}.csv")))
minutes = [float(r["at_s"]) / 60 for r in rows]
panels = [
    ("queue_depth", "messages in the buffer queue", None),
    ("wildcards_in_progress", "wildcard paths in progress", 15),
    ("paths_in_progress", "paths in progress", 3000),
    ("keys_stale", "keys uploaded but not yet fresh", None),
]
fig, axes = plt.subplots(len(panels), 1, figsize=(9, 9), sharex=True)
for ax, (column, title, limit) in zip(axes, panels):
    ax.plot(minutes, [float(r[column]) for r in rows], linewidth=1.4)
    if limit:
        ax.axhline(limit, color="tab:red", linestyle="--", linewidth=1, label=f"CloudFront limit ({limit})")
        ax.legend(loc="upper right")
    ax.axvline(10, color="grey", linestyle=":", linewidth=1)
    ax.set_ylabel(title, fontsize=9)
    ax.grid(True, alpha=0.3)
axes[-1].set_xlabel("minutes since the first upload (uploads end at 10)")
fig.suptitle(
    f"1,000,000-object deploy, Queued mode, window {million['window_s']} s, CloudFront in effect in "
    f"{million['effect_s'][0]:.0f}-{million['effect_s'][1]:.0f} s, completed in "
    f"{million['completion_s'][0]:.0f}-{million['completion_s'][1]:.0f} s"
)
fig.tight_layout()
fig.savefig(OUT / "deploy.png", dpi=100)
shutil.copy(OUT / "deploy.png", ROOT / "bench" / "simulation.png")

# The frontier: one panel per scenario, the window on the x axis.
groups = {}
for s in summary["frontier"]:
    groups.setdefault(s["name"].split(" (")[0], []).append(s)
fig, axes = plt.subplots(len(groups), 1, figsize=(8, 3.6 * len(groups)))
for ax, (name, runs) in zip(axes, groups.items()):
    runs.sort(key=lambda s: s["window_s"])
    windows = [s["window_s"] for s in runs]
    fresh = ax.plot(windows, [s["fresh_p95_s"] for s in runs], "o-", color="tab:blue", label="p95 fresh after upload (s)")
    ax.set_xscale("log")
    ax.set_xticks(windows)
    ax.set_xticklabels([str(w) for w in windows])
    ax.set_ylabel("p95 seconds to fresh", color="tab:blue")
    ax.set_ylim(bottom=0)
    billed_ax = ax.twinx()
    billed = billed_ax.plot(windows, [s["billed_paths"] for s in runs], "s--", color="tab:orange", label="billed paths")
    billed_ax.set_ylabel("billed paths", color="tab:orange")
    billed_ax.set_ylim(bottom=0)
    ax.set_title(f"{name}, today's pace", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(handles=fresh + billed, loc="upper center", fontsize=8)
axes[-1].set_xlabel("BatchingWindowSeconds")
fig.tight_layout()
fig.savefig(OUT / "freshness.png", dpi=100)
shutil.copy(OUT / "freshness.png", ROOT / "bench" / "freshness.png")
print(f"wrote bench/simulation.png and bench/freshness.png (from {OUT})", file=sys.stderr)
