"""The DQN family's report: each game's return beside the paper's DQN, the human tester's and random
play's, the human-normalized score with its table named; each game drawn with those lines."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from milestones.families.dqn.experiments import game_of
from milestones.families.dqn.figures import returns_figure
from milestones.family import Section, slug
from milestones.records import ResultRecord
from milestones.report import fmt, fmt_time, markdown_to_html
from milestones.rl.evaluation import NATURE_TABLE, NATURE_TABLE_NAME

Record = ResultRecord


def _stat(record: Record, key: str) -> str:
    s = record["summary_stats"].get(key)
    if not s:
        return "–"
    return f"{fmt(s['mean'])} ± {fmt(s['std'])}" if s["n"] > 1 else fmt(s["mean"])


def games_table(records: list[Record], order: Sequence[str] = ()) -> str:
    """Markdown: one row per game: our final return (30 episodes, mean ± std over seeds), the mean of
    the last five evaluations during training, the paper's DQN, and for Atari the human and random
    scores with our human-normalized score (Nature's Extended Data Table 2)."""
    rank = {name: k for k, name in enumerate(order)}
    recs = sorted((r for r in records if r["experiment"].startswith("dqn/")),
                  key=lambda r: (rank.get(r["experiment"], len(rank)), r["experiment"]))
    if not recs:
        return "_no DQN results yet_\n"
    head = ["experiment", "return (final, 30 episodes)", "last 5 evaluations", "paper's DQN (CartPole: solved)",
            "human", "random", f"human-normalized ({NATURE_TABLE_NAME})", "agent steps trained", "seeds",
            "wall time per seed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in recs:
        game = game_of((r.get("config") or {}).get("env", ""))
        ref = next((x for x in r["references"] if x["metric"] == r["metric"]), None)
        random, human = (NATURE_TABLE[game][:2] if r["experiment"].startswith("dqn/atari") and game in NATURE_TABLE
                         else (None, None))
        steps = (r.get("config") or {}).get("steps")
        trained = r["summary_stats"].get("steps_trained")  # runs that end when solved stop early
        stops_early = bool((r.get("config") or {}).get("solved_at"))
        steps_text = (f"{trained['mean']:,.0f} (at most {steps:,})" if trained and steps and stops_early
                      else f"{trained['mean']:,.0f}" if trained else f"{steps:,}" if steps else "–")
        lines.append(f"| {r['experiment']} | {_stat(r, 'return')} | {_stat(r, 'return_last5_evals')} | "
                     f"{fmt(ref['value']) if ref else '–'} | {fmt(human)} | {fmt(random)} | "
                     f"{_stat(r, 'human_normalized') if human is not None else '–'} | "
                     f"{steps_text} | {len(r['seeds'])} | "
                     f"{fmt_time(r['wall_time_s'] / len(r['seeds']))} |")
    return "\n".join(lines) + "\n"


def group_figure(group: str, records: list[Record], out: Path) -> tuple[Path, str] | None:
    """A game's evaluation returns over training, with the paper's DQN, the human tester and random
    play as lines (Atari: Nature's table; MinAtar: its paper's DQN)."""
    rec = records[0]
    if not rec["experiment"].startswith("dqn/"):
        return None
    game = game_of((rec.get("config") or {}).get("env", ""))
    lines = {}
    ref = next((x for x in rec["references"] if x["metric"] == rec["metric"]), None)
    if ref:
        lines["paper's DQN" if "cartpole" not in group else "solved"] = ref["value"]
    if rec["experiment"].startswith("dqn/atari") and game in NATURE_TABLE:
        lines["human"], lines["random"] = NATURE_TABLE[game][1], NATURE_TABLE[game][0]
    curves = {f"{r['experiment']} s{s['seed']}": [(p[0], p[1]) for p in s["curve"]]
              for r in records for s in r["seeds"]}
    path = returns_figure(curves, out / "plots" / (slug(group) + ".png"), title=group, lines=lines)
    return path, "evaluation return over training, every seed, beside the paper's, the human's and random play"


def sections(records: list[Record], out: Path) -> list[Section]:
    table = games_table(records)
    if not table.startswith("|"):
        return []
    return [Section("Returns beside the papers' DQN and the human tester",
                    f"<p>Final return: the Nature protocol (30 episodes, ε = 0.05, whole games, at most 5 minutes, up "
                    f"to 30 no-ops on Atari). Human-normalized: 100 × (ours − random) / (human − random) with "
                    f"{NATURE_TABLE_NAME}; DQN Zoo and the papers after it use other human scores.</p>"
                    + markdown_to_html(table), table)]
