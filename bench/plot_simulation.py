"""Draws the 1,000,000-object deploy of `make simulate` over time, from the timeline it wrote
to target/simulate/: queue depth, wildcards and paths in progress at CloudFront, and keys
still stale. Writes target/simulate/deploy.png and bench/simulation.png (shown in the README)."""
import csv
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "simulate"
rows = list(csv.DictReader(open(OUT / "1-000-000-object-deploy.csv")))
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
fig.suptitle("1,000,000-object deploy, Queued mode, CloudFront completing in 60-300 s")
fig.tight_layout()
fig.savefig(OUT / "deploy.png", dpi=100)
shutil.copy(OUT / "deploy.png", ROOT / "bench" / "simulation.png")
print(f"wrote {OUT / 'deploy.png'} and bench/simulation.png", file=sys.stderr)
