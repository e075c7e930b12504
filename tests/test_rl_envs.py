"""milestones.rl.envs: a state taken in the middle of an episode, put into a freshly made environment, replays the
same observations, rewards, terminations and truncations for the same actions; through a checkpoint file too."""
import copy
import time
import warnings

import gymnasium as gym
import numpy as np
import pytest

from milestones.checkpoint import load_checkpoint, save_checkpoint
from milestones.rl.envs import (
    MINATAR_GAMES,
    EnvError,
    env_state,
    make,
    set_env_state,
    set_vector_env_state,
    vector_env_state,
)


def play(env, actions):
    """(obs, reward, terminated, truncated) per action; an episode's end is followed by a reset, recorded as
    ("reset", obs)."""
    records = []
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        records.append((np.array(obs), reward, terminated, truncated))
        if terminated or truncated:
            records.append(("reset", np.array(env.reset()[0])))
    return records


def assert_same(got, expected):
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert len(g) == len(e), f"record {i}: {g[0] if isinstance(g[0], str) else 'a step'} vs {e[0]}"
        for x, y in zip(g, e):
            if isinstance(y, np.ndarray):
                assert x.dtype == y.dtype and np.array_equal(x, y), f"record {i}: observations differ"
            else:
                assert x == y and type(x) is type(y), f"record {i}: {x!r} != {y!r}"


def checkpointed(tmp_path, state):
    path = save_checkpoint(tmp_path / "env.safetensors", {"env": state}, {"step": 1})
    return load_checkpoint(path)[0]["env"]


def resume_replays(env_id, kwargs, warmup, steps, tmp_path, min_episode_ends=1, wrap=lambda env: env):
    """Play `warmup` random actions, take the state, play `steps` more; a fresh env (another seed) given the
    state, straight or through a checkpoint file, must replay them exactly. Returns the state."""
    env = wrap(make(env_id, seed=1, **kwargs))
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    play(env, rng.integers(env.action_space.n, size=warmup))
    state = env_state(env)
    actions = rng.integers(env.action_space.n, size=steps)
    expected = play(env, actions)
    assert sum(isinstance(r[0], str) for r in expected) >= min_episode_ends

    control = wrap(make(env_id, seed=2, **kwargs))
    control.reset(seed=2)
    with pytest.raises(AssertionError):  # without the state a fresh env does not replay: the test has teeth
        assert_same(play(control, actions), expected)

    for seed, saved in ((3, state), (4, checkpointed(tmp_path, state))):  # the dict, after its env moved on
        fresh = wrap(make(env_id, seed=seed, **kwargs))
        fresh.reset(seed=seed)
        set_env_state(fresh, saved)
        assert_same(play(fresh, actions), expected)
    return state


# ---- each kind of environment resumes exactly --------------------------------------------------------------

def test_cartpole_resumes_exactly_through_several_episodes(tmp_path):
    resume_replays("CartPole-v1", {}, warmup=30, steps=300, tmp_path=tmp_path, min_episode_ends=5)


@pytest.mark.parametrize("game", MINATAR_GAMES)
def test_minatar_resumes_exactly_through_an_episode_end(game, tmp_path):
    # Freeway's episodes last 2500 steps; the others end within a few hundred random actions
    steps = 2600 if game == "Freeway" else 600
    resume_replays(f"MinAtar/{game}-v1", {}, warmup=150, steps=steps, tmp_path=tmp_path)


@pytest.mark.parametrize("game, kwargs, steps", [
    ("Pong", {"obs_type": "grayscale", "max_num_frames_per_episode": 1000}, 1000),  # truncated at frame 1000
    ("Breakout", {"obs_type": "rgb"}, 900),  # loses its five lives in about 500 random frames
])
def test_ale_resumes_exactly_through_an_episode_end(game, kwargs, steps, tmp_path):
    state = resume_replays(f"ALE/{game}-v5", kwargs, warmup=300, steps=steps, tmp_path=tmp_path)
    serialized = state["env"]["ale"]["serialized"]
    assert serialized.dtype == np.uint8 and serialized.ndim == 1 and serialized.size > 1000


@pytest.mark.parametrize("game, warmup", [("Qbert", 0), ("Tetris", 0), ("TicTacToe3D", 250)])
def test_ale_restore_makes_the_emulators_last_frame_of_the_saved_kind(game, warmup):
    """Pitfall 3: restoreState alone, into an env whose last frame came from act (resp. reset_game) while the
    saved one's came from reset_game (resp. act), replays these games wrongly from the first frame on."""
    import ale_py

    env = make(f"ALE/{game}-v5", seed=1)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    play(env, rng.integers(env.action_space.n, size=warmup))
    state = env_state(env)
    actions = rng.integers(env.action_space.n, size=150)
    expected = play(env, actions)

    def fresh():
        other = make(f"ALE/{game}-v5", seed=2)
        other.reset(seed=2)
        play(other, np.random.default_rng(5).integers(other.action_space.n, size=30))
        return other

    naive = fresh()
    naive.unwrapped.ale.restoreState(ale_py.ALEState(state["env"]["ale"]["serialized"].tobytes()))
    with pytest.raises(AssertionError):
        assert_same(play(naive, actions), expected)
    restored = fresh()
    set_env_state(restored, state)
    assert_same(play(restored, actions), expected)


def test_ale_sticky_actions_are_refused_since_they_cannot_be_resumed():
    """Pitfall 1: the action a sticky frame repeats lives in ALE's StellaEnvironment, outside its ALEState."""
    with pytest.raises(EnvError, match=r"ALE/Pong-v5 with repeat_action_probability=0.25: .*StickyAction"):
        make("ALE/Pong-v5", seed=0, repeat_action_probability=0.25)
    env = gym.make("ALE/Pong-v5", repeat_action_probability=0.25)  # made around `make`
    env.reset(seed=0)
    with pytest.raises(EnvError, match=r"repeat_action_probability=0.25.*expected 0.0"):
        env_state(env)


def test_sticky_actions_from_gymnasiums_wrapper_resume_exactly(tmp_path):
    """gymnasium's StickyAction draws from the env's np_random, which MinAtar creates lazily, unseeded."""
    resume_replays("MinAtar/Breakout-v1", {}, warmup=100, steps=300, tmp_path=tmp_path,
                   wrap=lambda env: gym.wrappers.StickyAction(env, repeat_action_probability=0.5))


# ---- what the state holds ---------------------------------------------------------------------------------------

# Every attribute of each MinAtar game (minatar 1.0.15) after some steps; all are saved.
MINATAR_ATTRIBUTES = {
    "Asterix": {"channels", "action_map", "ramping", "player_x", "player_y", "entities", "shot_timer",
                "spawn_speed", "spawn_timer", "move_speed", "move_timer", "ramp_timer", "ramp_index", "terminal"},
    "Breakout": {"channels", "action_map", "ball_y", "ball_x", "ball_dir", "pos", "brick_map", "strike", "last_x",
                 "last_y", "terminal"},
    "Freeway": {"channels", "action_map", "cars", "pos", "move_timer", "terminate_timer", "terminal"},
    "Seaquest": {"channels", "action_map", "ramping", "oxygen", "diver_count", "sub_x", "sub_y", "sub_or",
                 "f_bullets", "e_bullets", "e_fish", "e_subs", "divers", "e_spawn_speed", "e_spawn_timer",
                 "d_spawn_timer", "move_speed", "ramp_index", "shot_timer", "surface", "terminal"},
    "SpaceInvaders": {"channels", "action_map", "ramping", "pos", "f_bullet_map", "e_bullet_map", "alien_map",
                      "alien_dir", "enemy_move_interval", "alien_move_timer", "alien_shot_timer", "ramp_index",
                      "shot_timer", "terminal"},
}


def assert_identical(a, b, where):
    """Equal values of the same types, all the way down (np.int64 stays np.int64, arrays keep their dtype)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("game", MINATAR_GAMES)
def test_every_minatar_attribute_round_trips_with_its_type(game, tmp_path):
    env = make(f"MinAtar/{game}-v1", seed=0)
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    for a in rng.integers(env.action_space.n, size=60):  # mid-episode: entities on the board, timers running
        if env.step(a)[2]:
            env.reset()
    state = checkpointed(tmp_path, env_state(env))
    assert set(state["env"]["minatar"]["game"]) == MINATAR_ATTRIBUTES[game]

    fresh = make(f"MinAtar/{game}-v1", seed=5)
    fresh.reset(seed=5)
    set_env_state(fresh, state)
    source, target = env.unwrapped.game, fresh.unwrapped.game
    for k in set(vars(source.env)) | set(vars(target.env)):
        if k != "random":
            assert_identical(getattr(target.env, k), getattr(source.env, k), f"{game}.{k}")
    for k in ("env_name", "n_channels", "sticky_action_prob", "last_action", "visualized", "closed"):
        assert_identical(getattr(target, k), getattr(source, k), f"Environment.{k}")
    assert_identical(target.random.get_state(), source.random.get_state(), "RandomState")
    assert target.env.random is target.random  # pitfall 4: one generator, shared


def test_a_state_shares_no_array_with_the_env_it_came_from_or_went_into():
    """Pitfall 5: Breakout knocks bricks out of its brick map in place."""
    env = make("MinAtar/Breakout-v1", seed=0)
    env.reset(seed=1)
    state = env_state(env)
    snapshot = copy.deepcopy(state)
    fresh = make("MinAtar/Breakout-v1", seed=1)
    fresh.reset(seed=2)
    set_env_state(fresh, state)
    actions = np.random.default_rng(1).integers(3, size=27)  # two bricks knocked out, the episode goes on
    for e in (env, fresh):
        for a in actions:
            assert not e.step(a)[2]
        assert (e.unwrapped.game.env.brick_map != snapshot["env"]["minatar"]["game"]["brick_map"]).sum() == 2
    assert_identical(state, snapshot, "state")


def test_freeway_keeps_its_numpy_integers():
    """Pitfall 5: Freeway's cars hold np.int64; they come back as np.int64, not int."""
    env = make("MinAtar/Freeway-v1", seed=0)
    env.reset(seed=0)
    fresh = make("MinAtar/Freeway-v1", seed=1)
    fresh.reset(seed=1)
    set_env_state(fresh, env_state(env))
    kinds = {type(x) for car in fresh.unwrapped.game.env.cars for x in car}
    assert kinds == {type(x) for car in env.unwrapped.game.env.cars for x in car}
    assert np.int64 in kinds


def test_minatar_unseeded_generators_stay_two():
    """Pitfall 4, the other way: before a seeded reset, game and sticky actions draw from two generators."""
    env = make("MinAtar/Asterix-v1", seed=0)
    env.reset()  # no seed: two unseeded RandomStates
    source = env.unwrapped.game
    assert source.env.random is not source.random
    state = env_state(env)
    actions = np.random.default_rng(0).integers(env.action_space.n, size=200)
    expected = play(env, actions)
    fresh = make("MinAtar/Asterix-v1", seed=1)
    fresh.reset(seed=1)  # one shared generator, which the state splits again
    set_env_state(fresh, state)
    assert fresh.unwrapped.game.env.random is not fresh.unwrapped.game.random
    assert_same(play(fresh, actions), expected)


def test_state_holds_only_checkpointable_values():
    """JSON-able values and NumPy arrays only: nothing that needs pickle, no bytes."""
    def walk(obj, where):
        if isinstance(obj, dict):
            for k, v in obj.items():
                assert isinstance(k, str), f"{where}: key {k!r}"
                walk(v, f"{where}/{k}")
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, f"{where}/{i}")
        else:
            assert obj is None or type(obj) in (bool, int, float, str, np.ndarray), f"{where}: {type(obj)}"
            if isinstance(obj, np.ndarray):
                assert obj.dtype.kind in "biuf", where

    for env_id, kwargs in (("CartPole-v1", {}), ("MinAtar/Seaquest-v1", {}), ("ALE/Pong-v5", {"obs_type": "grayscale"})):
        env = make(env_id, seed=0, **kwargs)
        env.reset(seed=0)
        env.step(0)
        walk(env_state(env), env_id)


def test_ale_state_is_alestates_own_serialization():
    """Pitfall 2: ALEState.serialize() and the ALEState(bytes) constructor, no pickle, include the RNG."""
    import ale_py

    env = make("ALE/Breakout-v5", seed=0)
    env.reset(seed=0)
    for _ in range(50):
        env.step(1)
    serialized = env_state(env)["env"]["ale"]["serialized"]
    ale = env.unwrapped.ale
    assert serialized.tobytes() == ale.cloneState(include_rng=True).serialize()
    assert serialized.size > len(ale.cloneState(include_rng=False).serialize())  # + the generator
    assert ale_py.ALEState(serialized.tobytes()).getEpisodeFrameNumber() == ale.getEpisodeFrameNumber() == 50


def test_the_spaces_generators_resume():
    """`action_space.sample()` (an epsilon-greedy's random action, say) continues its sequence too."""
    env = gym.wrappers.ResizeObservation(make("ALE/Pong-v5", seed=0, obs_type="grayscale"), (84, 84))
    env.reset(seed=0)
    [env.action_space.sample() for _ in range(5)], env.observation_space.sample()
    state = env_state(env)
    expected = [int(env.action_space.sample()) for _ in range(20)], env.observation_space.sample()
    fresh = gym.wrappers.ResizeObservation(make("ALE/Pong-v5", seed=1, obs_type="grayscale"), (84, 84))
    set_env_state(fresh, state)
    got = [int(fresh.action_space.sample()) for _ in range(20)], fresh.observation_space.sample()
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1]) and got[1].shape == (84, 84)


def test_state_taken_right_after_the_first_reset_resumes_in_an_env_never_reset():
    """Pitfall 6: PassiveEnvChecker holds the first reset's (obs, info) until the second step, which needs them."""
    env = make("CartPole-v1", seed=0)
    env.reset(seed=0)
    state = env_state(env)
    actions = np.random.default_rng(0).integers(2, size=100)
    expected = play(env, actions)
    fresh = make("CartPole-v1", seed=1)  # not reset at all
    set_env_state(fresh, state)
    assert_same(play(fresh, actions), expected)


def test_time_limit_and_episode_statistics_resume(tmp_path):
    """TimeLimit's count and RecordEpisodeStatistics' returns and lengths carry over; its clock keeps the
    time since the episode began (pitfall 7)."""
    wrap = lambda env: gym.wrappers.RecordEpisodeStatistics(gym.wrappers.TimeLimit(env, max_episode_steps=20))
    env = wrap(make("CartPole-v1", seed=0))
    env.reset(seed=0)
    for a in [0, 1] * 27 + [0]:  # balanced: reaches the time limit of 20 steps, then 15 more
        if any(env.step(a)[2:4]):
            env.reset()
    assert env.env._elapsed_steps > 0
    state = env_state(env)
    fresh = wrap(make("CartPole-v1", seed=1))
    fresh.reset(seed=1)
    time.sleep(0.01)
    set_env_state(fresh, checkpointed(tmp_path, state))
    source, target = env, fresh
    assert target.episode_count == source.episode_count >= 1
    assert list(target.return_queue) == list(source.return_queue)
    assert target.env._elapsed_steps == source.env._elapsed_steps
    assert abs(target.episode_start_time - source.episode_start_time) < 0.5

    def episodes(e):
        ends = []
        for a in [0, 1] * 25:
            _, _, terminated, truncated, info = e.step(a)
            if terminated or truncated:
                ends.append((info["episode"]["r"], info["episode"]["l"]))
                e.reset()
        return ends

    assert episodes(fresh) == episodes(env) != []

def test_gymnasiums_stateful_wrappers_resume(tmp_path):
    """Frame stacks, delays, max-pooled skips, time features and autoreset each keep state between steps."""
    w = gym.wrappers
    wrap = lambda env: w.Autoreset(w.FrameStackObservation(w.MaxAndSkipObservation(
        w.TimeAwareObservation(w.DelayObservation(env, 2)), skip=2), 3))
    state = resume_replays("CartPole-v1", {}, warmup=7, steps=150, tmp_path=tmp_path, min_episode_ends=3, wrap=wrap)
    assert [s["type"].rsplit(".", 1)[1] for s in state["wrappers"][:5]] == [
        "Autoreset", "FrameStackObservation", "MaxAndSkipObservation", "TimeAwareObservation", "DelayObservation"]


def test_gymnasiums_atari_preprocessing_resumes(tmp_path):
    wrap = lambda env: gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, terminal_on_life_loss=True)
    resume_replays("ALE/Breakout-v5", {}, warmup=40, steps=300, tmp_path=tmp_path, min_episode_ends=3, wrap=wrap)


class Counter(gym.Wrapper):
    """A wrapper with state of its own, saved through its state_dict."""

    def __init__(self, env):
        super().__init__(env)
        self.count = 0

    def step(self, action):
        self.count += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward + self.count, terminated, truncated, info

    def state_dict(self):
        return {"count": self.count, "history": np.arange(self.count)}

    def load_state_dict(self, state):
        self.count = int(state["count"])


class Mystery(gym.Wrapper):
    """A wrapper whose state this module cannot know."""

    def __init__(self, env):
        super().__init__(env)
        self.memory = []


def test_a_wrapper_with_state_dict_is_saved_through_it(tmp_path):
    state = resume_replays("CartPole-v1", {}, warmup=25, steps=100, tmp_path=tmp_path, wrap=Counter)
    assert state["wrappers"][0]["state_dict"]["count"] == 25


def test_an_unknown_wrapper_is_refused_rather_than_its_state_lost():
    env = Mystery(make("CartPole-v1", seed=0))
    env.reset(seed=0)
    with pytest.raises(EnvError, match=r"wrapper Mystery \(.*test_rl_envs.Mystery\).*no state_dict"):
        env_state(env)


def test_a_state_goes_only_into_an_env_of_the_same_id_and_wrappers():
    env = make("MinAtar/Breakout-v1", seed=0)
    env.reset(seed=0)
    state = env_state(env)
    other = make("MinAtar/Asterix-v1", seed=0)
    other.reset(seed=0)
    with pytest.raises(EnvError, match=r"the state is of 'MinAtar/Breakout-v1'.*this env is 'MinAtar/Asterix-v1'"):
        set_env_state(other, state)
    wrapped = gym.wrappers.ClipReward(make("MinAtar/Breakout-v1", seed=0), 0, 1)
    with pytest.raises(EnvError, match=r"wrapped in \[.*ClipReward"):
        set_env_state(wrapped, state)
    with pytest.raises(EnvError, match="not an environment state"):
        set_env_state(env, {"id": "MinAtar/Breakout-v1"})


# ---- vector environments ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", ["CartPole-v1", "MinAtar/Breakout-v1"])
def test_sync_vector_env_resumes_with_an_autoreset_pending(env_id, tmp_path):
    def vector(seed):
        envs = gym.vector.SyncVectorEnv([lambda i=i: make(env_id, seed=seed + i) for i in range(3)])
        envs.reset(seed=seed)
        return envs

    def vplay(envs, actions):
        return [tuple(np.array(x) for x in envs.step(a)[:4]) for a in actions]

    envs = vector(10)
    rng = np.random.default_rng(0)
    n = envs.single_action_space.n
    while not envs._autoreset_envs.any():  # stop where a sub-env ended: it resets at the next step
        envs.step(rng.integers(n, size=3))
    state = vector_env_state(envs)
    actions = rng.integers(n, size=(200, 3))
    expected = vplay(envs, actions)
    expected_sample = envs.action_space.sample()  # the batched space's generator resumes too
    for saved in (state, checkpointed(tmp_path, state)):
        fresh = vector(99)
        set_vector_env_state(fresh, saved)
        got = vplay(fresh, actions)
        for i, (g, e) in enumerate(zip(got, expected)):
            assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(g, e)), f"step {i}"
        assert np.array_equal(fresh.action_space.sample(), expected_sample)


def test_vector_envs_other_than_sync_are_refused():
    envs = gym.wrappers.vector.RecordEpisodeStatistics(
        gym.vector.SyncVectorEnv([lambda: make("CartPole-v1", seed=0)]))
    with pytest.raises(EnvError, match="expected a gymnasium.vector.SyncVectorEnv, got .*RecordEpisodeStatistics"):
        vector_env_state(envs)
    with pytest.raises(EnvError, match="use vector_env_state"):
        env_state(envs.env)


# ---- make ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id, message", [
    ("MinAtar/Pacman-v1", "unknown MinAtar game 'Pacman' in 'MinAtar/Pacman-v1'; expected one of Asterix, Breakout, "
                          "Freeway, Seaquest, SpaceInvaders"),
    ("MinAtar/breakout-v1", "unknown MinAtar game 'breakout' in 'MinAtar/breakout-v1' (did you mean Breakout?)"),
    ("MinAtar/Breakout-v0", "'MinAtar/Breakout-v0': expected MinAtar/Breakout-v1 (v1: the minimal action set), "
                            "got -v0"),
    ("ALE/Pongg-v5", "unknown ALE game 'Pongg' in 'ALE/Pongg-v5' (did you mean Pong?); expected one of Adventure, "),
    ("ALE/Pong-v4", "'ALE/Pong-v4': expected ALE/Pong-v5, got -v4"),
    ("CartPole-v0", "unknown environment id 'CartPole-v0'; expected 'CartPole-v1', 'MinAtar/<Game>-v1' (<Game> one "
                    "of Asterix, Breakout, Freeway, Seaquest, SpaceInvaders) or 'ALE/<Game>-v5'"),
    ("Breakout", "unknown environment id 'Breakout'"),
    ("", "unknown environment id ''"),
])
def test_bad_ids_say_what_is_accepted(env_id, message):
    with pytest.raises(EnvError) as e:
        make(env_id, seed=0)
    assert str(e.value).startswith(message)
    assert isinstance(e.value, ValueError)


def test_bad_seeds_are_refused():
    for seed in (-1, 1.5, "0", True):
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            make("CartPole-v1", seed=seed)


def test_make_does_not_reset_and_registers_minatar_once():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # gymnasium warns when an id is registered again
        for _ in range(2):
            env = make("MinAtar/Seaquest-v1", seed=0)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    assert make("CartPole-v1", seed=0).unwrapped.state is None


def test_make_seeds_the_spaces_and_the_first_reset_seeds_the_env():
    for env_id in ("CartPole-v1", "MinAtar/SpaceInvaders-v1", "ALE/Breakout-v5"):
        samples = [[int(space.sample()) for _ in range(30)]
                   for space in (make(env_id, seed=s).action_space for s in (3, 3, 4))]
        assert samples[0] == samples[1] != samples[2]
        runs = []
        for _ in range(2):
            env = make(env_id, seed=7)
            first = env.reset(seed=7)[0]
            actions = np.random.default_rng(0).integers(env.action_space.n, size=200)
            runs.append([("reset", np.array(first))] + play(env, actions))
        assert_same(runs[0], runs[1])

def test_ale_is_raw_frames_at_frameskip_1_without_sticky_actions():
    gray = make("ALE/Pong-v5", seed=0, obs_type="grayscale")
    rgb = make("ALE/Pong-v5", seed=0)
    assert gray.observation_space.shape == (210, 160) and rgb.observation_space.shape == (210, 160, 3)
    assert gray.unwrapped._frameskip == 1
    assert gray.unwrapped.ale.getFloat("repeat_action_probability") == 0.0
    gray.reset(seed=0)
    assert gray.step(0)[4]["episode_frame_number"] == 1
