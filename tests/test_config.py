import dataclasses

import pytest

from milestones.config import ConfigError, apply_overrides, describe, from_dict, to_dict
from milestones.families.rnn.experiments import RNNTaskConfig

BASE = RNNTaskConfig()


def test_overrides_are_parsed_to_their_field_types():
    cfg = apply_overrides(BASE, ["--hidden-size", "32", "--lr=0.01", "--forget-bias", "false",
                                 "--model", "gru", "--clip_norm", "0"])
    assert (cfg.hidden_size, cfg.lr, cfg.forget_bias, cfg.model, cfg.clip_norm) == (32, 0.01, False, "gru", 0.0)
    assert isinstance(cfg.clip_norm, float)
    assert BASE.hidden_size == 128  # frozen: the preset is untouched


@pytest.mark.parametrize("args, message", [
    (["--hidden-size", "abc"], "--hidden-size: expected an integer ≥ 1, got 'abc'"),
    (["--hidden-size", "0"], "--hidden-size: expected an integer ≥ 1, got 0"),
    (["--hidden-size", "2.5"], "--hidden-size: expected an integer"),
    (["--lr", "0"], r"--lr: expected a number in \(0.0, 1.0\], got 0.0"),
    (["--lr", "nan"], "--lr: expected a number"),
    (["--lr", "2"], "--lr: expected a number in"),
    (["--model", "elman"], "--model: expected one of lstm, gru, gru-reset-after, rnn, got 'elman'"),
    (["--forget-bias", "maybe"], "--forget-bias: expected true or false, got 'maybe'"),
    (["--device", "tpu"], "--device: expected one of auto, cpu, cuda"),
    (["--hiden-size", "3"], r"unknown option --hiden-size \(did you mean --hidden-size\?\)"),
    (["--steps"], "--steps: missing value"),
    (["steps", "3"], "expected --key value, got 'steps'"),
])
def test_bad_overrides_name_the_field_and_what_was_expected(args, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(BASE, args)


def test_config_round_trips_through_dict_and_refuses_bad_saved_values():
    cfg = apply_overrides(BASE, ["--length", "50"])
    assert from_dict(RNNTaskConfig, to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="unknown option --colour"):
        from_dict(RNNTaskConfig, to_dict(cfg) | {"colour": 1})
    with pytest.raises(ConfigError, match="--steps: expected an integer ≥ 1, got -1"):
        from_dict(RNNTaskConfig, to_dict(cfg) | {"steps": -1})


def test_every_field_has_help_text():
    for f in dataclasses.fields(RNNTaskConfig):
        assert f.metadata.get("help"), f.name
    text = describe(BASE)
    assert "--hidden-size" in text and "default 128; an integer ≥ 1" in text
