"""The Nature DQN preprocessing of Atari 2600 games (Mnih et al. 2015, "Human-level control through deep
reinforcement learning", Nature 518: Methods, "Preprocessing", "Training details", "Evaluation procedure";
Extended Data Table 1 for the values), as one readable gymnasium wrapper around an ALE environment.

Shapes: T history length (agent history, 4), S screen size (84), raw frames 210 × 160 (ALE, NTSC).
One agent step plays `action_repeat` raw frames and returns the observation (T, S, S) uint8, oldest
frame first, newest last.

The steps, in the order they are applied, with their parameters:
1. New game (`reset`): the ALE resets the game; FIRE is pressed for one raw frame if `fire_reset`
   (default: when the game's action meanings include FIRE), then N ~ U{1, …, noop_max} no-op frames
   (`noop_max` = 30; 0 turns them off), N drawn from the env's own `np_random`, so `reset(seed=s)`
   reproduces N (the paper's "up to 30"; U{1, …} as AtariPreprocessing and OpenAI Baselines draw it, so
  that our frames equal AtariPreprocessing's with no-ops on). The rewards of these frames are dropped
  (as both peers below drop them).
2. Action repeat (`action_repeat` = 4, "frame skip"): the agent's action is played for 4 raw frames,
   the rewards summed. The repeat stops early at the frame where the game ends, the frame cap is hit,
   or (with `terminal_on_life_loss`) a life is lost.
3. Flicker: each pixel is the max over the last two raw frames emulated (Nature: "the maximum value
   for each pixel colour value over the frame being encoded and the previous frame").
4. Luminance: the ALE's grayscale screen, round(0.2989 R + 0.5870 G + 0.1140 B) of each palette
   colour (ITU-R BT.601 Y, which the paper names "the Y channel, also known as luminance"); the
   tests check it against that formula on RGB screens. Taken from the ALE (obs_type="grayscale")
   rather than converted from RGB here because that is what gymnasium's AtariPreprocessing and
   ale-py's vector env use, so our frames can equal theirs bit for bit.
5. Resize to S × S = 84 × 84 with OpenCV's INTER_AREA (each output pixel the area-weighted mean of
   the 2.5 × 1.9 input pixels its footprint covers, rounded; the tests check it against a float64
   area average, within one grey level): what AtariPreprocessing and the vector env use.
6. Stack: the T = 4 most recent frames; at the start of an episode the T − 1 older slots are
   zeros (as DeepMind's replay zero-pads the history before an episode's first frame, and as the
   vector env does).
7. Lives: `terminal_on_life_loss` (training) ends the agent's episode (terminated=True) at the
   frame a life is lost, without resetting the game; the next `reset()` continues the same game
   (FIRE pressed if `fire_reset`, new zero-padded stack, no no-ops). Off (evaluation), episodes are
   whole games; with `fire_reset`, FIRE is then pressed for one raw frame at the start of the step
   after a lost life (Breakout waits for FIRE after every lost ball).
8. Rewards: returned unclipped; Nature's clipping to [−1, 1] is the learner's job (`clip_rewards=True`
   clips here instead, e.g. for a peer-like setup). `info` always carries the unclipped reward.
9. Frame cap: `max_episode_frames` raw frames per game (18 000 = 5 minutes at 60 Hz for the Nature
   evaluation; 108 000 = 30 minutes as DQN Zoo), counted from the game's reset, including the reset's
   FIRE and no-op frames (the ALE's own episode frame number); reaching it ends the step at that
   frame with truncated=True. None: no cap of ours (the ALE env's own `max_num_frames_per_episode`,
   108 000 for v5 unless made with `make_atari`, still applies and also gives truncated=True).

`info` of every step and reset: lives (the ALE's count), game_reward (this step's unclipped reward),
game_return (the game's unclipped score so far, across the lost-life episodes of one game),
game_frames (raw frames since the game's reset), game_over (the game ended: by its rules or the
frame cap; game_return is then the per-game score), life_lost; at reset also noops.

How ours compares with the peers (measured in tests/test_rl_atari.py, ale-py 0.12.1, gymnasium 1.4):
- gymnasium.wrappers.AtariPreprocessing (frame_skip=4, noop_max=N, screen_size=84, grayscale):
  rewards, terminated and truncated are equal at every step, and our newest frame equals its
  observation bit for bit at every step but an episode's last; also with no-ops on (the same draw from
  the same generator), as long as our FIRE is off.
  On a step that ends inside the repeat (game over, lost life, frame cap) its max-pool buffers still
  hold frames of earlier steps, so its last observation is not the max of the last two frames played
  (at the three game ends measured, Breakout twice and Space Invaders, up to 133 grey levels apart on
  at most 0.5 % of the 84 × 84 pixels); ours is. It has no FIRE, no stack and no frame cap of its own;
  its terminal_on_life_loss resets the whole game at the next reset, ours continues the game.
- ale_py.vector_env.AtariVectorEnv (stack_num=4, 84 × 84, grayscale, frameskip=4, maxpool,
  noop_max=0): our whole (4, 84, 84) stack equals its observation bit for bit at every step except
  the last of an episode (same stale max-pool buffers as above), with use_fire_reset off and on (it
  also presses FIRE for one raw frame after reset), with reward_clipping on and off, and with its
  frame cap (it counts frames after the reset's FIRE and no-ops, we count them too: equal only with
  FIRE off and no no-ops). With FIRE on they part at the step after the first lost life, where we press
  FIRE for one frame and it does not. Its no-ops (U{0, …, noop_max − 1}, minus the FIRE frame) come from its
  own C++ generator, so they never match ours. Its episodic_life resets the whole game at a lost life;
  its life_loss_info marks a lost life terminated but plays the rest of the repeat and keeps the stack.

Deviations from the paper:
1. Luminance before the max, not after: the paper maxes the RGB colours, then takes Y; we (and both
   peers) take Y of each frame, then the max. Measured on 500 pooled frames of random play: no difference
   on Breakout, Space Invaders and Enduro; up to 29 grey levels on < 0.6 % of pixels on Pong,
   Seaquest, Beam Rider and Q*bert (where two overlapping objects have different colours).
2. INTER_AREA, not bilinear: DeepMind's released Lua code (Scale.lua) scaled with image.scale
   'bilinear'; we follow the peers so that the frames compare.
3. FIRE after reset and after a lost life is not in the paper (its agent learned to press FIRE);
   it is in most DQN codes since OpenAI Baselines. Turn it off with fire_reset=False.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

NOOP_MAX = 30  # Nature, Extended Data Table 1: "no-op max"
ACTION_REPEAT = 4
HISTORY_LENGTH = 4
SCREEN_SIZE = 84
EVALUATION_FRAMES = 18_000  # Nature's evaluation: 5 minutes at 60 frames/s
DQN_ZOO_FRAMES = 108_000  # 30 minutes
_STATE_KEYS = ("history", "raw_frames", "lives", "game_frames", "game_return", "fire_pending",
               "continue_game", "needs_reset")


def make_atari(game: str, *, repeat_action_probability: float = 0.0, **kwargs: Any) -> NatureAtari:
    """`NatureAtari(ALE/<game>-v5, **kwargs)`: the ALE env with frameskip 1 (we repeat), no sticky
    actions (Nature; Machado et al. 2018 recommend 0.25), grayscale screens and no frame cap of its
    own (ours is `max_episode_frames`). `game` as gymnasium names it: "Breakout", "SpaceInvaders"."""
    import ale_py

    gymnasium.register_envs(ale_py)
    env = gymnasium.make(f"ALE/{game}-v5", frameskip=1, repeat_action_probability=repeat_action_probability,
                         obs_type="grayscale", max_num_frames_per_episode=0)
    return NatureAtari(env, **kwargs)


def vector_game_name(game: str) -> str:
    """ale-py's ROM name for a gymnasium game name: "SpaceInvaders" -> "space_invaders"."""
    return "".join("_" + c.lower() if c.isupper() and k else c.lower() for k, c in enumerate(game))


def make_atari_vector(game: str, num_envs: int, *, threads: int = 0, noop_max: int = 30,
                      max_episode_frames: int = 108_000, terminal_on_life_loss: bool = True) -> Any:
    """ale-py's AtariVectorEnv (C++ emulation and preprocessing on `threads` threads, 0: one per
    core) set to the Nature preprocessing as far as it goes: the action repeated for 4 frames and
    max-pooled over the last two, luminance, 84 × 84 INTER_AREA, a stack of 4 (zeros at a game's
    start), FIRE at reset, up to `noop_max` no-ops, rewards unclipped (the learner clips), a game
    reset within the step that ends it (autoreset "SameStep": its last observation in
    info["final_obs"]) and, with `terminal_on_life_loss`, a lost life marked terminated without a
    reset. Observations (num_envs, 4, 84, 84) uint8, as `NatureAtari`'s. Where it differs from
    `NatureAtari` (measured in tests/test_rl_atari.py): its no-ops (U{0, …, noop_max − 1}) come from
    its own C++ generator, no FIRE is pressed after a lost life and the stack runs on across it, and
    its state cannot be saved, so a resumed run starts new games."""
    from ale_py.vector_env import AtariVectorEnv

    return AtariVectorEnv(vector_game_name(game), num_envs, num_threads=threads, repeat_action_probability=0.0,
                          img_height=84, img_width=84, grayscale=True, stack_num=4, frameskip=4, maxpool=True,
                          noop_max=noop_max, use_fire_reset=True, episodic_life=False,
                          life_loss_info=terminal_on_life_loss, reward_clipping=False, autoreset_mode="SameStep",
                          max_num_frames_per_episode=max_episode_frames)


def resize_area(frame: np.ndarray, size: int) -> np.ndarray:
    """Step 5: OpenCV INTER_AREA resize, frame (210, 160) uint8 -> (size, size) uint8."""
    import cv2

    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


class NatureAtari(gymnasium.Wrapper):
    """The Nature preprocessing around an ALE env made with frameskip=1, obs_type="grayscale"
    (`make_atari` makes one). Defaults are the Nature evaluation protocol; for training pass
    terminal_on_life_loss=True (and clip the rewards in the learner, or here with clip_rewards=True).

    Observations: (T, S, S) uint8, T = history_length, S = screen_size, newest frame last."""

    def __init__(self, env: gymnasium.Env, *, action_repeat: int = ACTION_REPEAT,
                 history_length: int = HISTORY_LENGTH, screen_size: int = SCREEN_SIZE, noop_max: int = NOOP_MAX,
                 fire_reset: bool | None = None, terminal_on_life_loss: bool = False, clip_rewards: bool = False,
                 max_episode_frames: int | None = EVALUATION_FRAMES):
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "ale") or not hasattr(base, "get_action_meanings"):
            raise TypeError(f"NatureAtari wraps an ALE env (ale_py.env.AtariEnv), got {type(base).__name__}")
        if getattr(base, "_frameskip", None) != 1:
            raise ValueError(f"the ALE env must be made with frameskip=1 (we repeat actions), "
                             f"got frameskip={getattr(base, '_frameskip', None)}")
        if getattr(base, "_obs_type", None) != "grayscale":
            raise ValueError(f"the ALE env must be made with obs_type='grayscale' (the ALE's luminance), "
                             f"got obs_type={getattr(base, '_obs_type', None)!r}")
        for name, value, low in (("action_repeat", action_repeat, 1), ("history_length", history_length, 1),
                                 ("screen_size", screen_size, 1), ("noop_max", noop_max, 0)):
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")
        if max_episode_frames is not None and (not isinstance(max_episode_frames, (int, np.integer))
                                               or max_episode_frames < 1):
            raise ValueError(f"max_episode_frames must be None or an integer ≥ 1, got {max_episode_frames!r}")
        meanings = base.get_action_meanings()
        if noop_max > 0 and meanings[0] != "NOOP":
            raise ValueError(f"noop_max={noop_max} needs action 0 to be NOOP, the game's action 0 is {meanings[0]}")
        if fire_reset is None:
            fire_reset = "FIRE" in meanings
        if fire_reset and "FIRE" not in meanings:
            raise ValueError(f"fire_reset=True but the game has no FIRE action: {meanings}")
        raw_shape = env.observation_space.shape
        if raw_shape is None or len(raw_shape) != 2:
            raise ValueError(f"expected grayscale raw frames (H, W), got observation shape {raw_shape}")

        self.action_repeat, self.history_length, self.screen_size = action_repeat, history_length, screen_size
        self.noop_max, self.fire_reset = noop_max, bool(fire_reset)
        self.terminal_on_life_loss, self.clip_rewards = terminal_on_life_loss, clip_rewards
        self.max_episode_frames = max_episode_frames
        self.fire_action = meanings.index("FIRE") if self.fire_reset else None
        self.observation_space = spaces.Box(0, 255, (history_length, screen_size, screen_size), np.uint8)

        self._history = np.zeros((history_length, screen_size, screen_size), np.uint8)  # (T, S, S)
        self._raw = np.zeros((2, *raw_shape), np.uint8)  # (2, 210, 160): previous and latest raw frame
        self._lives = 0
        self._game_frames = 0  # raw frames since the game's reset
        self._game_return = 0.0  # unclipped score of the game so far
        self._fire_pending = False  # a life was lost: FIRE at the next reset or step
        self._continue_game = False  # the last episode ended at a lost life: the next reset goes on
        self._needs_reset = True

    # ---- one raw frame, the max-pooled frame, the history -----------------------------------------

    def _frame(self, action: int) -> tuple[float, bool, bool, dict[str, Any]]:
        """Plays one raw frame: (reward, game over, ALE truncated, ALE info); keeps the last two frames."""
        frame, reward, terminated, truncated, info = self.env.step(action)
        self._raw[0] = self._raw[1]
        self._raw[1] = frame  # (210, 160)
        self._game_frames += 1
        return float(reward), bool(terminated), bool(truncated), info

    def _push(self) -> np.ndarray:
        """Steps 3, 5, 6: max over the last two raw frames, resized, appended to the history -> (T, S, S)."""
        pooled = np.maximum(self._raw[0], self._raw[1])  # (210, 160)
        self._history[:-1] = self._history[1:]
        self._history[-1] = resize_area(pooled, self.screen_size)  # (S, S)
        return self._history.copy()

    def _capped(self) -> bool:
        return self.max_episode_frames is not None and self._game_frames >= self.max_episode_frames

    def _info(self, info: dict[str, Any], game_reward: float, game_over: bool, life_lost: bool) -> dict[str, Any]:
        return {**info, "lives": self._lives, "game_reward": game_reward, "game_return": self._game_return,
                "game_frames": self._game_frames, "game_over": game_over, "life_lost": life_lost}

    # ---- gymnasium API --------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """A new game (step 1), or, after an episode ended at a lost life with terminal_on_life_loss and
        no seed is given, the same game going on. -> ((T, S, S) observation, info)."""
        noops = 0
        if self._continue_game and seed is None and not options:
            info: dict[str, Any] = {}
            if self._fire_pending:
                _, over, truncated, info = self._frame(self.fire_action)
                if over or truncated or self._capped():
                    raise RuntimeError(f"the game ended during the FIRE frame after a lost life "
                                       f"(frame {self._game_frames}); cannot continue it")
        else:
            frame, info = self.env.reset(seed=seed, options=options)
            self._raw[1] = frame
            self._game_frames, self._game_return = 0, 0.0
            actions = [self.fire_action] if self.fire_reset else []
            if self.noop_max > 0:
                noops = int(self.env.unwrapped.np_random.integers(1, self.noop_max + 1))  # U{1, …, noop_max}
            for action in actions + [0] * noops:
                _, over, truncated, info = self._frame(action)
                if over or truncated or self._capped():
                    raise RuntimeError(f"the game ended during its {len(actions) + noops} reset frames "
                                       f"(FIRE, {noops} no-ops); lower noop_max or raise max_episode_frames")
        self._raw[0] = 0  # the first frame of an episode is not pooled with the one before (as both peers)
        self._history[:] = 0
        self._lives = int(self.env.unwrapped.ale.lives())
        self._fire_pending = self._continue_game = self._needs_reset = False
        obs = self._push()
        return obs, {**self._info(info, 0.0, False, False), "noops": noops}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Steps 2-9: one agent step of `action_repeat` raw frames -> ((T, S, S), reward, terminated,
        truncated, info)."""
        if self._needs_reset:
            raise RuntimeError("step() before reset() or after the episode ended: call reset()")
        n = int(self.action_space.n)
        if not isinstance(action, (int, np.integer)) or not 0 <= action < n:
            raise ValueError(f"action must be an integer in [0, {n}), got {action!r}")
        fire = [self.fire_action] if self._fire_pending else []  # step 7: FIRE after a lost life
        actions = fire + [int(action)] * self.action_repeat
        self._fire_pending = False
        reward, game_over, truncated, life_lost, info = 0.0, False, False, False, {}
        for a in actions:
            r, game_over, truncated, info = self._frame(a)
            reward += r
            lives = int(info["lives"])
            life_lost = life_lost or lives < self._lives
            self._lives = lives
            truncated = truncated or self._capped()
            if game_over or truncated or (life_lost and self.terminal_on_life_loss):
                break
        truncated = truncated and not game_over
        terminated = game_over or (life_lost and self.terminal_on_life_loss)
        ended = game_over or truncated
        self._fire_pending = life_lost and self.fire_reset and not ended
        self._continue_game = terminated and not ended
        self._needs_reset = terminated or truncated
        self._game_return += reward
        agent_reward = float(np.clip(reward, -1.0, 1.0)) if self.clip_rewards else reward
        obs = self._push()
        return obs, agent_reward, terminated, truncated, self._info(info, reward, ended, life_lost)

    # ---- the wrapper's own state, for checkpoints (the ALE's state is saved by its owner) ----------

    def state_dict(self) -> dict[str, Any]:
        """Plain ints, floats, bools and NumPy arrays: history (T, S, S), raw_frames (2, 210, 160) (the
        previous and the latest raw frame), lives, game_frames, game_return, and the pending flags.
        Not here: the ALE's state (`ale.cloneState(include_rng=True)`) and the env's `np_random`, which
        draws the no-ops (`env.unwrapped.np_random.bit_generator.state`); their owner saves them."""
        return {"history": self._history.copy(), "raw_frames": self._raw.copy(), "lives": self._lives,
                "game_frames": self._game_frames, "game_return": self._game_return,
                "fire_pending": self._fire_pending, "continue_game": self._continue_game,
                "needs_reset": self._needs_reset}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what `state_dict` returned; restore the ALE's state (cloneState(include_rng=True))
        and the env's np_random beside it, or they disagree. A fresh env needs one `reset()` first:
        gymnasium.make's OrderEnforcing refuses a step before a reset."""
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise KeyError(f"NatureAtari state lacks {missing}; it has {sorted(state)}")
        for key, buffer in (("history", self._history), ("raw_frames", self._raw)):
            value = np.asarray(state[key])
            if value.shape != buffer.shape:
                raise ValueError(f"NatureAtari state {key!r} has shape {value.shape}, expected {buffer.shape}")
            buffer[...] = value
        self._lives, self._game_frames = int(state["lives"]), int(state["game_frames"])
        self._game_return = float(state["game_return"])
        self._fire_pending, self._continue_game = bool(state["fire_pending"]), bool(state["continue_game"])
        self._needs_reset = bool(state["needs_reset"])
