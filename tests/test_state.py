"""What a checkpoint holds: every source of randomness, small stateful objects, large state in
write-once files beside it; and the training loop that saves it."""
import dataclasses
import os
import random

import numpy as np
import pytest
import torch

from milestones.checkpoint import load_checkpoint, save_checkpoint
from milestones.config import BaseConfig
from milestones.family import Experiment
from milestones.runs import Run, RunStopped, TrainingDiverged
from milestones.seeding import rng_state, set_rng_state
from milestones.state import FileStore, State, load_ring, save_ring


def _draws(generators):
    t, n, p = generators["t"], generators["n"], generators["p"]
    return (torch.rand(3).tolist(), np.random.rand(2).tolist(), random.random(),
            torch.rand(2, generator=t).tolist(), n.normal(size=2).tolist(), p.random())


def test_every_kind_of_generator_comes_back_through_a_checkpoint(tmp_path):
    generators = {"t": torch.Generator().manual_seed(1), "n": np.random.default_rng(2), "p": random.Random(3)}
    torch.manual_seed(4), np.random.seed(5), random.seed(6)
    _draws(generators)  # move every generator away from its seed
    path = save_checkpoint(tmp_path / "c.safetensors", {"rng": rng_state(generators)}, {"step": 1})
    expected = _draws(generators)
    _draws(generators)  # and further on
    saved, _ = load_checkpoint(path)
    set_rng_state(saved["rng"], generators)
    assert _draws(generators) == expected


def test_an_unknown_generator_kind_is_refused():
    with pytest.raises(TypeError, match="generator 'g' is a list; expected a torch.Generator"):
        rng_state({"g": []})


def test_the_file_store_writes_each_name_once_and_collects_the_rest(tmp_path):
    store = FileStore(tmp_path / "files")
    store.put("a.0+4", np.arange(4))
    first = (tmp_path / "files" / "a.0+4.npy").stat().st_mtime_ns
    store.put("a.0+4", np.zeros(4))  # the name says what it holds: not written again
    assert (tmp_path / "files" / "a.0+4.npy").stat().st_mtime_ns == first
    assert store.get("a.0+4").tolist() == [0, 1, 2, 3]
    store.put("b", torch.ones(2, 2))
    (tmp_path / "files" / ".c.123.tmp").write_bytes(b"cut short by a kill")
    checkpoint = save_checkpoint(tmp_path / "last.safetensors", {}, {"files": {"names": ["b"]}})
    store.collect([checkpoint])
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == ["b.npy"]
    with pytest.raises(ValueError, match="letters, digits"):
        store.put("../escape", np.zeros(1))


@pytest.mark.parametrize("rows, chunk", [(10, 3), (12, 4), (7, 7), (5, 1)])
def test_a_ring_buffer_comes_back_row_for_row_and_settled_chunks_are_written_once(tmp_path, rows, chunk):
    store = FileStore(tmp_path / "files")
    ring = np.zeros((rows, 2), np.int64)
    written_per_save = []
    for added in range(1, 4 * rows + 2):
        ring[(added - 1) % rows] = (added, -added)  # item i is (i + 1, -(i + 1))
        if added % 3:
            continue
        before = set(os.listdir(tmp_path / "files")) if (tmp_path / "files").exists() else set()
        manifest = save_ring(store, "r", ring, added, chunk)
        written_per_save.append(len(set(os.listdir(tmp_path / "files")) - before))
        back = np.full_like(ring, 99)
        assert load_ring(store, manifest, back) == added
        n = min(added, rows)
        assert (back[:n] == ring[:n]).all() and (back[n:] == 99).all()
    # a save writes the chunk being filled and the chunks completed since the last save, not the ring
    assert max(written_per_save) <= 1 + -(-3 // chunk) + 1


@dataclasses.dataclass(frozen=True)
class Cfg(BaseConfig):
    device: str = "cpu"


def _run(tmp_path):
    exp = Experiment("x/y", "", Cfg(), train=lambda c, r: {}, evaluate=lambda c, r: {}, metric="m",
                     goal="min", citation="")
    return Run.create(tmp_path / "run", exp, Cfg(), progress=False)


def test_the_loop_checkpoints_on_schedule_at_its_end_and_when_told_to_end(tmp_path, monkeypatch):
    run = _run(tmp_path)
    saved = []
    monkeypatch.setattr(run, "save", lambda step, state, extra=None, name="last": saved.append((step, extra)))
    state = State({})
    loop = run.loop(state, 10, checkpoint_every=4, extra=lambda: {"x": 1})
    assert list(loop) == list(range(1, 11)) and saved == [(4, {"x": 1}), (8, {"x": 1}), (10, {"x": 1})]
    saved.clear()
    loop = run.loop(state, 10, start=2, checkpoint_every=4, offset=100)
    for step in loop:
        if step == 6:
            loop.end()
    assert saved == [(104, {}), (106, {})]


def test_the_loop_stops_a_run_with_a_checkpoint_except_at_its_very_end(tmp_path, monkeypatch):
    import signal
    run = _run(tmp_path)
    saved = []
    monkeypatch.setattr(run, "save", lambda step, state, extra=None, name="last": saved.append(step))
    with pytest.raises(RunStopped, match="stopped at step 3"):
        for step in run.loop(State({}), 10, checkpoint_every=100):
            if step == 3:
                os.kill(os.getpid(), signal.SIGINT)
    assert saved == [3]
    for step in run.loop(State({}), 5, start=3, checkpoint_every=100):  # a stop in the last step: the run ends
        if step == 5:
            os.kill(os.getpid(), signal.SIGINT)
    assert saved == [3, 5]


def test_the_loop_names_what_stopped_being_finite(tmp_path):
    run = _run(tmp_path)
    loop = run.loop(State({}), 10, checkpoint_every=100, unit="update")
    with pytest.raises(TrainingDiverged, match=r"loss, net not finite at update 2; the last good checkpoint is .*"
                                               r"last.safetensors \(lower the rate\)"):
        for step in loop:
            net = torch.nn.Linear(1, 1)
            if step == 2:
                net.weight.data[0, 0] = float("nan")
            loop.check_finite({"loss": float("inf") if step == 2 else 1.0, "net": net, "ok": torch.ones(2)},
                              hint="lower the rate")
