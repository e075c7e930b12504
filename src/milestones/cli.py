"""The `milestones` command: list, train, evaluate, reproduce, report, explain, download, demo, and
the commands the families add.

    milestones list [PATTERN]
    milestones train NAME [--key value …] [--run-dir DIR] | milestones train --resume RUN_DIR
    milestones evaluate RUN_DIR
    milestones reproduce NAME|GROUP [--seeds N] [--jobs J] [--executor auto|local|ray] [--address ADDR]
                                    [--budget quick|full] [--key value …]
    milestones report [RUN_DIR …] [--results-dir results] [--out report] [--readme README.md]
    milestones explain RUN_DIR [--key value …]
    milestones download DATASET [--url MIRROR]
    milestones demo

`--key value` pairs set fields of the experiment's config; `milestones train NAME --help` lists
them with their help, default and valid range. This is the only module that reads the command line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from milestones import config as cfg_mod
from milestones import data, registry
from milestones import report as report_mod
from milestones import results as results_mod
from milestones.checkpoint import CheckpointError
from milestones.config import ConfigError
from milestones.data import DataMissingError, DownloadError
from milestones.family import Demo, Experiment, Family, Parts
from milestones.parallel import EXECUTORS, choose_executor, run_seeds, train_one
from milestones.records import RecordError, ResultRecord, SeedEntry, read_result
from milestones.registry import FamilyError, catalog, select
from milestones.runs import Run, RunStopped, TrainingDiverged, matching_run, new_run_dir, runs_dir, write_config

__all__ = ["main", "train_one"]


class UsageError(Exception):
    """A bad command line; the message says what was wrong and what was expected."""


def build_parser(families: tuple[Family, ...]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="milestones", description="Landmark deep-learning models, "
                                "tested against references and reproduced with one command.",
                                allow_abbrev=False)
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for parser, default in ((p, None), (common, argparse.SUPPRESS)):
        # accepted before or after the command; the subcommand's copy must not reset the former
        parser.add_argument("--data-dir", default=default, help="folder holding the data sets "
                            "(default: $MILESTONES_DATA, else ~/.cache/milestones/data)")
        parser.add_argument("--runs-dir", default=default,
                            help="where runs are written (default: $MILESTONES_RUNS, else ./runs)")
        parser.add_argument("--no-progress", action="store_true",
                            default=False if default is None else default, help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add = sub.add_parser
    sub.add_parser = lambda *a, **kw: _add(*a, parents=[common], **kw)  # type: ignore[method-assign]
    datasets = ", ".join(d.name for f in families for d in f.datasets)

    s = sub.add_parser("list", help="experiments with the paper's reference numbers", allow_abbrev=False)
    s.add_argument("pattern", nargs="?", default="", help="show only names starting with this")

    s = sub.add_parser("train", help="train one experiment (NAME --help lists its options)",
                       usage="milestones train NAME [--key value …] [--run-dir DIR] | "
                       "milestones train --resume RUN_DIR [--key value …]",
                       add_help=False, allow_abbrev=False)
    s.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run from its last checkpoint")
    s.add_argument("--run-dir", help="directory of the new run (default: RUNS_DIR/NAME/TIME-sSEED)")
    s.add_argument("-h", "--help", action="store_true", help="show the experiment's options")

    s = sub.add_parser("download", help="fetch a data set from its official source into the data folder "
                       "(--data-dir, else $MILESTONES_DATA), checking each file's MD5", allow_abbrev=False)
    s.add_argument("dataset", help="one of: " + datasets)
    s.add_argument("--url", help="fetch from this base URL instead of the official one (a mirror)")

    s = sub.add_parser("data", help="data sets: `milestones data download NAME` (same as `download`)",
                       allow_abbrev=False)
    s.add_argument("action", choices=("download",), help="what to do")
    s.add_argument("dataset", help="one of: " + datasets)
    s.add_argument("--url", help="fetch from this URL instead of the official one (a mirror; for an "
                   "archive, the archive's own URL)")

    s = sub.add_parser("evaluate", help="evaluate a run's last checkpoint on its test set", allow_abbrev=False)
    s.add_argument("run_dir", help="a run directory")

    s = sub.add_parser("reproduce", help="train an experiment (or a group) over seeds and write "
                       "its result beside the paper's", usage="milestones reproduce NAME|GROUP "
                       "[--seeds N] [--jobs J] [--executor auto|local|ray] [--address ADDR] "
                       "[--budget quick|full] [--key value …]",
                       add_help=False, allow_abbrev=False)
    s.add_argument("--seeds", type=int, default=1, help="number of seeds (0, 1, …; default 1)")
    s.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    s.add_argument("--budget", choices=("quick", "full"), default="full",
                   help="quick: minutes, to check the pipeline; full: the recipe (default)")
    s.add_argument("--jobs", type=int, default=1, help="seeds trained at once, each in its own process "
                   "(default 1: one after another, in this process)")
    s.add_argument("--threads", type=int, help="threads per seed (default: this machine's cores shared "
                   "between the --jobs seeds)")
    s.add_argument("--executor", choices=EXECUTORS, default="auto", help="where seeds run side by side: "
                   "local processes, or Ray tasks (pip install 'milestones[cluster]'); auto: Ray if installed")
    s.add_argument("--address", help="an existing Ray cluster (e.g. ray://head:10001 or auto); default: a "
                   "local Ray started for this command. Run directories must be on storage the nodes share")
    s.add_argument("--results-dir", help="where the result JSON goes (default: results/ for full, "
                   "RUNS_DIR/quick-results for quick)")
    s.add_argument("--reuse", action="store_true", help="reuse this experiment's runs in RUNS_DIR with the "
                   "same config and seed: a finished run's result is taken as it is, a stopped run continues "
                   "from its last checkpoint (e.g. after a stopped reproduction)")
    s.add_argument("--keep", action="store_true", help="keep the seeds the record in the results folder "
                   "already holds where it was made with the same config, and train only the others; each "
                   "seed of the new record says which machine, commit and command produced it (seeds "
                   "gathered over several sessions or machines)")
    s.add_argument("-h", "--help", action="store_true", help="show the experiment's options")

    s = sub.add_parser("report", help="HTML page and Markdown table of results and runs", allow_abbrev=False)
    s.add_argument("run_dirs", nargs="*", help="run directories to include (besides --results-dir)")
    s.add_argument("--results-dir", default="results", help="committed results to include (default results/)")
    s.add_argument("--out", default="report", help="output folder (default report/)")
    s.add_argument("--readme", metavar="FILE", help="also rewrite the results tables in FILE "
                   "(committed results only)")

    s = sub.add_parser("explain", help="figures of what a trained model does inside (where its experiment draws them)",
                       usage="milestones explain RUN_DIR [--key value …] (e.g. --length 50 --seed 3)",
                       allow_abbrev=False)
    s.add_argument("run_dir", help="a run directory")

    s = sub.add_parser("demo", help="train each family's demo (fixed work: steps or sequences, a few minutes "
                       "on a laptop), then build the report", allow_abbrev=False)
    s.add_argument("--record", default="report/demo.json",
                   help="where to write the demo's record: each model's numbers and time, the machine and commit "
                   "(the README quotes benchmarks/demo.cpu.json; default: %(default)s)")

    for family in families:
        for command in family.commands:
            command.arguments(sub.add_parser(command.name, help=command.help, allow_abbrev=False))
    return p


def experiment_help(parser: argparse.ArgumentParser, command: str, exp: Experiment | None) -> str:
    actions: Any = parser._subparsers._group_actions  # type: ignore[union-attr]  # noqa: SLF001
    text: str = actions[0].choices[command].format_help()
    if exp is not None:
        text += (f"\n{exp.name}: {exp.summary}\n{exp.citation}\n\n"
                 f"options of {exp.name} (--key value):\n{cfg_mod.describe(exp.config)}\n")
    return text


def cmd_list(args: argparse.Namespace) -> None:
    shown = [exp for exp in catalog().values() if exp.name.startswith(args.pattern)]
    w = max((len(exp.name) for exp in shown), default=0) + 1  # the longest name sets the column
    for exp in shown:
        refs = "; ".join(f"{r.metric} {report_mod.fmt(r.value)} ({r.note or r.source})"
                         + ("" if r.verified else " unverified") for r in exp.references)
        print(f"{exp.name:<{w}} {exp.summary}\n{'':<{w}} reference: {refs or '–'}\n"
              f"{'':<{w}} {exp.citation}")


def cmd_train(args: argparse.Namespace, extra: list[str]) -> None:
    if args.resume:
        name, saved = Run.read_config(args.resume)
        if args.name and args.name != name:
            raise UsageError(f"{args.resume} is a run of {name}, not {args.name}")
        exp = _get(name)
        config = cfg_mod.apply_overrides(cfg_mod.from_dict(type(exp.config), saved), extra)
        if config != cfg_mod.from_dict(type(exp.config), saved):
            write_config(args.resume, name, config)
        run = Run(args.resume, exp, config, progress=not args.no_progress)
        verb = "resuming" if run.checkpoint_path.exists() else "starting"  # reproduce --jobs starts runs so
        print(f"{name}: {verb} {run.dir}", file=sys.stderr)
        result = run.finish(exp.train(config, run))
    else:
        if not args.name:
            raise UsageError("train needs an experiment NAME (see `milestones list`) or --resume RUN_DIR")
        exp = _get(args.name)
        config = cfg_mod.apply_overrides(exp.config, extra)
        run_dir = Path(args.run_dir) if args.run_dir else new_run_dir(exp.name, config.seed, args.runs_dir,
                                                                          reserve=True)
        result, _ = train_one(exp, config, run_dir, not args.no_progress)
    print(json.dumps(result["metrics"], indent=1))


def cmd_download(args: argparse.Namespace) -> None:
    folder = data.download(args.dataset, args.data_dir, base_url=args.url)
    print(f"{args.dataset}: {folder}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    name, saved = Run.read_config(args.run_dir)
    exp = _get(name)
    config = cfg_mod.from_dict(type(exp.config), saved)
    run = Run(args.run_dir, exp, config, progress=False)
    metrics = exp.evaluate(config, run)
    (run.dir / "evaluation.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=1))


def cmd_reproduce(args: argparse.Namespace, extra: list[str]) -> list[Path]:
    if not args.name:
        raise UsageError("reproduce needs an experiment or group NAME (see `milestones list`)")
    for flag, value, low in (("--seeds", args.seeds, 1), ("--seed-start", args.seed_start, 0),
                             ("--jobs", args.jobs, 1), ("--threads", args.threads, 1)):
        if value is not None and value < low:
            raise UsageError(f"{flag}: expected an integer ≥ {low}, got {value}")
    try:
        executor = choose_executor(args.executor, args.jobs, args.address)
    except ValueError as e:
        raise UsageError(str(e)) from None
    experiments = select(args.name)
    # check every override against every experiment before training anything
    configs = {e.name: cfg_mod.apply_overrides(e.config_for(args.budget), extra) for e in experiments}
    words = args.argv  # the command line main() was given: a script calling main([...]) records its own words
    given = words[words.index("reproduce") + 1:] if "reproduce" in words else None
    command = ("milestones reproduce " + " ".join(shlex.quote(a) for a in given) if given is not None
               else f"milestones reproduce {args.name} --seeds {args.seeds}")
    out_dir = Path(args.results_dir) if args.results_dir else (
        Path("results") if args.budget == "full" else runs_dir(args.runs_dir) / "quick-results")
    written = []
    for exp in experiments:
        seeds = range(args.seed_start, args.seed_start + args.seeds)
        seed_configs = [dataclasses.replace(configs[exp.name], seed=s) for s in seeds]
        previous, kept, partial = _kept_seeds(exp, seed_configs, out_dir) if args.keep else (None, {}, {})
        to_train = runs_for = [c for c in seed_configs if c.seed not in kept]  # the record's configs
        missing: dict[int, tuple[int, ...]] = {}
        if partial and exp.parts:  # a seed the record holds some parts of trains only the others
            wanted = {c.seed: c for c in seed_configs}
            for seed, (_, have) in partial.items():
                missing[seed] = tuple(p for p in exp.parts.of(wanted[seed]) or () if p not in have)
                print(f"{exp.name}: seed {seed}: {exp.parts.name}s {', '.join(map(str, have))} kept from the "
                      f"record; training {exp.parts.name}s {', '.join(map(str, missing[seed]))}", file=sys.stderr)
            to_train = [exp.parts.only(c, missing[c.seed]) if c.seed in missing else c for c in to_train]
        pieces = {seed: (entry, have) for seed, (entry, have) in partial.items()}
        reused = False
        if args.reuse and exp.parts:  # finished runs over single parts complete a seed's other parts
            gathered, to_train = _reused_parts(exp.name, exp.parts, to_train, args.runs_dir, command), list(to_train)
            for c in list(to_train):
                if c.seed not in gathered:
                    continue
                runs_of_parts, reused = gathered[c.seed], True
                for part, entry in runs_of_parts:
                    if c.seed in pieces:
                        old, have = pieces[c.seed]
                        pieces[c.seed] = (results_mod.joined(old, have, entry, (part,), exp.parts), have + (part,))
                    else:
                        pieces[c.seed] = (entry, (part,))
                left = tuple(p for p in exp.parts.of(c) or () if p not in pieces[c.seed][1])
                print(f"{exp.name}: seed {c.seed}: {exp.parts.name}s {', '.join(str(p) for p, _ in runs_of_parts)} "
                      f"from finished runs in {runs_dir(args.runs_dir)}" + (
                          f"; training {exp.parts.name}s {', '.join(map(str, left))}" if left else ""), file=sys.stderr)
                to_train.remove(c)
                if left:
                    missing[c.seed] = left
                    to_train.append(exp.parts.only(c, left))
                else:
                    kept[c.seed] = pieces.pop(c.seed)[0]
            to_train.sort(key=lambda c: c.seed)
        runs = run_seeds(exp, to_train,
                         [(matching_run(exp.name, c, args.runs_dir) if args.reuse else None)
                          or new_run_dir(exp.name, c.seed, args.runs_dir) for c in to_train], jobs=args.jobs,
                         progress=not args.no_progress, executor=executor, threads=args.threads,
                         address=args.address) if to_train else []
        record = results_mod.from_experiment(exp, runs, family=registry.family_name_of(exp.name),
                                             budget=args.budget, command=command, kept=kept.values(),
                                             previous=previous,
                                             partial={seed: (entry, have, missing[seed])
                                                      for seed, (entry, have) in pieces.items()},
                                             config=_saved(runs_for[0]) if partial or reused else None)
        path = results_mod.write(record, out_dir)
        row = report_mod.row(record)
        print(f"{exp.name}: ours {row['ours']} vs reference {row['reference']} "
              f"(solved {row['solved']}) -> {path}", file=sys.stderr)
        written.append(path)
    return written


def _reused_parts(name: str, parts_of: Parts, configs: list[Any], root: str | None,
                  command: str) -> dict[int, list[tuple[int, SeedEntry]]]:
    """reproduce --reuse for an experiment whose runs divide into parts: per seed that no run (finished
    or stopped) covers whole, the finished runs in RUNS_DIR over one of its parts each, as (part, its seed
    entry with provenance), in the seed's part order."""
    found: dict[int, list[tuple[int, SeedEntry]]] = {}
    for config in configs:
        parts = parts_of.of(config) or ()
        if len(parts) < 2 or matching_run(name, config, root) is not None:  # a whole run is continued
            continue
        for part in parts:
            run_dir = matching_run(name, parts_of.only(config, (part,)), root)
            if run_dir is None or not (run_dir / "result.json").exists():
                continue
            result = json.loads((run_dir / "result.json").read_text())
            entry = results_mod.with_provenance(results_mod.seed_entry(result, run_dir), result, command,
                                                result.get("finished", ""))
            found.setdefault(config.seed, []).append((part, entry))
    return found


def _saved(config: Any) -> dict[str, Any]:
    """A config as a record saves it (JSON types)."""
    return json.loads(json.dumps(cfg_mod.to_dict(config)))


def _kept_seeds(exp: Experiment, configs: list[Any], out_dir: Path) -> tuple[
        ResultRecord | None, dict[int, SeedEntry], dict[int, tuple[SeedEntry, tuple[int, ...]]]]:
    """reproduce --keep: the record already in the results folder, the seeds of it to keep, and
    (for an experiment whose runs divide into parts) the seeds it holds some of the parts of."""
    path = out_dir / results_mod.file_name(exp.name)
    if not path.exists():
        print(f"{exp.name}: no record at {path} to keep seeds from; training every seed", file=sys.stderr)
        return None, {}, {}
    previous = read_result(path, registry.family_name_of)
    try:
        kept = results_mod.keepable_seeds(previous, [_saved(c) for c in configs],
                                          lambda saved: cfg_mod.as_saved(type(configs[0]), saved))
        partial = results_mod.keepable_parts(
            previous, [c for c in configs if c.seed not in kept], exp.parts,
            lambda saved: cfg_mod.from_dict(type(configs[0]), cfg_mod.as_saved(type(configs[0]), saved))
        ) if exp.parts else {}
    except ConfigError as e:
        raise UsageError(f"--keep: the config of {path} is not one of {exp.name}'s: {e}") from None
    others = sorted({s["seed"] for s in previous["seeds"]} & {c.seed for c in configs} - set(kept) - set(partial))
    whole = (f"seeds {', '.join(map(str, kept))} kept from {path}" if kept
             else f"no seed kept {'whole ' if partial else ''}from {path}")
    print(f"{exp.name}: {whole}" + (f"; seeds {', '.join(map(str, others))} there were trained with another "
                                    "config, trained again" if others else ""), file=sys.stderr)
    return previous, kept, partial


def cmd_report(args: argparse.Namespace) -> Path:
    families = registry.families()
    records = results_mod.load_all(args.results_dir, registry.family_name_of)
    if getattr(args, "readme", None):
        report_mod.update_readme(args.readme, records, order=list(catalog()), families=families)
        report_mod.readme_figures(records, Path(args.results_dir) / "figures", families)
    missing = [d for d in args.run_dirs if not (Path(d) / "result.json").exists()]
    if missing:
        raise UsageError(f"not finished runs (no result.json): {', '.join(missing)}")
    committed = {r["experiment"] for r in records}
    fresh = results_mod.from_runs(args.run_dirs, registry.family_name_of)
    for rec in fresh:
        if rec["experiment"] in committed:  # show fresh runs beside, not instead of, committed ones
            rec["experiment"] += " (this run)"
    index, md = report_mod.build(records + fresh, args.out, families, fresh=fresh)
    print(f"report: {index.resolve()}\nmarkdown: {md.resolve()}")
    return index


def cmd_explain(args: argparse.Namespace, extra: list[str]) -> None:
    options = {}
    for i in range(0, len(extra), 2):
        if not extra[i].startswith("--") or i + 1 >= len(extra):
            raise UsageError(f"expected --key value pairs after the run directory, got {' '.join(extra)}")
        options[extra[i][2:].replace("-", "_")] = extra[i + 1]
    name, saved = Run.read_config(args.run_dir)
    exp = _get(name)
    if exp.explain is None:
        raise UsageError(f"{name} has no explain figures")
    config = cfg_mod.from_dict(type(exp.config), saved)
    for path in exp.explain(config, Run(args.run_dir, exp, config, progress=False), options):
        print(path)


def _demo_run(args: argparse.Namespace, demo: Demo) -> tuple[dict, Path]:
    """Train a family's demo into a fresh `NAME-demo` run directory."""
    exp = _get(demo.experiment)
    config = dataclasses.replace(exp.config, **demo.overrides)
    print(f"demo: training {exp.summary} {demo.what} (the full recipe is `milestones reproduce {exp.name}`)",
          file=sys.stderr)
    return train_one(exp, config, new_run_dir(exp.name + "-demo", config.seed, args.runs_dir, reserve=True),
                     not args.no_progress)


def cmd_demo(args: argparse.Namespace) -> None:
    """Each family's demo, then the report. The demos are fixed work (steps, sequences), never wall-time
    caps, so their numbers do not depend on the machine's speed or load; only the times do."""
    import torch

    from milestones.records import save_benchmark
    run_dirs, rows, start = [], [], time.perf_counter()
    for family in registry.families():
        for demo in family.demos:
            result, run_dir = _demo_run(args, demo)
            print(demo.describe(result, run_dir))
            run_dirs.append(str(run_dir))
            rows.append({"experiment": demo.experiment, "overrides": dict(demo.overrides),
                         "metrics": result["metrics"], "wall_time_s": round(result["wall_time_s"], 1)})
    total = time.perf_counter() - start
    print(f"demo: {len(rows)} models trained in {total / 60:.1f} minutes", file=sys.stderr)
    save_benchmark(args.record, "demo", device="cpu", settings={"threads": torch.get_num_threads()},
                   results={"rows": rows, "total_s": round(total, 1)})
    args.run_dirs, args.results_dir, args.out = run_dirs, "results", "report"
    index = cmd_report(args)
    print(f"open {index.resolve().as_uri()} in a browser")


def _get(name: str) -> Experiment:
    experiments = catalog()
    if name not in experiments:
        group = select(name)  # raises with suggestions if nothing matches
        raise UsageError(f"{name} is a group of {len(group)} experiments; train needs one of: "
                         + ", ".join(e.name for e in group))
    return experiments[name]


CORE_ERRORS: tuple[type[Exception], ...] = (
    UsageError, ConfigError, KeyError, CheckpointError, DataMissingError, DownloadError, FileNotFoundError,
    FileExistsError, RecordError, FamilyError)


def main(argv: list[str] | None = None) -> int:
    try:
        families = registry.families()
    except FamilyError as e:
        print(f"milestones: error: {e}", file=sys.stderr)
        return 2
    parser = build_parser(families)
    args, extra = parser.parse_known_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.command in ("train", "reproduce"):
        # NAME is the first word after the command; the rest are the config's --key value pairs
        # (declaring NAME to argparse would let it swallow the value of an unknown --key)
        args.name = extra.pop(0) if extra and not extra[0].startswith("-") else None
    if args.data_dir:
        os.environ["MILESTONES_DATA"] = args.data_dir  # read by milestones.data.data_dir
    bad_input = CORE_ERRORS + tuple(e for f in families for e in f.errors)
    commands: dict[str, Callable[[argparse.Namespace], object]] = {
        "list": cmd_list, "evaluate": cmd_evaluate, "report": cmd_report, "demo": cmd_demo,
        "download": cmd_download, "data": cmd_download}
    commands |= {c.name: c.run for f in families for c in f.commands}
    try:
        if args.command in ("train", "reproduce"):
            if args.help:
                exp = select(args.name)[0] if args.name else None
                print(experiment_help(parser, args.command, exp))
                return 0
            if args.command == "train":
                cmd_train(args, extra)
            else:
                cmd_reproduce(args, extra)
            return 0
        if args.command == "explain":
            cmd_explain(args, extra)
            return 0
        if extra:
            raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
        status = commands[args.command](args)
        return status if isinstance(status, int) else 0
    except RunStopped as e:
        print(str(e), file=sys.stderr)
        return 130
    except TrainingDiverged as e:
        print(f"milestones: training diverged: {e}", file=sys.stderr)
        return 1
    except bad_input as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"milestones: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
