import os
import pickle

import pytest
import torch

from milestones.checkpoint import CheckpointError, check_architecture, load_checkpoint, save_checkpoint


def test_round_trip_of_model_optimizer_and_rng_state(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    gen = torch.Generator().manual_seed(7)
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
             "extra": {"best": 0.5, "history": [1, 2.5, None], "pair": (1, "a")}}
    path = save_checkpoint(tmp_path / "c.safetensors", state, {"step": 3, "arch": {"h": 4}})
    loaded, meta = load_checkpoint(path)
    assert meta == {"step": 3, "arch": {"h": 4}}
    for k, v in model.state_dict().items():
        assert torch.equal(loaded["model"][k], v)
    opt2 = torch.optim.Adam(model.parameters(), lr=1e-3)
    opt2.load_state_dict(loaded["opt"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for k in opt.state_dict()["state"]:  # int keys survive JSON
        for name, t in opt.state_dict()["state"][k].items():
            assert torch.equal(opt2.state_dict()["state"][k][name], t)
    assert torch.equal(loaded["gen"], gen.get_state())
    assert loaded["extra"] == {"best": 0.5, "history": [1, 2.5, None], "pair": (1, "a")}


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"w": torch.zeros(3)}, {"step": 1})
    save_checkpoint(path, {"w": torch.ones(3)}, {"step": 2})
    assert os.listdir(tmp_path) == ["c.safetensors"]
    state, meta = load_checkpoint(path)
    assert meta["step"] == 2 and torch.equal(state["w"], torch.ones(3))


class Exploit:
    """Unpickling this creates a file: the stand-in for running arbitrary code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    payload = tmp_path / "evil.pt"
    torch.save({"model": Exploit(marker)}, payload)
    # the file is truly dangerous: torch.load without weights_only runs the payload
    torch.load(payload, weights_only=False)
    assert marker.exists()
    marker.unlink()
    evil = tmp_path / "last.safetensors"  # planted where a checkpoint is expected
    evil.write_bytes(payload.read_bytes())
    with pytest.raises(CheckpointError, match="pickle .* refusing"):
        load_checkpoint(evil)
    assert not marker.exists()
    raw = tmp_path / "raw.safetensors"
    raw.write_bytes(pickle.dumps(Exploit(marker), protocol=4))
    with pytest.raises(CheckpointError, match="refusing"):
        load_checkpoint(raw)
    assert not marker.exists()


@pytest.mark.parametrize("blob, message", [
    (b"", "not a valid safetensors"),
    (b"garbage that is not a checkpoint", "not a valid safetensors"),
])
def test_damaged_files_are_refused(tmp_path, blob, message):
    path = tmp_path / "c.safetensors"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_truncated_checkpoint_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", {"w": torch.zeros(100)}, {"step": 1})
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_checkpoint(path)


def test_a_plain_safetensors_file_is_not_taken_for_a_checkpoint(tmp_path):
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match="not a milestones-checkpoint"):
        load_checkpoint(tmp_path / "w.safetensors")


def test_architecture_mismatch_names_the_keys():
    check_architecture({"hidden": 4, "model": "lstm"}, {"hidden": 4, "model": "lstm"}, "c")
    with pytest.raises(CheckpointError, match="hidden: checkpoint 4, now 8"):
        check_architecture({"hidden": 4, "model": "lstm"}, {"hidden": 8, "model": "lstm"}, "c")


def test_a_checkpoint_whose_header_length_starts_with_the_pickle_byte_loads(tmp_path):
    # the first byte of a safetensors file is its header length's low byte: 0x80 is a valid length
    for pad in range(300):
        path = save_checkpoint(tmp_path / "c.safetensors", {"x": torch.ones(2), "pad": "p" * pad}, {"k": 1})
        if path.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("no padding gave a header length with low byte 0x80")
    state, meta = load_checkpoint(path)
    assert state["pad"] == "p" * pad and meta["k"] == 1
