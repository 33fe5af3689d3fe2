"""Plain-text summary of one run record (what `t4rec-bench run` prints at the end)."""

from __future__ import annotations

from harness.config import STAGE_ORDER
from harness.documents import record
from harness.documents.record_types import RunRecord
from harness.output.formatters import value as fmt  # one value formatter for every output


def summary_table(rec: RunRecord) -> str:
    ms = record.by_name(rec)
    lines = [f"run {rec['run_id']}  profile={rec['profile']}  status={rec['status']}  repeat={rec['repeat']}"
             + (f"  etl_backend={rec['etl_backend']}" if rec.get("etl_backend") else "")]
    f = rec.get("failure")
    if f:
        lines.append(f"FAILED in stage {f['stage']} ({f['kind']}): {f['message']}")
    lines.append(f"{'stage':<11}{'wall':>11}{'cpu':>11}{'peak RSS':>12}{'peak anon':>12}  throughput")
    for stage in STAGE_ORDER:
        if f"{stage}.wall_s" not in ms:
            continue
        rate = next((m for n, m in ms.items() if n.startswith(f"{stage}.") and m["kind"] == "throughput"), None)
        rss, anon = ms.get(f"{stage}.peak_rss_bytes"), ms.get(f"{stage}.peak_anon_bytes")
        lines.append(f"{stage:<11}{fmt(ms[f'{stage}.wall_s']['value'], 's'):>11}"
                     f"{fmt(ms[f'{stage}.cpu_s']['value'], 's'):>11}"
                     f"{fmt(rss['value'], 'bytes') if rss else '-':>12}"
                     f"{fmt(anon['value'], 'bytes') if anon else '-':>12}  "
                     f"{fmt(rate['value'], rate['unit']) if rate else ''}")
    if rec["days"]:
        metrics = "".join(f"{k:>14}" for k in rec["days"][0]["metrics"])
        lines.append(f"{'eval day':<9}{'sessions':>9}{'loss':>8}" + metrics)
        for d in rec["days"]:
            lines.append(f"{d['eval_day']:<9}{d['eval_sessions']:>9}{d['train_loss']:>8.3f}"
                         + "".join(f"{v:>14.4f}" for v in d["metrics"].values()))
    fp = rec.get("fingerprints", {})
    if fp:
        lines.append("fingerprints: " + "  ".join(f"{k}={v}" for k, v in fp.items()))
    return "\n".join(lines)
