"""Families as plug-ins: a family defined only in the test suite (tests/toy_family.py) is listed,
trains, resumes after SIGKILL to the same result, appears in the report and adds a command, while
no core module names any family; the modules import without cycles."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from milestones import registry
from milestones.checkpoint import read_meta
from tests.killing import assert_same_run, kill_after_checkpoint
from tests.killing import milestones as _milestones

ROOT = Path(__file__).resolve().parents[1]
CORE = ["registry", "runs", "results", "report", "cli", "plots", "data", "checkpoint", "config", "family",
        "records", "state", "seeding", "machine", "parallel"]
WALK = ["train", "toy/walk", "--steps", "900", "--step-delay", "0.004", "--checkpoint-every", "40"]


@pytest.fixture
def toy_env(tmp_path):
    return dict(os.environ, MILESTONES_FAMILIES="tests.toy_family", PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
                MILESTONES_RUNS=str(tmp_path / "runs"))


def milestones(args, env):
    return _milestones(args, env, timeout=300)


def test_the_toy_family_is_listed_and_adds_a_command(toy_env):
    listed = milestones(["list", "toy/"], toy_env)
    assert listed.returncode == 0, listed.stderr
    assert "toy/walk" in listed.stdout and "an ε-greedy agent on a windy walk" in listed.stdout
    hello = milestones(["toy-hello", "--who", "tester"], toy_env)
    assert hello.returncode == 0 and hello.stdout.strip() == "hello from the toy family, tester"
    assert "toy-hello" in milestones(["--help"], toy_env).stdout
    without = dict(toy_env, MILESTONES_FAMILIES="")
    assert "toy/walk" not in milestones(["list"], without).stdout


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    env = dict(os.environ, MILESTONES_FAMILIES="tests.toy_family", PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    run_dir = tmp_path_factory.mktemp("clean") / "run"
    done = milestones([*WALK, "--step-delay", "0", "--run-dir", str(run_dir)], env)
    assert done.returncode == 0, done.stderr
    return run_dir


def test_a_killed_toy_run_resumes_to_the_uninterrupted_result(uninterrupted, toy_env, tmp_path):
    """The walk's NumPy generator, the exploration's `random.Random`, the sampler, the agent and the
    replay buffer (in files beside the checkpoint) all come back: SIGKILL mid-run, then resume."""
    run_dir = tmp_path / "run"
    killed_at = kill_after_checkpoint(WALK, toy_env, run_dir, at_least=280, timeout=120)
    assert 280 <= killed_at < 900
    files = read_meta(run_dir / "checkpoints" / "last.safetensors")["files"]
    # 200 rows in chunks of 32: by step 280 the ring has wrapped; each chunk is one file per array
    assert len(files["manifests"]["buffer"]["frames"]["chunks"]) == 7
    resumed = milestones(["train", "--resume", str(run_dir), "--step-delay", "0"], toy_env)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, uninterrupted)
    # only the files the last checkpoint names are left, and no temporary ones
    named = set(read_meta(run_dir / "checkpoints" / "last.safetensors")["files"]["names"])
    assert {p.stem for p in (run_dir / "checkpoints" / "files").iterdir()} == named


def test_the_toy_family_appears_in_the_report(uninterrupted, toy_env, tmp_path):
    out = tmp_path / "report"
    done = milestones(["report", str(uninterrupted), "--results-dir", str(tmp_path / "none"), "--out", str(out)],
                      toy_env)
    assert done.returncode == 0, done.stderr
    page = (out / "index.html").read_text()
    assert "<h2 id='family-toy'>A toy family from the test suite</h2>" in page
    assert "<a href='#family-toy'>A toy family from the test suite</a>" in page  # its overview row
    assert page.index("Runs you just trained") < page.index("Overview") < page.index("id='family-toy'")
    assert "toy/walk" in (out / "report.md").read_text()


def _words(names):
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(names))) + r")(?![\w])", re.I)


def test_no_core_module_names_a_family():
    """What `git grep -wiE` over the core modules would find: no family, experiment prefix or data set."""
    names = set()
    for family in registry.families():
        names.add(family.name)
        names.update(e.name.split("/")[0] for e in family.experiments)
        names.update(d.name for d in family.datasets)
    assert {"rnn", "ntm", "gan", "memory", "memn2n", "entnet", "babi", "fashion-mnist"} <= names
    pattern = _words(names)
    found = {}
    for module in CORE:
        text = (ROOT / "src" / "milestones" / f"{module}.py").read_text()
        hits = {m.group(0) for m in pattern.finditer(text)}
        if hits:
            found[module] = sorted(hits)
    assert found == {}


def _imports(path: Path, package: str, modules) -> set[str]:
    """The milestones modules `path` imports when it is imported (not those under TYPE_CHECKING or
    inside functions): for `from X import y`, X.y where that is a module, else X itself."""
    tree = ast.parse(path.read_text())
    found = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("milestones"))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                if base.startswith("milestones"):
                    found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
    visit(tree.body)
    return found


def _modules():
    src = ROOT / "src"
    return {".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__"): p
            for p in src.rglob("*.py")}


def test_the_modules_import_one_another_without_cycles():
    """A package's __init__ importing its own submodules is not a cycle (Python allows it); a
    module that needs what imports it, directly or through others, is."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        graph[name] = {m for m in _imports(path, package, modules) if m in modules and m != name}
    assert "milestones.registry" in graph["milestones.data"] and "milestones.family" in graph["milestones.registry"]
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_each_core_module_and_family_imports_alone():
    """Each module imports in a fresh process where no other module of ours has been imported. The
    third-party libraries every one of them loads (torch, numpy, matplotlib: 2-3 s a process on a
    slow core) are imported once and the processes forked after them; a module that cannot be
    imported is reported by name."""
    names = [f"milestones.{m}" for m in CORE] + list(registry.family_modules())
    code = ("import importlib, multiprocessing, sys, traceback\n"
            "import matplotlib.pyplot, numpy, torch\n"
            "def fails(n):\n"
            "    ours = [m for m in sys.modules if m.split('.')[0] in ('milestones', 'tests')]\n"
            "    assert not ours, ours\n"
            "    try:\n"
            "        importlib.import_module(n)\n"
            "    except BaseException:\n"
            "        return f'{n}: {traceback.format_exc()[-300:]}'\n"
            "with multiprocessing.get_context('fork').Pool(2, maxtasksperchild=1) as pool:\n"
            "    print([f for f in pool.map(fails, sys.argv[1:], chunksize=1) if f])")
    done = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=600)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    # the check can fail: a module that cannot be imported is named with its error
    done = subprocess.run([sys.executable, "-c", code, "milestones.nowhere"], capture_output=True, text=True,
                          timeout=600)
    assert done.stdout.startswith("['milestones.nowhere: ") and "No module named" in done.stdout, done.stdout


def test_commands_start_without_pyplot_and_figures_draw_with_agg(tmp_path):
    """Every family loads at a command's start, and none imports matplotlib.pyplot (0.6 s) then; the
    first figure imports it with the Agg backend, whatever backend the environment asks for."""
    code = ("import sys\n"
            "from milestones import registry\n"
            "registry.families()\n"
            "assert 'matplotlib.pyplot' not in sys.modules and 'scipy.ndimage' not in sys.modules\n"
            "from milestones.plots import learning_curves\n"
            f"learning_curves({{'a': [(0, 1.0), (1, 0.5)]}}, {str(tmp_path / 'c.png')!r}, title='t', ylabel='y')\n"
            "import matplotlib\n"
            "print(matplotlib.get_backend())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, MPLBACKEND="TkAgg"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().lower() == "agg" and (tmp_path / "c.png").stat().st_size > 1000


def test_a_broken_family_module_is_a_clear_error(toy_env):
    for modules, message in (("tests.nowhere", "cannot import the family module 'tests.nowhere'"),
                             ("tests.conftest", "the family module 'tests.conftest' defines no FAMILY"),
                             ("tests.toy_family,tests.toy_family", None)):
        done = milestones(["list", "toy/"], dict(toy_env, MILESTONES_FAMILIES=modules))
        if message is None:  # a module named twice counts once
            assert done.returncode == 0 and done.stdout.count("toy/walk ") == 1
        else:
            assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_every_demo_is_fixed_work_not_a_wall_time_cap():
    """`milestones demo`'s numbers must not depend on the machine's speed or load: no demo may stop on
    the clock, and each one fixes its amount of work (steps or sequences)."""
    import dataclasses

    from milestones import registry
    from milestones.registry import catalog
    demos = [demo for family in registry.families() for demo in family.demos]
    assert {demo.experiment for demo in demos} >= {"rnn/adding-t100/lstm", "ntm/copy", "gan/ring-conopt"}
    for demo in demos:
        config = dataclasses.replace(catalog()[demo.experiment].config, **demo.overrides)
        assert getattr(config, "minutes", 0.0) == 0.0, demo.experiment
        assert {"steps", "sequences"} & set(demo.overrides), demo.experiment
