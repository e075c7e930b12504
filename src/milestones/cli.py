"""The `milestones` command: list, train, evaluate, reproduce, report, demo.

    milestones list [PATTERN]
    milestones train NAME [--key value …] [--run-dir DIR] | milestones train --resume RUN_DIR
    milestones evaluate RUN_DIR
    milestones reproduce NAME|GROUP [--seeds N] [--jobs J] [--budget quick|full] [--key value …]
    milestones report [RUN_DIR …] [--results-dir results] [--out report]
    milestones explain RUN_DIR [--key value …]
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
import signal
import sys
import time
from pathlib import Path

from milestones import config as cfg_mod
from milestones import report as report_mod
from milestones import results as results_mod
from milestones.checkpoint import CheckpointError
from milestones.config import ConfigError
from milestones.memory.babi import BabiFormatError
from milestones.data import DATASETS, DataMissingError, DownloadError, download
from milestones.registry import Experiment, catalog, select
from milestones.runs import Run, RunStopped, TrainingDiverged, new_run_dir, runs_dir

DEMO_EXPERIMENT = "rnn/adding-t100/lstm"
DEMO_OVERRIDES = {"steps": 2000, "eval_every": 50, "test_size": 500}
DEMO_NTM_EXPERIMENT = "ntm/copy"
DEMO_NTM_OVERRIDES = {"sequences": 40_000, "minutes": 2.0, "compile": False}
DEMO_GAN_EXPERIMENT = "gan/ring-conopt"
DEMO_GAN_OVERRIDES = {"steps": 10_000, "eval_every": 250}


class UsageError(Exception):
    """A bad command line; the message says what was wrong and what was expected."""


def build_parser() -> argparse.ArgumentParser:
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
    s.add_argument("dataset", help="one of: " + ", ".join(DATASETS))
    s.add_argument("--url", help="fetch from this base URL instead of the official one (a mirror)")

    s = sub.add_parser("data", help="data sets: `milestones data download NAME` (same as `download`)",
                       allow_abbrev=False)
    s.add_argument("action", choices=("download",), help="what to do")
    s.add_argument("dataset", help="one of: " + ", ".join(DATASETS))
    s.add_argument("--url", help="fetch from this URL instead of the official one (a mirror; for bAbI "
                   "the archive's own URL)")

    s = sub.add_parser("evaluate", help="evaluate a run's last checkpoint on its test set", allow_abbrev=False)
    s.add_argument("run_dir", help="a run directory")

    s = sub.add_parser("reproduce", help="train an experiment (or a group) over seeds and write "
                       "its result beside the paper's", usage="milestones reproduce NAME|GROUP "
                       "[--seeds N] [--jobs J] [--budget quick|full] [--key value …]",
                       add_help=False, allow_abbrev=False)
    s.add_argument("--seeds", type=int, default=1, help="number of seeds (0, 1, …; default 1)")
    s.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    s.add_argument("--budget", choices=("quick", "full"), default="full",
                   help="quick: minutes, to check the pipeline; full: the recipe (default)")
    s.add_argument("--jobs", type=int, default=1, help="seeds trained at once, in separate processes "
                   "that share the CPU cores between them (default 1)")
    s.add_argument("--results-dir", help="where the result JSON goes (default: results/ for full, "
                   "RUNS_DIR/quick-results for quick)")
    s.add_argument("-h", "--help", action="store_true", help="show the experiment's options")

    s = sub.add_parser("report", help="HTML page and Markdown table of results and runs", allow_abbrev=False)
    s.add_argument("run_dirs", nargs="*", help="run directories to include (besides --results-dir)")
    s.add_argument("--results-dir", default="results", help="committed results to include (default results/)")
    s.add_argument("--out", default="report", help="output folder (default report/)")
    s.add_argument("--readme", metavar="FILE", help="also rewrite the results table in FILE "
                   "(committed results only)")

    s = sub.add_parser("explain", help="figures of what a trained model does inside (e.g. NTM heads)",
                       usage="milestones explain RUN_DIR [--key value …] (e.g. --length 50 --seed 3)",
                       allow_abbrev=False)
    s.add_argument("run_dir", help="a run directory")

    sub.add_parser("demo", help="train a small LSTM (adding problem) and an NTM (copy), build the report",
                   allow_abbrev=False)
    return p


def experiment_help(parser: argparse.ArgumentParser, command: str, exp: Experiment | None) -> str:
    text = parser._subparsers._group_actions[0].choices[command].format_help()  # noqa: SLF001
    if exp is not None:
        text += (f"\n{exp.name}: {exp.summary}\n{exp.citation}\n\n"
                 f"options of {exp.name} (--key value):\n{cfg_mod.describe(exp.config)}\n")
    return text


def cmd_list(args: argparse.Namespace) -> None:
    for exp in catalog().values():
        if not exp.name.startswith(args.pattern):
            continue
        refs = "; ".join(f"{r.metric} {report_mod.fmt(r.value)} ({r.note or r.source})"
                         + ("" if r.verified else " unverified") for r in exp.references)
        print(f"{exp.name:<34} {exp.summary}\n{'':<34} reference: {refs or '–'}\n"
              f"{'':<34} {exp.citation}")


def train_one(exp: Experiment, config, run_dir: Path, progress: bool,
              record_divergence: bool = False) -> tuple[dict, Path]:
    """Train one run to its result. With `record_divergence` (reproduce), a run that diverges is
    a failed seed, not the end of the job: its best checkpoint is evaluated and marked diverged."""
    run = Run.create(run_dir, exp, config, progress=progress)
    print(f"{exp.name}: run directory {run.dir}", file=sys.stderr)
    try:
        metrics = exp.train(config, run)
    except TrainingDiverged as e:
        if not record_divergence:
            raise
        print(f"{exp.name} seed {config.seed}: training diverged: {e}", file=sys.stderr)
        return _diverged(exp, config, run), run.dir
    return run.finish(metrics), run.dir


def _diverged(exp: Experiment, config, run: Run) -> dict:
    """A diverged seed's result: its best checkpoint evaluated, marked diverged (a failed seed)."""
    print(f"{exp.name} seed {config.seed}: counted as a failed seed", file=sys.stderr)
    return run.finish({**exp.evaluate(config, run), "diverged": 1.0})


def train_seeds(exp: Experiment, configs: list, run_dirs: list[Path], jobs: int,
                progress: bool) -> list[tuple[dict, Path]]:
    """Every seed's (result, run directory), in seed order. With `jobs` > 1 that many seeds train at
    once, each in a `milestones train --resume RUN_DIR` process (its config written first) with
    its share of the cores; a seed that diverges counts as failed. Ctrl-C or SIGTERM stops the
    running seeds at a checkpoint and starts no new one; a killed reproduce leaves its running
    seeds to finish on their own and starts nothing more."""
    if jobs == 1 or len(configs) == 1:
        return [train_one(exp, c, d, progress, record_divergence=True) for c, d in zip(configs, run_dirs)]
    import subprocess
    threads = max(1, (os.cpu_count() or 1) // jobs)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print(f"{exp.name}: {len(configs)} seeds, {jobs} at a time with {threads} thread(s) each", file=sys.stderr)
    todo, running, finished = list(zip(configs, run_dirs)), {}, {}

    def stop(signum, frame):
        raise RunStopped(f"reproduce was stopped: the running seeds save a checkpoint; resume each "
                         f"with `milestones train --resume RUN_DIR`")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while todo or running:
            while todo and len(running) < jobs:
                config, directory = todo.pop(0)
                directory.mkdir(parents=True, exist_ok=False)
                _write_config(directory, exp.name, config)
                print(f"{exp.name} seed {config.seed}: {directory}", file=sys.stderr)
                cmd = [sys.executable, "-m", "milestones", "--no-progress", "train", "--resume", str(directory)]
                running[subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)] = (config, directory)
            time.sleep(0.5)
            for proc in [p for p in running if p.poll() is not None]:
                config, directory = running.pop(proc)
                finished[config.seed] = _seed_result(exp, config, directory, proc.returncode)
    except BaseException:
        for proc in running:
            proc.send_signal(signal.SIGTERM)  # each saves a checkpoint and exits
        for proc in running:
            proc.wait()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    return [finished[c.seed] for c in configs]


def _seed_result(exp: Experiment, config, directory: Path, returncode: int) -> tuple[dict, Path]:
    """The result of a seed's `milestones train` process; a diverged one is evaluated at its best
    checkpoint and marked diverged, any other failure ends the reproduction."""
    path = directory / "result.json"
    if returncode == 0 and path.exists():
        print(f"{exp.name} seed {config.seed}: done", file=sys.stderr)
        return json.loads(path.read_text()), directory
    if returncode == 1:  # TrainingDiverged; `milestones train` has printed why
        run = Run(directory, exp, config, progress=False)
        run.elapsed_before = max((r["time_s"] for r in run.metrics()), default=0.0)  # the seed's time
        return _diverged(exp, config, run), directory
    raise RunStopped(f"{exp.name} seed {config.seed} ended with exit status {returncode}; see the messages "
                     f"above; resume it with `milestones train --resume {directory}`")


def cmd_train(args: argparse.Namespace, extra: list[str]) -> None:
    if args.resume:
        name, saved = Run.read_config(args.resume)
        if args.name and args.name != name:
            raise UsageError(f"{args.resume} is a run of {name}, not {args.name}")
        exp = _get(name)
        config = cfg_mod.apply_overrides(cfg_mod.from_dict(type(exp.config), saved), extra)
        if config != cfg_mod.from_dict(type(exp.config), saved):
            _write_config(Path(args.resume), name, config)
        run = Run(args.resume, exp, config, progress=not args.no_progress)
        verb = "resuming" if run.checkpoint_path.exists() else "starting"  # reproduce --jobs starts runs so
        print(f"{name}: {verb} {run.dir}", file=sys.stderr)
        result = run.finish(exp.train(config, run))
    else:
        if not args.name:
            raise UsageError("train needs an experiment NAME (see `milestones list`) or --resume RUN_DIR")
        exp = _get(args.name)
        config = cfg_mod.apply_overrides(exp.config, extra)
        run_dir = Path(args.run_dir) if args.run_dir else new_run_dir(exp.name, config.seed, args.runs_dir)
        result, _ = train_one(exp, config, run_dir, not args.no_progress)
    print(json.dumps(result["metrics"], indent=1))


def cmd_download(args: argparse.Namespace) -> None:
    folder = download(args.dataset, args.data_dir, base_url=args.url)
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
    if args.seeds < 1:
        raise UsageError(f"--seeds: expected an integer ≥ 1, got {args.seeds}")
    if args.seed_start < 0:
        raise UsageError(f"--seed-start: expected an integer ≥ 0, got {args.seed_start}")
    if args.jobs < 1:
        raise UsageError(f"--jobs: expected an integer ≥ 1, got {args.jobs}")
    experiments = select(args.name)
    # check every override against every experiment before training anything
    configs = {e.name: cfg_mod.apply_overrides(e.config_for(args.budget), extra) for e in experiments}
    command = "milestones reproduce " + " ".join(shlex.quote(a) for a in sys.argv[2:]) \
        if sys.argv[1:2] == ["reproduce"] else f"milestones reproduce {args.name} --seeds {args.seeds}"
    out_dir = Path(args.results_dir) if args.results_dir else (
        Path("results") if args.budget == "full" else runs_dir(args.runs_dir) / "quick-results")
    written = []
    for exp in experiments:
        seeds = range(args.seed_start, args.seed_start + args.seeds)
        runs = train_seeds(exp, [dataclasses.replace(configs[exp.name], seed=s) for s in seeds],
                           [new_run_dir(exp.name, s, args.runs_dir) for s in seeds], args.jobs,
                           not args.no_progress)
        record = results_mod.from_experiment(exp, runs, budget=args.budget, command=command)
        path = results_mod.write(record, out_dir)
        row = report_mod.row(record)
        print(f"{exp.name}: ours {row['ours']} vs reference {row['reference']} "
              f"(solved {row['solved']}) -> {path}", file=sys.stderr)
        written.append(path)
    return written


def cmd_report(args: argparse.Namespace) -> Path:
    records = results_mod.load_all(args.results_dir)
    if getattr(args, "readme", None):
        report_mod.update_readme(args.readme, records, order=list(catalog()))
        # the figures the README shows (learning curves, loss against length): RESULTS_DIR/figures/plots/GROUP.png
        for group, recs in report_mod.groups_of(records).items():
            report_mod.figure_of(group, recs, Path(args.results_dir) / "figures")
        from milestones.experiments.gan import numerics_figure_of  # drawn from the runs where they are here
        numerics_figure_of(records, Path(args.results_dir) / "figures" / "gan__numerics.png")
    missing = [d for d in args.run_dirs if not (Path(d) / "result.json").exists()]
    if missing:
        raise UsageError(f"not finished runs (no result.json): {', '.join(missing)}")
    committed = {r["experiment"] for r in records}
    for rec in results_mod.from_runs(args.run_dirs):
        if rec["experiment"] in committed:  # show fresh runs beside, not instead of, committed ones
            rec["experiment"] += " (this run)"
        records.append(rec)
    index, md = report_mod.build(records, args.out)
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


def _demo_run(args: argparse.Namespace, name: str, overrides: dict, what: str) -> tuple[dict, Path]:
    """Train experiment `name` with the demo's overrides into a fresh `NAME-demo` run directory."""
    exp = _get(name)
    config = dataclasses.replace(exp.config, **overrides)
    print(f"demo: training {exp.summary} {what} (the full recipe is `milestones reproduce {exp.name}`)",
          file=sys.stderr)
    return train_one(exp, config, new_run_dir(exp.name + "-demo", config.seed, args.runs_dir), not args.no_progress)


def cmd_demo(args: argparse.Namespace) -> None:
    result, run_dir = _demo_run(args, DEMO_EXPERIMENT, DEMO_OVERRIDES,
                                f"for {DEMO_OVERRIDES['steps']} steps on CPU-sized settings")
    m = result["metrics"]
    print(f"demo: test MSE {m['test_mse']:.3g} against the baseline {m['baseline']:.3g} "
          f"({'solved' if m['solved'] else 'not solved yet'}) in {result['wall_time_s']:.0f} s")
    ntm_result, ntm_dir = _demo_run(args, DEMO_NTM_EXPERIMENT, DEMO_NTM_OVERRIDES,
                                    f"on {DEMO_NTM_OVERRIDES['sequences']} sequences")
    m = ntm_result["metrics"]
    print(f"demo: NTM copy costs {m['test_bits']:.3g} bits per sequence ({m['test_bit_errors']:.3g} wrong "
          f"bits) on lengths 1-20 in {ntm_result['wall_time_s']:.0f} s; its heads: {ntm_dir / 'plots'}")
    gan_result, gan_dir = _demo_run(args, DEMO_GAN_EXPERIMENT, DEMO_GAN_OVERRIDES,
                                    f"for {DEMO_GAN_OVERRIDES['steps']} steps, half the recipe's")
    m = gan_result["metrics"]
    print(f"demo: consensus optimization found {m['modes']:.0f} of 8 modes with {m['hq_percent']:.1f} % "
          f"high-quality samples in {gan_result['wall_time_s']:.0f} s; its samples: {gan_dir / 'plots'}")
    args.run_dirs, args.results_dir, args.out = [str(run_dir), str(ntm_dir), str(gan_dir)], "results", "report"
    index = cmd_report(args)
    print(f"open {index.resolve().as_uri()} in a browser")


def _get(name: str) -> Experiment:
    experiments = catalog()
    if name not in experiments:
        group = select(name)  # raises with suggestions if nothing matches
        raise UsageError(f"{name} is a group of {len(group)} experiments; train needs one of: "
                         + ", ".join(e.name for e in group))
    return experiments[name]


def _write_config(directory: Path, name: str, config) -> None:
    (directory / "config.json").write_text(
        json.dumps({"experiment": name, "config": cfg_mod.to_dict(config)}, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in ("train", "reproduce"):
        # NAME is the first word after the command; the rest are the config's --key value pairs
        # (declaring NAME to argparse would let it swallow the value of an unknown --key)
        args.name = extra.pop(0) if extra and not extra[0].startswith("-") else None
    if args.data_dir:
        os.environ["MILESTONES_DATA"] = args.data_dir  # read by milestones.data.data_dir
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
        {"list": cmd_list, "evaluate": cmd_evaluate, "report": cmd_report, "demo": cmd_demo,
         "download": cmd_download, "data": cmd_download}[args.command](args)
        return 0
    except RunStopped as e:
        print(str(e), file=sys.stderr)
        return 130
    except TrainingDiverged as e:
        print(f"milestones: training diverged: {e}", file=sys.stderr)
        return 1
    except (UsageError, ConfigError, KeyError, CheckpointError, DataMissingError, DownloadError, BabiFormatError,
            FileNotFoundError,
            FileExistsError, results_mod.ResultsError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"milestones: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
