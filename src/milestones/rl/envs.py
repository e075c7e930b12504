"""The DQN family's environments, and their complete state for a resume that continues an episode exactly.

`make(env_id, seed)` builds one of three kinds of environment (observation shape and dtype beside each):

    CartPole-v1          gymnasium's classic-control pole (Barto, Sutton & Anderson 1983)        (4,) float32
    MinAtar/<Game>-v1    MinAtar (Young & Tian 2019): Asterix, Breakout, Freeway, Seaquest,      (10, 10, C) bool
                         SpaceInvaders; minimal action set, sticky actions with probability 0.1  (C channels)
                         (the package's default)
    ALE/<Game>-v5        the Arcade Learning Environment (Bellemare et al. 2013) through ale-py:  (210, 160, 3) or
                         raw frames, frameskip 1, no sticky actions; the Nature preprocessing     (210, 160) uint8
                         (Mnih et al. 2015) is `milestones.rl.atari`'s job                        (obs_type="grayscale")

Seeding. `make` does not reset. It seeds the action and observation spaces (their `sample()`) from `seed`;
the caller seeds the environment itself by its first `env.reset(seed=seed)`, and resets without a seed
after that. What that first reset seeds:
  CartPole  gymnasium's `np_random` (the initial state of each episode);
  MinAtar   one `np.random.RandomState(seed)`, shared by the game (spawns, ball start) and the sticky
            actions; gymnasium's `np_random` is not touched by MinAtar's reset, so a wrapper drawing from
            it (gymnasium's StickyAction) draws unseeded numbers there, saved and resumed all the same;
  ALE       `SeedSequence(seed)` gives a NumPy seed (`np_random`: a random frameskip, if one is asked
            for) and ALE's own seed; the ROM is reloaded. The games are deterministic given the actions.

`env_state(env)` returns everything that decides the environment's future: a nested dict of ints, floats,
strings, lists and NumPy arrays, which `milestones.checkpoint.pack` stores without pickling anything.
`set_env_state(env, state)` puts it into an environment of the same id and wrappers, made with any seed
and reset once (or not at all); from then on the two produce the same observations, rewards, terminations
and truncations for the same actions. The state holds, from the outermost layer in:
  - each wrapper's fields (a wrapper with `state_dict` / `load_state_dict`, such as the Atari preprocessing,
    saves itself; gymnasium's wrappers are listed in `_WRAPPER_FIELDS` or `_STATELESS_WRAPPERS`; any other
    wrapper is refused with `EnvError`, since its state would be lost silently),
  - the random generators of every layer's action and observation spaces,
  - the environment: gymnasium's `np_random`, and CartPole's (x, x', θ, θ') / MinAtar's game objects and
    `RandomState` / ALE's emulator, serialized by ale-py itself, as a uint8 array.
`vector_env_state` / `set_vector_env_state` do the same for a `gymnasium.vector.SyncVectorEnv`: its
sub-environments and the bookkeeping of its autoreset (which sub-environments reset at the next step).

Pitfalls found on the way, each pinned by a test in tests/test_rl_envs.py:
1. ALE's sticky actions cannot be resumed: the action a sticky frame repeats is a member of ALE's C++
   `StellaEnvironment`, not of the `ALEState` that `cloneState` returns. `make` therefore refuses
   `repeat_action_probability` > 0; for sticky actions wrap the env in `gymnasium.wrappers.StickyAction`,
   whose state is saved.
2. An `ALEState` is turned into bytes by its own `serialize()` and back by the `ALEState(bytes)` constructor:
   no pickle. `cloneState(include_rng=True)`: the state includes ALE's random generator.
3. `restoreState` does not restore everything the emulator carries from one frame to the next: in 6 of
   ale-py's 104 games (Qbert, Tetris, TicTacToe3D, Amidar, Koolaid, Trondead) the frames after a restore
   depend on whether the emulator's last frame came from `reset_game` or from `act`. `set_env_state`
   therefore first makes the target's last frame of the same kind (`reset_game`, then `act(NOOP)` unless
   the saved state is the one a reset leaves), then restores; so restored, all 104 games replay exactly.
4. MinAtar's `reset(seed)` gives the game and the sticky-action wrapper one shared `RandomState`; before
   that they hold two unseeded ones. The state records whether they are one object, and the restore keeps
   them one object (two equal generators would draw the same numbers twice).
5. MinAtar's games change their NumPy arrays in place (Breakout's brick map): the state copies them when
   saved and again when loaded, so a state stays valid after the env it came from, or was put into, moves on.
   NumPy scalars in the games' lists (Freeway's car speeds are np.int64) are kept as NumPy scalars.
6. gymnasium's `PassiveEnvChecker` keeps the first reset's (obs, info) until the second step, and crashes on
   that step if they are missing: a state taken just after the first reset carries them.
7. `RecordEpisodeStatistics` measures wall-clock time: the state keeps the time since the episode began.
"""
from __future__ import annotations

import collections
import difflib
import re
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces, wrappers
from gymnasium.vector import AutoresetMode, SyncVectorEnv

FORMAT = "milestones-env/1"
MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
_ALE_DEFAULTS = {"frameskip": 1, "repeat_action_probability": 0.0}

# Fields of gymnasium's wrappers that change as the env runs (their other fields are the constructor's
# arguments). Matched by exact type: a subclass may add state of its own.
_WRAPPER_FIELDS: dict[type, tuple[str, ...]] = {
    wrappers.TimeLimit: ("_elapsed_steps",),
    wrappers.OrderEnforcing: ("_has_reset",),
    wrappers.PassiveEnvChecker: ("checked_reset", "checked_step", "checked_render", "close_called",
                                 "checked_data_reuse", "_previous_data"),
    wrappers.Autoreset: ("autoreset",),
    wrappers.RecordEpisodeStatistics: ("episode_count", "episode_returns", "episode_lengths", "time_queue",
                                       "return_queue", "length_queue"),  # and the episode's start time
    wrappers.StickyAction: ("last_action", "is_sticky_actions", "num_repeats", "repeats_taken"),
    wrappers.FrameStackObservation: ("obs_queue", "stacked_obs"),
    wrappers.MaxAndSkipObservation: ("_obs_buffer",),
    wrappers.DelayObservation: ("observation_queue",),
    wrappers.TimeAwareObservation: ("timesteps",),
    wrappers.AtariPreprocessing: ("obs_buffer", "lives", "game_over"),
}
# Wrappers that keep nothing from one step to the next (their randomness, if any, is the env's np_random).
_STATELESS_WRAPPERS: tuple[type, ...] = (
    wrappers.ClipAction, wrappers.ClipReward, wrappers.DtypeObservation, wrappers.FilterObservation,
    wrappers.FlattenObservation, wrappers.GrayscaleObservation, wrappers.RescaleAction,
    wrappers.RescaleObservation, wrappers.ReshapeObservation, wrappers.ResizeObservation,
    wrappers.TransformAction, wrappers.TransformObservation, wrappers.TransformReward, wrappers.RepeatAction,
    wrappers.DiscretizeAction, wrappers.DiscretizeObservation, wrappers.AddWhiteNoise, wrappers.ObstructView,
)
_BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "MT19937": np.random.MT19937,
                   "Philox": np.random.Philox, "SFC64": np.random.SFC64}
_CARTPOLE = "gymnasium.envs.classic_control.cartpole.CartPoleEnv"
_MINATAR = "minatar.gym.BaseEnv"
_ATARI = "ale_py.env.AtariEnv"


class EnvError(ValueError):
    """An environment id this module does not make, or an environment whose state it cannot save or load."""


# ---- making ------------------------------------------------------------------------------------------

def make(env_id: str, seed: int, **kwargs: Any) -> gym.Env:
    """Make `env_id` ("CartPole-v1", "MinAtar/<Game>-v1" or "ALE/<Game>-v5") with gymnasium's usual
    wrappers, its spaces seeded from `seed`; not reset: the caller's first reset is `env.reset(seed=seed)`.
    `kwargs` go to `gymnasium.make` (for ALE, e.g. obs_type="grayscale"; frameskip defaults to 1)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    kind = kind_of(env_id)
    if kind == "minatar":
        _register_minatar()
    elif kind == "ale":
        kwargs = {**_ALE_DEFAULTS, **kwargs}
        if kwargs["repeat_action_probability"] != 0:
            raise EnvError(
                f"{env_id} with repeat_action_probability={kwargs['repeat_action_probability']!r}: ALE's sticky "
                f"actions cannot be resumed exactly (the action they repeat lives inside ALE, outside the state "
                f"cloneState saves); expected 0.0, and gymnasium.wrappers.StickyAction around the env for "
                f"sticky actions")
    env = gym.make(env_id, **kwargs)
    action_seed, observation_seed = (int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(2))
    env.action_space.seed(action_seed)
    env.observation_space.seed(observation_seed)
    return env


def kind_of(env_id: str) -> str:
    """'cartpole', 'minatar' or 'ale'; an EnvError that says what is accepted for anything else."""
    if not isinstance(env_id, str):
        raise EnvError(f"an environment id is a str, got {type(env_id).__name__} {env_id!r}")
    if env_id == "CartPole-v1":
        return "cartpole"
    if m := re.fullmatch(r"MinAtar/([^/]*)-v(\d+)", env_id):
        _check_game("MinAtar", env_id, m[1], MINATAR_GAMES)
        if m[2] != "1":
            raise EnvError(f"{env_id!r}: expected MinAtar/{m[1]}-v1 (v1: the minimal action set), got -v{m[2]}")
        return "minatar"
    if m := re.fullmatch(r"ALE/([^/]*)-v(\d+)", env_id):
        _check_game("ALE", env_id, m[1], _ale_games())
        if m[2] != "5":
            raise EnvError(f"{env_id!r}: expected ALE/{m[1]}-v5, got -v{m[2]}")
        return "ale"
    raise EnvError(f"unknown environment id {env_id!r}; expected 'CartPole-v1', 'MinAtar/<Game>-v1' (<Game> one "
                   f"of {', '.join(MINATAR_GAMES)}) or 'ALE/<Game>-v5' (<Game> an Atari game, e.g. Pong)")


def _check_game(family: str, env_id: str, game: str, games: tuple[str, ...]) -> None:
    if game in games:
        return
    close = difflib.get_close_matches(game, games, n=3, cutoff=0.6)
    close += [g for g in games if g.lower() == game.lower() and g not in close]
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise EnvError(f"unknown {family} game {game!r} in {env_id!r}{hint}; expected one of {', '.join(games)}")


def _ale_games() -> tuple[str, ...]:
    import ale_py  # registers ALE/<Game>-v5 with gymnasium on import

    gym.register_envs(ale_py)
    return tuple(sorted(k[4:-3] for k in gym.envs.registry if k.startswith("ALE/") and k.endswith("-v5")))


def _register_minatar() -> None:
    """Register MinAtar's ids once: registering again would make gymnasium warn that it overrides them."""
    if not all(f"MinAtar/{g}-v{v}" in gym.envs.registry for g in MINATAR_GAMES for v in (0, 1)):
        from minatar.gym import register_envs

        register_envs()


# ---- the state of one environment --------------------------------------------------------------------

def env_state(env: gym.Env) -> dict[str, Any]:
    """Everything that decides `env`'s future (see the module docstring), as a checkpointable dict."""
    if isinstance(env, gym.vector.VectorEnv):
        raise EnvError(f"env_state takes one environment, got the vector env {type(env).__name__}; "
                       f"use vector_env_state")
    layers = _layers(env)
    return {"format": FORMAT, "id": _env_id(env), "wrappers": [_wrapper_state(w) for w in layers[:-1]],
            "spaces": [_spaces_state(layer) for layer in layers], "env": _core_state(layers[-1])}


def set_env_state(env: gym.Env, state: dict[str, Any]) -> None:
    """Put `state` (from `env_state` on an env of the same id and wrappers) into `env`."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise EnvError(f"not an environment state of format {FORMAT!r}: got {got!r}")
    layers = _layers(env)
    names = [_type_name(w) for w in layers[:-1]]
    saved = [w["type"] for w in state["wrappers"]]
    if state["id"] != _env_id(env) or saved != names:
        raise EnvError(f"the state is of {state['id']!r} wrapped in {saved}; this env is {_env_id(env)!r} wrapped "
                       f"in {names}")
    _set_core_state(layers[-1], state["env"])
    for layer, saved_layer in reversed(list(zip(layers[:-1], state["wrappers"]))):
        _set_wrapper_state(layer, saved_layer)
    for layer, saved_spaces in reversed(list(zip(layers, state["spaces"]))):
        _set_spaces_state(layer, saved_spaces)


def _layers(env: gym.Env) -> list[Any]:
    """[env, env.env, ..., env.unwrapped]."""
    if not isinstance(env, gym.Env):
        raise EnvError(f"expected a gymnasium.Env, got {type(env).__name__}")
    layers = [env]
    while isinstance(layers[-1], gym.Wrapper):
        layers.append(layers[-1].env)
    if layers[-1] is not env.unwrapped:
        raise EnvError(f"walking {env} by .env ends at {layers[-1]!r}, not at env.unwrapped {env.unwrapped!r}")
    return layers


def _env_id(env: gym.Env) -> str:
    spec = env.unwrapped.spec
    return spec.id if spec is not None else _type_name(env.unwrapped)


def _type_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _wrapper_state(layer: Any) -> dict[str, Any]:
    where = f"wrapper {type(layer).__name__}"
    if callable(getattr(layer, "state_dict", None)) and callable(getattr(layer, "load_state_dict", None)):
        return {"type": _type_name(layer), "state_dict": _copy_storable(layer.state_dict(), where)}
    if type(layer) in _STATELESS_WRAPPERS:
        return {"type": _type_name(layer)}
    if type(layer) not in _WRAPPER_FIELDS:
        raise EnvError(f"cannot save the state of {where} ({_type_name(layer)}): it has no state_dict() / "
                       f"load_state_dict() and is not one of gymnasium's wrappers this module knows")
    fields = {name: _encode(getattr(layer, name), f"{where}.{name}") for name in _WRAPPER_FIELDS[type(layer)]}
    if isinstance(layer, wrappers.RecordEpisodeStatistics):  # wall-clock time: keep the time since the start
        start = layer.episode_start_time
        fields["episode_seconds"] = None if start < 0 else time.perf_counter() - start
    return {"type": _type_name(layer), "fields": fields}


def _set_wrapper_state(layer: Any, state: dict[str, Any]) -> None:
    if "state_dict" in state:
        layer.load_state_dict(_copy_storable(state["state_dict"], f"wrapper {type(layer).__name__}"))
        return
    for name, value in state.get("fields", {}).items():
        if name != "episode_seconds":
            setattr(layer, name, _decode(value))
    if isinstance(layer, wrappers.RecordEpisodeStatistics):
        seconds = state["fields"]["episode_seconds"]
        layer.episode_start_time = -1 if seconds is None else time.perf_counter() - seconds


# ---- the innermost environment ------------------------------------------------------------------------

def _core_state(env: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"np_random": _generator_state(env._np_random), "np_random_seed": env._np_random_seed}
    kind = _type_name(env)
    if kind == _CARTPOLE:
        state["cartpole"] = {"state": _encode(env.state, "CartPole state"),
                             "steps_beyond_terminated": env.steps_beyond_terminated}
    elif kind == _MINATAR:
        state["minatar"] = _minatar_state(env)
    elif kind == _ATARI:
        state["ale"] = _ale_state(env)
    else:
        raise EnvError(f"cannot save the state of {kind}: expected CartPole, MinAtar or ALE (see make)")
    return state


def _set_core_state(env: Any, state: dict[str, Any]) -> None:
    env._np_random = _make_generator(state["np_random"])
    env._np_random_seed = state["np_random_seed"]
    if "cartpole" in state:
        env.state = _decode(state["cartpole"]["state"])
        env.steps_beyond_terminated = state["cartpole"]["steps_beyond_terminated"]
    elif "minatar" in state:
        _set_minatar_state(env, state["minatar"])
    else:
        _set_ale_state(env, state["ale"])


def _minatar_state(env: Any) -> dict[str, Any]:
    """MinAtar's `Environment` (sticky actions: the last action) and its game's `Env` (every attribute:
    positions, timers, lists of entities, NumPy maps), and their RandomState(s)."""
    environment, game = env.game, env.game.env
    return {"environment": {k: _encode(v, f"MinAtar Environment.{k}")
                            for k, v in vars(environment).items() if k not in ("random", "env")},
            "game": {k: _encode(v, f"MinAtar {environment.env_name}.{k}") for k, v in vars(game).items()
                     if k != "random"},
            "random": _random_state(environment.random),
            "game_random": None if game.random is environment.random else _random_state(game.random)}


def _set_minatar_state(env: Any, state: dict[str, Any]) -> None:
    environment, game = env.game, env.game.env
    if state["environment"]["env_name"] != environment.env_name:
        raise EnvError(f"the state is of MinAtar's {state['environment']['env_name']}, this env plays "
                       f"{environment.env_name}")
    for k, v in state["environment"].items():
        setattr(environment, k, _decode(v))
    for k in set(vars(game)) - set(state["game"]) - {"random"}:
        delattr(game, k)
    for k, v in state["game"].items():
        setattr(game, k, _decode(v))
    environment.random = _make_random_state(state["random"])
    game.random = environment.random if state["game_random"] is None else _make_random_state(state["game_random"])


def _ale_state(env: Any) -> dict[str, Any]:
    """ALE's emulator, game settings and random generator, serialized by ale-py, as uint8."""
    p = env.ale.getFloat("repeat_action_probability")
    if p != 0:
        raise EnvError(f"cannot save {_env_id(env)} with repeat_action_probability={p}: ALE keeps the action a "
                       f"sticky frame repeats outside the state it can save; expected 0.0 (see make)")
    return {"serialized": np.frombuffer(env.ale.cloneState(include_rng=True).serialize(), dtype=np.uint8).copy()}


def _set_ale_state(env: Any, state: dict[str, Any]) -> None:
    import ale_py

    saved = ale_py.ALEState(np.asarray(state["serialized"], dtype=np.uint8).tobytes())
    ale = env.ale
    ale.reset_game()  # make the emulator's last frame of the saved state's kind (pitfall 3)
    if saved.getEpisodeFrameNumber() != ale.getEpisodeFrameNumber():
        ale.act(ale_py.Action.NOOP)
    ale.restoreState(saved)


# ---- spaces and random generators ----------------------------------------------------------------------

def _spaces_state(layer: Any) -> dict[str, Any]:
    return {"action_space": _space_rng(layer.action_space), "observation_space": _space_rng(layer.observation_space)}


def _set_spaces_state(layer: Any, state: dict[str, Any]) -> None:
    _set_space_rng(layer.action_space, state["action_space"])
    _set_space_rng(layer.observation_space, state["observation_space"])


def _space_rng(space: spaces.Space) -> dict[str, Any]:
    """The generator `space.sample()` draws from, and those of its subspaces."""
    if isinstance(space, (spaces.Sequence, spaces.Graph, spaces.OneOf)):
        raise EnvError(f"cannot save the random generators of a {type(space).__name__} space")
    sub = list(space.spaces.values()) if isinstance(space, spaces.Dict) else \
        list(space.spaces) if isinstance(space, spaces.Tuple) else []
    return {"rng": _generator_state(space._np_random), "subspaces": [_space_rng(s) for s in sub]}


def _set_space_rng(space: Any, state: dict[str, Any]) -> None:
    space._np_random = _make_generator(state["rng"])
    sub = list(space.spaces.values()) if isinstance(space, spaces.Dict) else \
        list(space.spaces) if isinstance(space, spaces.Tuple) else []
    for s, saved in zip(sub, state["subspaces"], strict=True):
        _set_space_rng(s, saved)


def _generator_state(rng: np.random.Generator | None) -> dict[str, Any] | None:
    return None if rng is None else _encode(rng.bit_generator.state, "a NumPy Generator")


def _make_generator(state: dict[str, Any] | None) -> np.random.Generator | None:
    if state is None:
        return None
    state = _decode(state)
    if state.get("bit_generator") not in _BIT_GENERATORS:
        raise EnvError(f"unknown bit generator {state.get('bit_generator')!r}; expected one of "
                       f"{', '.join(_BIT_GENERATORS)}")
    bit_generator = _BIT_GENERATORS[state["bit_generator"]]()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _random_state(rs: np.random.RandomState) -> dict[str, Any]:
    name, key, pos, has_gauss, cached_gaussian = rs.get_state(legacy=True)
    return {"bit_generator": name, "key": np.array(key, dtype=np.uint32), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)}


def _make_random_state(state: dict[str, Any]) -> np.random.RandomState:
    rs = np.random.RandomState()
    rs.set_state((state["bit_generator"], np.array(state["key"], dtype=np.uint32), state["pos"],
                  state["has_gauss"], state["cached_gaussian"]))
    return rs


# ---- values: a tagged, checkpointable copy ---------------------------------------------------------------
# None, bool, int, float, str and lists stay as they are; NumPy arrays are copied; the rest becomes a dict
# with one tag: {"tuple": [...]}, {"dict": [[key, value], ...]}, {"deque": [...], "maxlen": n},
# {"scalar": dtype, "value": v} (a NumPy scalar, whose type the games' arithmetic keeps).

def _encode(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)) and not isinstance(value, np.generic):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise EnvError(f"cannot save {where}: an array of dtype {value.dtype}; expected bool, int or float")
        return np.array(value, copy=True)
    if isinstance(value, np.generic):
        if value.dtype.kind not in "biuf":
            raise EnvError(f"cannot save {where}: a NumPy {value.dtype} scalar; expected bool, int or float")
        return {"scalar": value.dtype.str, "value": value.item()}
    if isinstance(value, list):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, collections.deque):
        return {"deque": [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)], "maxlen": value.maxlen}
    if isinstance(value, dict):
        return {"dict": [[_encode(k, f"{where} key"), _encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
    raise EnvError(f"cannot save {where}: a {type(value).__module__}.{type(value).__qualname__}; expected None, "
                   f"bool, int, float, str, NumPy arrays and scalars, and lists, tuples, deques and dicts of them")


def _decode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "scalar" in value:
            return np.dtype(value["scalar"]).type(value["value"])
        if "tuple" in value:
            return tuple(_decode(v) for v in value["tuple"])
        if "deque" in value:
            return collections.deque((_decode(v) for v in value["deque"]), maxlen=value["maxlen"])
        if "dict" in value:
            return {_decode(k): _decode(v) for k, v in value["dict"]}
        raise EnvError(f"not an encoded value: a dict with keys {sorted(value)}; expected one tag of scalar, "
                       f"tuple, deque, dict")
    return value


def _copy_storable(value: Any, where: str) -> Any:
    """A copy of a wrapper's own state_dict, checked to hold only what a checkpoint stores."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_storable(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict) and all(isinstance(k, (str, int)) for k in value):
        return {k: _copy_storable(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise EnvError(f"cannot save {where}'s state_dict: it holds a {type(value).__name__}; expected None, bool, "
                   f"int, float, str, NumPy arrays, torch tensors, and lists, tuples and str-keyed dicts of them")


# ---- vector environments ------------------------------------------------------------------------------------

_VECTOR_FIELDS = ("_autoreset_envs", "_rewards", "_terminations", "_truncations", "_env_obs", "_observations")


def vector_env_state(envs: SyncVectorEnv) -> dict[str, Any]:
    """The state of a SyncVectorEnv: each sub-environment's, which of them reset at the next step
    (`_autoreset_envs`), the last step's results, and the batched spaces' generators."""
    _check_vector(envs)
    return {"format": FORMAT, "num_envs": envs.num_envs, "autoreset_mode": envs.autoreset_mode.value,
            "envs": [env_state(e) for e in envs.envs],
            "fields": {k: _encode(getattr(envs, k), f"SyncVectorEnv.{k}") for k in _VECTOR_FIELDS},
            "spaces": _spaces_state(envs)}


def set_vector_env_state(envs: SyncVectorEnv, state: dict[str, Any]) -> None:
    """Put `state` (from `vector_env_state`) into a SyncVectorEnv of as many sub-environments of the same ids."""
    _check_vector(envs)
    if not isinstance(state, dict) or state.get("format") != FORMAT or "num_envs" not in state:
        raise EnvError(f"not a vector environment state of format {FORMAT!r}")
    if state["num_envs"] != envs.num_envs or AutoresetMode(state["autoreset_mode"]) != envs.autoreset_mode:
        raise EnvError(f"the state is of {state['num_envs']} envs with autoreset {state['autoreset_mode']}; this "
                       f"SyncVectorEnv has {envs.num_envs} with autoreset {envs.autoreset_mode.value}")
    for env, saved in zip(envs.envs, state["envs"], strict=True):
        set_env_state(env, saved)
    for k in _VECTOR_FIELDS:
        setattr(envs, k, _decode(state["fields"][k]))
    _set_spaces_state(envs, state["spaces"])


def _check_vector(envs: Any) -> None:
    if type(envs) is not SyncVectorEnv:
        raise EnvError(f"expected a gymnasium.vector.SyncVectorEnv, got {_type_name(envs)} (an AsyncVectorEnv's "
                       f"sub-environments live in other processes; a vector wrapper's state is not captured)")
