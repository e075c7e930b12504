"""The Nature Atari preprocessing (milestones.rl.atari) against independent references: gymnasium's
AtariPreprocessing and ale-py's C++ vector env frame for frame, the BT.601 luminance formula on RGB
screens, a float64 area average for the resize, the ALE replayed frame by frame for the max-pool,
and the game logic (FIRE, lives, no-ops, frame cap, saved state) on Breakout and Pong."""
from __future__ import annotations

import copy
import os
import time
from fractions import Fraction

import gymnasium
import numpy as np
import pytest

from milestones.checkpoint import pack, unpack
from milestones.rl.atari import NatureAtari, make_atari, resize_area

ale_py = pytest.importorskip("ale_py")
pytest.importorskip("cv2")


def raw_env(game: str, **kwargs):
    gymnasium.register_envs(ale_py)
    kwargs = {"frameskip": 1, "repeat_action_probability": 0.0, "obs_type": "grayscale", **kwargs}
    return gymnasium.make(f"ALE/{game}-v5", **kwargs)


def vector_env(game: str, **kwargs):
    from ale_py.vector_env import AtariVectorEnv

    kwargs = {"num_threads": 1, "repeat_action_probability": 0.0, "img_height": 84, "img_width": 84,
              "grayscale": True, "stack_num": 4, "frameskip": 4, "maxpool": True, "noop_max": 0,
              "use_fire_reset": False, "episodic_life": False, "reward_clipping": False, **kwargs}
    return AtariVectorEnv(game, 1, **kwargs)


def differ(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """(max abs difference in grey levels, share of pixels that differ)."""
    d = np.abs(a.astype(np.int64) - b.astype(np.int64))
    return int(d.max()), float((d > 0).mean())


# ---- against gymnasium's AtariPreprocessing -------------------------------------------------------

@pytest.mark.parametrize("game, noop_max, life_loss, steps", [
    ("Breakout", 0, False, 3000),  # a whole game of random play
    ("Pong", 30, False, 600),  # no-ops on: same draw from the same generator
    ("Breakout", 0, True, 3000),  # up to the first lost life (it then resets the whole game)
])
def test_newest_frame_equals_atari_preprocessing(game, noop_max, life_loss, steps):
    """Our newest frame is its observation, our reward its reward, at every step but an episode's last.
    FIRE off (it has none); no-ops on or off (both draw U{1, …, noop_max} from the env's np_random)."""
    from gymnasium.wrappers import AtariPreprocessing

    ours = make_atari(game, noop_max=noop_max, fire_reset=False, terminal_on_life_loss=life_loss,
                      max_episode_frames=None)
    peer = AtariPreprocessing(raw_env(game), noop_max=noop_max, frame_skip=4, screen_size=84,
                              terminal_on_life_loss=life_loss, grayscale_obs=True, scale_obs=False)
    obs, info = ours.reset(seed=7)
    ref, _ = peer.reset(seed=7)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert np.array_equal(obs[-1], ref) and (obs[:-1] == 0).all()
    if noop_max:
        assert 1 <= info["noops"] <= noop_max and info["game_frames"] == info["noops"]
    rng = np.random.default_rng(0)
    for t in range(steps):
        a = int(rng.integers(ours.action_space.n))
        obs, r, term, trunc, info = ours.step(a)
        ref, r_ref, term_ref, trunc_ref, _ = peer.step(a)
        assert (r, term, trunc) == (r_ref, term_ref, trunc_ref), t
        if term or trunc:
            break
        assert np.array_equal(obs[-1], ref), t
    if game == "Pong":
        assert not term and info["game_return"] < 0  # 600 steps of a long game, points lost
        return
    assert term
    # the last step ended inside the repeat: the peer's max-pool buffers hold older frames
    assert info["game_over"] != life_loss and info["life_lost"]
    worst, share = differ(obs[-1], ref)
    print(f"\n{game} terminal frame vs AtariPreprocessing: max {worst} grey levels on {share:.2%} of pixels")
    assert share <= 0.006  # measured: 0.26 %, 0.38 % (Breakout), 0.50 % (Space Invaders)


# ---- against ale-py's vector env (C++ preprocessing) ----------------------------------------------

@pytest.mark.parametrize("game, fire, clip", [("Breakout", False, False), ("Breakout", True, False),
                                              ("SpaceInvaders", False, True)])
def test_stack_equals_ale_vector_env(game, fire, clip):
    """A whole game with FIRE off; with FIRE on up to the first lost life (we then press FIRE for one
    frame, it does not). Space Invaders scores 5 to 30 points an invader: clipped to 1 by both."""
    ours = make_atari(game, noop_max=0, fire_reset=fire, clip_rewards=clip, max_episode_frames=None)
    peer = vector_env({"Breakout": "breakout", "SpaceInvaders": "space_invaders"}[game], use_fire_reset=fire,
                      reward_clipping=clip)
    obs, info = ours.reset(seed=3)
    ref, ref_info = peer.reset(seed=3)
    assert np.array_equal(obs, ref[0])  # zeros, zeros, zeros, the first frame
    assert info["game_frames"] == ref_info["episode_frame_number"][0] == int(fire)
    rng, clipped = np.random.default_rng(1), 0
    for t in range(3000):
        a = int(rng.integers(ours.action_space.n))
        obs, r, term, trunc, info = ours.step(a)
        ref, r_ref, term_ref, trunc_ref, ref_info = peer.step(np.array([a]))
        assert (r, term, trunc, info["lives"]) == (r_ref[0], term_ref[0], trunc_ref[0], ref_info["lives"][0]), t
        clipped += info["game_reward"] > r
        if term:
            break
        assert np.array_equal(obs, ref[0]), t
        assert info["game_frames"] == ref_info["episode_frame_number"][0]
        if fire and info["life_lost"]:
            _, _, _, _, info = ours.step(0)
            _, _, _, _, ref_info = peer.step(np.array([0]))
            assert info["game_frames"] == ref_info["episode_frame_number"][0] + 1  # our FIRE frame
            return
    assert term and info["game_over"] and (clipped > 0) == clip
    assert np.array_equal(obs[:-1], ref[0, :-1])  # only the newest frame of the last step differs
    worst, share = differ(obs[-1], ref[0, -1])
    print(f"\n{game} terminal frame vs vector env: max {worst} grey levels on {share:.2%} of pixels")
    assert share <= 0.006  # measured: 0.26 %, 0.38 % (Breakout), 0.50 % (Space Invaders)


def test_frame_cap_equals_ale_vector_env():
    """Both count raw frames and stop the repeat at the cap: 402 frames end on the 2nd frame of step 101."""
    cap = 402
    ours = make_atari("Pong", noop_max=0, fire_reset=False, max_episode_frames=cap)
    peer = vector_env("pong", max_num_frames_per_episode=cap)
    obs, _ = ours.reset(seed=0)
    peer.reset(seed=0)
    rng = np.random.default_rng(2)
    for t in range(1, 200):
        a = int(rng.integers(6))
        obs, r, term, trunc, info = ours.step(a)
        ref, r_ref, term_ref, trunc_ref, ref_info = peer.step(np.array([a]))
        assert (r, term, trunc) == (r_ref[0], term_ref[0], trunc_ref[0]), t
        assert info["game_frames"] == ref_info["episode_frame_number"][0]
        if trunc:
            break
        assert np.array_equal(obs, ref[0]), t
    assert np.array_equal(obs[:-1], ref[0, :-1])
    assert (t, trunc, term, info["game_frames"], info["game_over"]) == (101, True, False, cap, True)


def test_life_loss_equals_ale_vector_env_episodic_life():
    """Up to the first lost life both stop the repeat at the frame the life is lost."""
    ours = make_atari("Breakout", noop_max=0, fire_reset=True, terminal_on_life_loss=True, max_episode_frames=None)
    peer = vector_env("breakout", use_fire_reset=True, episodic_life=True)
    obs, _ = ours.reset(seed=0)
    ref, _ = peer.reset(seed=0)
    rng = np.random.default_rng(3)
    for t in range(3000):
        a = int(rng.integers(4))
        obs, r, term, trunc, info = ours.step(a)
        ref, r_ref, term_ref, trunc_ref, ref_info = peer.step(np.array([a]))
        assert (r, term, info["game_frames"]) == (r_ref[0], term_ref[0], ref_info["episode_frame_number"][0]), t
        if term:
            break
        assert np.array_equal(obs, ref[0]), t
    assert term and info["life_lost"] and not info["game_over"] and info["lives"] == 4


# ---- the equations: luminance, resize, max-pool ---------------------------------------------------

@pytest.mark.parametrize("game", ["Pong", "Seaquest"])
def test_ale_grayscale_is_bt601_luminance(game):
    """Step 4: the ALE's grayscale pixel = round(0.2989 R + 0.5870 G + 0.1140 B) of its RGB pixel."""
    env = raw_env(game, obs_type="rgb")
    env.reset(seed=0)
    ale, rng = env.unwrapped.ale, np.random.default_rng(0)
    colours = set()
    for t in range(300):
        rgb = env.step(int(rng.integers(env.action_space.n)))[0]  # (210, 160, 3)
        y = np.rint(rgb.astype(np.float64) @ np.array([0.2989, 0.5870, 0.1140]))
        assert np.array_equal(ale.getScreenGrayscale(), y.astype(np.uint8)), t
        colours.update(map(tuple, rgb.reshape(-1, 3)[::97]))
    assert len(colours) >= 5


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): row i weighs input pixel j by the length of [j, j+1) ∩ [i s, (i+1) s) over s = n_in / n_out."""
    s, m = Fraction(n_in, n_out), np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * s, (i + 1) * s
        for j in range(int(lo), min(n_in, -(-hi.numerator // hi.denominator))):
            m[i, j] = float((min(hi, j + 1) - max(lo, j)) / s)
    return m


def test_resize_is_the_area_average():
    """Step 5: INTER_AREA 210 × 160 -> 84 × 84 is the area-weighted mean (OpenCV sums in float32: ties
    may round the other way, one grey level)."""
    ry, rx = area_matrix(210, 84), area_matrix(160, 84)
    assert np.allclose(ry.sum(1), 1) and np.allclose(rx.sum(1), 1)
    env = raw_env("Seaquest")
    frame, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    frames = [env.step(int(rng.integers(18)))[0] for _ in range(200)][::10] + [rng.integers(0, 256, (210, 160))]
    for f in frames:
        f = f.astype(np.uint8)
        literal = np.rint(ry @ f.astype(np.float64) @ rx.T)  # (84, 84)
        worst, share = differ(resize_area(f, 84), literal)
        assert worst <= 1 and share < 0.005


def test_every_frame_is_the_max_of_the_last_two_frames_played():
    """Steps 3, 5, 6, against the ALE replayed by hand: each step's newest frame is the resized max of
    the last two raw frames it played (also on the steps that end at a lost life or the game's end),
    and the history holds the previous steps' frames (zeros before an episode's first)."""
    env = make_atari("Breakout", noop_max=5, terminal_on_life_loss=True, max_episode_frames=None)
    ale, action_set = env.unwrapped.ale, env.unwrapped._action_set
    obs, info = env.reset(seed=1)
    assert info["game_frames"] == ale.getEpisodeFrameNumber() == 1 + info["noops"]  # FIRE, then no-ops
    assert np.array_equal(obs[-1], resize_area(ale.getScreenGrayscale(), 84))
    rng, episodes, seen = np.random.default_rng(4), 0, []
    for t in range(5000):
        a = int(rng.integers(4))
        before, frames_before = ale.cloneState(include_rng=True), info["game_frames"]
        new, r, term, trunc, info = env.step(a)
        after, played = ale.cloneState(include_rng=True), info["game_frames"] - frames_before
        ale.restoreState(before)  # replay the step by hand
        screens = []
        for _ in range(played):
            ale.act(action_set[a])
            screens.append(ale.getScreenGrayscale())
        ale.restoreState(after)
        assert played <= 4 and (played == 4 or term)
        assert np.array_equal(new[-1], resize_area(np.maximum(screens[-1], screens[-2]), 84)), t
        assert np.array_equal(new[:-1], obs[1:]), t
        seen.append(played)
        obs = new
        if term or trunc:
            episodes += 1
            if info["game_over"]:
                break
            obs, info = env.reset()  # the same game goes on after a lost life, FIRE pressed
            assert info["noops"] == 0 and (obs[:-1] == 0).all()
            assert np.array_equal(obs[-1], resize_area(ale.getScreenGrayscale(), 84))
    assert info["game_over"] and episodes == 5 and min(seen) < 4  # some lives ended inside the repeat


# ---- game logic -----------------------------------------------------------------------------------

def lives_lost_with_noops(env, steps: int) -> tuple[int, dict]:
    lost, info = 0, {}
    for _ in range(steps):
        _, _, term, trunc, info = env.step(0)
        lost += info["life_lost"]
        if term or trunc:
            break
    return lost, info


def test_fire_at_reset_and_after_a_lost_life_on_breakout():
    """Breakout launches the ball only on FIRE: with NOOP-only play a life is lost only if we press it."""
    env = make_atari("Breakout", noop_max=0, fire_reset=False)
    env.reset(seed=0)
    assert lives_lost_with_noops(env, 300)[0] == 0
    env = make_atari("Breakout", noop_max=0)  # fire_reset defaults on: Breakout has FIRE
    assert env.fire_reset and env.fire_action == 1
    env.reset(seed=0)
    frames, lost, previous_lost = [], 0, False
    while True:  # evaluation: whole games, FIRE one frame after every lost life
        before = env.unwrapped.ale.getEpisodeFrameNumber()
        _, _, term, trunc, info = env.step(0)
        frames.append(info["game_frames"] - before)
        lost += info["life_lost"]
        if frames[-1] == 5:  # the FIRE frame, then the agent's four
            assert previous_lost
        previous_lost = info["life_lost"]
        if term or trunc:
            break
    assert (lost, info["lives"], info["game_over"], term) == (5, 0, True, True)
    assert frames.count(5) == 4  # after each of the first four lost lives


def test_terminal_on_life_loss_ends_episodes_but_not_the_game():
    env = make_atari("Breakout", noop_max=0, terminal_on_life_loss=True, max_episode_frames=None)
    env.reset(seed=5)
    rng, lives, game_return, rewards, episodes = np.random.default_rng(5), [], 0.0, [], 0
    while True:
        _, r, term, trunc, info = env.step(int(rng.integers(4)))
        game_return += info["game_reward"]
        rewards.append(r)
        assert info["game_return"] == game_return
        if term or trunc:
            episodes += 1
            lives.append(info["lives"])
            if info["game_over"]:
                break
            assert term and info["life_lost"] and not trunc
            with pytest.raises(RuntimeError, match="call reset"):
                env.step(0)
            _, info = env.reset()
            assert info["game_return"] == game_return and info["lives"] == lives[-1]  # the same game
    assert episodes == 5 and lives == [4, 3, 2, 1, 0]
    assert game_return == sum(rewards) > 0  # unclipped here: Breakout's rewards are 1, 4 and 7
    obs, info = env.reset()  # after the game's end: a new game
    assert info["lives"] == 5 and info["game_return"] == 0


def test_clip_rewards_keeps_the_game_score_in_info():
    env = make_atari("SpaceInvaders", noop_max=0, clip_rewards=True, max_episode_frames=None)
    env.reset(seed=0)
    rng, seen = np.random.default_rng(6), set()
    for _ in range(500):
        _, r, term, trunc, info = env.step(int(rng.integers(6)))
        assert r == np.clip(info["game_reward"], -1, 1)
        seen.add(info["game_reward"])
        if term or trunc:
            break
    assert max(seen) > 1  # invaders are worth 5 to 30 points, clipped to 1


def test_noops_come_from_the_seeded_generator():
    counts, env, twin = [], make_atari("Pong", noop_max=30, fire_reset=False), raw_env("Pong")
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        twin.reset(seed=seed)
        expected = int(twin.unwrapped.np_random.integers(1, 31))  # the same draw, from an independent copy
        assert info["noops"] == expected and 0 <= info["noops"] <= 30
        assert info["game_frames"] == env.unwrapped.ale.getEpisodeFrameNumber() == info["noops"]
        again, info2 = env.reset(seed=seed)
        assert info2["noops"] == info["noops"] and np.array_equal(again, obs)
        counts.append(info["noops"])
    assert len(set(counts)) > 2
    assert make_atari("Pong", noop_max=0).reset(seed=0)[1]["noops"] == 0


@pytest.mark.parametrize("game, fire, cap, steps", [
    ("Breakout", False, 18_000, 4500),  # no FIRE, no no-ops: the game waits forever; 4 frames a step
    ("Pong", True, 403, 101),  # the FIRE frame at reset, 4 a step: frame 403 is the 2nd of step 101
])
def test_max_episode_frames_truncates_at_the_raw_frame_count(game, fire, cap, steps):
    env = make_atari(game, noop_max=0, fire_reset=fire, max_episode_frames=cap)
    env.reset(seed=0)
    for t in range(1, steps + 1):
        _, _, term, trunc, info = env.step(0)
        assert (term, trunc) == (False, t == steps), t
    assert (info["game_frames"], info["game_over"]) == (cap, True)
    assert env.unwrapped.ale.getEpisodeFrameNumber() == cap
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    assert env.reset()[1]["game_frames"] == int(fire)


def play(env, rng, k: int, actions: list[int] | None = None) -> tuple[list, list[int]]:
    """k steps (resetting after an episode's end): their outputs, and the actions taken."""
    out, taken = [], []
    for i in range(k):
        a = actions[i] if actions else int(rng.integers(env.action_space.n))
        obs, r, term, trunc, info = env.step(a)
        out.append((obs, r, term, trunc, dict(info)))
        taken.append(a)
        if term or trunc:
            out.append(env.reset())
    return out, taken


@pytest.mark.parametrize("saved_at", ["after a lost life", "mid-episode"])
def test_state_dict_round_trip(saved_at):
    """Save the wrapper's state (through the checkpoint's pack/unpack) with the ALE's state and the
    no-op generator's; play on; restore into a fresh env; replaying the same actions gives the same
    frames, rewards and infos."""
    def make():
        return make_atari("Breakout", noop_max=30, terminal_on_life_loss=True, max_episode_frames=None)

    env, rng = make(), np.random.default_rng(11)
    env.reset(seed=11)
    while True:  # up to a lost life: the state then has a pending FIRE and a game to continue
        _, _, term, _, info = env.step(int(rng.integers(4)))
        if term:
            break
    if saved_at == "mid-episode":
        env.reset()
        play(env, rng, 30)
    tensors: dict = {}
    state = pack(env.state_dict(), tensors)  # as a checkpoint stores it: JSON and arrays
    assert state["$dict"]["continue_game"] == state["$dict"]["fire_pending"] == (saved_at == "after a lost life")
    ale_state = env.unwrapped.ale.cloneState(include_rng=True)
    np_state = copy.deepcopy(env.unwrapped.np_random.bit_generator.state)
    first = [env.reset()] if saved_at == "after a lost life" else []
    rest, taken = play(env, rng, 300)  # long enough to end a life and start a new one
    first += rest

    env = make()  # a resumed run: a fresh env, reset once (gymnasium's OrderEnforcing wants it)
    env.reset(seed=0)
    env.unwrapped.ale.restoreState(ale_state)
    env.unwrapped.np_random.bit_generator.state = np_state
    env.load_state_dict(unpack(state, tensors))
    second = [env.reset()] if saved_at == "after a lost life" else []
    second += play(env, rng, 300, taken)[0]
    assert len(first) == len(second) and any(len(x) == 2 for x in first)  # a reset happened in between
    for t, (a, b) in enumerate(zip(first, second)):
        assert np.array_equal(a[0], b[0]) and a[1:] == b[1:], t


def test_load_state_dict_refuses_a_bad_state():
    env = make_atari("Pong")
    env.reset(seed=0)
    state = env.state_dict()
    with pytest.raises(KeyError, match="raw_frames"):
        env.load_state_dict({k: v for k, v in state.items() if k != "raw_frames"})
    with pytest.raises(ValueError, match=r"\(2, 84, 84\)"):
        env.load_state_dict({**state, "history": np.zeros((2, 84, 84), np.uint8)})


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="frameskip=4"):
        NatureAtari(raw_env("Pong", frameskip=4))
    with pytest.raises(ValueError, match="obs_type='rgb'"):
        NatureAtari(raw_env("Pong", obs_type="rgb"))
    with pytest.raises(ValueError, match="action_repeat must be an integer ≥ 1, got 0"):
        make_atari("Pong", action_repeat=0)
    with pytest.raises(ValueError, match="noop_max must be an integer ≥ 0, got -1"):
        make_atari("Pong", noop_max=-1)
    with pytest.raises(ValueError, match="max_episode_frames .* got 0"):
        make_atari("Pong", max_episode_frames=0)
    with pytest.raises(ValueError, match="no FIRE action"):
        make_atari("Freeway", fire_reset=True)
    assert not make_atari("Freeway").fire_reset
    env = make_atari("Pong")
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\[0, 6\), got 6"):
        env.step(6)


# ---- throughput (a printed note; run with MILESTONES_ATARI_SPEED=1 pytest -s -k throughput) --------

@pytest.mark.skipif(not os.environ.get("MILESTONES_ATARI_SPEED"), reason="set MILESTONES_ATARI_SPEED=1 to measure")
def test_throughput_note():
    seconds = 3.0
    env = make_atari("Pong", noop_max=0)
    env.reset(seed=0)
    rng, n, start = np.random.default_rng(0), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, term, trunc, _ = env.step(int(rng.integers(6)))
        n += 1
        if term or trunc:
            env.reset()
    rates = {"NatureAtari": n / (time.perf_counter() - start)}
    for envs, threads in ((1, 1), (1, 2), (2, 2)):
        from ale_py.vector_env import AtariVectorEnv

        v = AtariVectorEnv("pong", envs, num_threads=threads, noop_max=0, repeat_action_probability=0.0)
        v.reset(seed=0)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            v.step(rng.integers(6, size=envs))
            n += envs
        rates[f"vector env, {envs} env(s), {threads} thread(s)"] = n / (time.perf_counter() - start)
        v.close()
    for name, rate in rates.items():
        print(f"\n{name}: {rate:,.0f} agent steps/s ({4 * rate:,.0f} frames/s)")
    assert all(r > 0 for r in rates.values())
