"""The replay memory against a literal record of the episodes: stacks never cross an episode's
start, n-step returns and discounts, truncation bootstraps, wrap-around, streams, checkpoint files."""
import numpy as np
import pytest

from milestones.rl.replay import ReplayMemory, format_bytes, memory_bytes
from milestones.state import FileStore


def play(memory, steps, seed, p_end=0.15, p_truncate=0.3):
    """Fill `memory` with random episodes; frame value = a unique id. Returns the literal record:
    per stream, a list of episodes, each a list of (id, action, reward, terminated, truncated)."""
    rng = np.random.default_rng(seed)
    S = memory.streams
    episodes = [[] for _ in range(S)]
    next_id = [1]

    def new_id():
        next_id[0] += 1
        return next_id[0]

    starting = np.ones(S, bool)
    for _ in range(steps):
        ids = np.array([new_id() for _ in range(S)])
        frames = np.broadcast_to(ids.reshape(S, *([1] * len(memory.frame_shape))), (S, *memory.frame_shape))
        action, reward = rng.integers(0, 4, S), rng.normal(size=S).astype(np.float32)
        ends = rng.random(S) < p_end
        truncated = ends & (rng.random(S) < p_truncate)
        terminated = ends & ~truncated
        for s in range(S):
            if starting[s]:
                episodes[s].append([(ids[s], None, None, False, False)])
            else:
                episodes[s][-1].append((ids[s], int(action[s]), float(reward[s]), bool(terminated[s]),
                                        bool(truncated[s])))
        memory.add(frames, first=starting.copy(), action=action, reward=reward, done=terminated)
        starting = np.where(starting, False, ends)
    return episodes


def literal(episodes, stack, pad, n, gamma):
    """Every transition as the agent saw it, keyed by the id of its entry's frame (unique):
    (s's frame ids, a, n-step return R, discount, s''s frame ids)."""
    out = {}
    for s, eps in enumerate(episodes):
        for ep in eps:
            ids = [e[0] for e in ep]

            def stack_ids(t):
                window = [ids[max(i, 0)] if i >= 0 else None for i in range(t - stack + 1, t + 1)]
                first = ids[0]
                return [(w if w is not None else (0 if pad == "zero" else first)) for w in window]

            for t in range(1, len(ep)):
                R, disc, last = 0.0, 1.0, t
                for m in range(n):
                    if t + m >= len(ep):
                        break
                    _, _, r, term, trunc = ep[t + m]
                    R += disc * r
                    disc *= gamma
                    last = t + m
                    if term:
                        disc = 0.0
                        break
                    if trunc:
                        break
                out[ids[t]] = (stack_ids(t - 1), ep[t][1], R, disc, stack_ids(last))
    return out


@pytest.mark.parametrize("stack, pad, n, streams, capacity", [
    (4, "zero", 1, 1, 10_000), (4, "first", 1, 1, 10_000), (4, "zero", 3, 1, 10_000),
    (1, "zero", 1, 1, 10_000), (4, "zero", 3, 3, 9_999), (4, "first", 2, 2, 60)])
def test_samples_are_the_literal_transitions(stack, pad, n, streams, capacity):
    memory = ReplayMemory(capacity, (2, 3), stack=stack, streams=streams, dtype=np.int64, pad=pad)
    episodes = play(memory, 400, seed=stack + n + streams)
    truth = literal(episodes, stack, pad, n, gamma=0.9)
    batch = memory.sample(256, np.random.default_rng(0), n=n, gamma=0.9)
    s = batch["s"].reshape(256, stack, -1)[:, :, 0]  # frame ids (every pixel of a frame holds its id)
    s_next = batch["s_next"].reshape(256, stack, -1)[:, :, 0]
    held_from = memory.added - memory.rows  # rows before it are overwritten (absolute)
    for b in range(256):
        matches = [k for k, v in truth.items() if v[0] == s[b].tolist() and v[1] == batch["a"][b]]
        assert matches, f"sample {b} matches no literal transition: {s[b]}"
        _, a, R, disc, nxt = truth[matches[0]]
        assert batch["r"][b] == pytest.approx(R, rel=1e-5, abs=1e-6)
        assert batch["discount"][b] == pytest.approx(disc)
        assert s_next[b].tolist() == nxt
        if held_from > 0:  # nothing overwritten is ever read
            assert all(i == 0 or i > held_from * streams for i in s[b].tolist())


def test_a_stack_never_reaches_into_the_previous_episode():
    memory = ReplayMemory(1000, (1,), stack=4, dtype=np.int64)
    memory.add(np.array([10]), first=True)
    for i in (11, 12):
        memory.add(np.array([i]), first=False, action=1, reward=1.0, done=i == 12)
    memory.add(np.array([20]), first=True)
    memory.add(np.array([21]), first=False, action=2, reward=0.5)
    got = memory.stacks(np.array([3, 4, 2]), np.array([0, 0, 0]))[:, :, 0].tolist()
    assert got == [[0, 0, 0, 20], [0, 0, 20, 21], [0, 10, 11, 12]]
    batch = memory.sample(64, np.random.default_rng(1))
    pairs = {(tuple(s[:, 0]), tuple(n[:, 0]), round(float(d), 6))
             for s, n, d in zip(batch["s"], batch["s_next"], batch["discount"])}
    assert pairs == {((0, 0, 0, 10), (0, 0, 10, 11), 0.99), ((0, 0, 10, 11), (0, 10, 11, 12), 0.0),
                     ((0, 0, 0, 20), (0, 0, 20, 21), 0.99)}


def test_the_newest_transitions_wait_for_their_n_steps():
    memory = ReplayMemory(100, (1,), stack=1, dtype=np.int64)
    memory.add(np.array([1]), first=True)
    for i in range(2, 6):
        memory.add(np.array([i]), first=False, action=0, reward=1.0)
    rows = np.arange(1, 5)
    assert memory.valid(rows, np.zeros(4, int), n=3).tolist() == [True, True, False, False]
    memory.add(np.array([6]), first=False, action=0, reward=1.0, done=True)
    assert memory.valid(rows, np.zeros(4, int), n=3).tolist() == [True, True, True, True]


def test_the_memory_is_saved_as_chunks_and_comes_back(tmp_path):
    memory = ReplayMemory(120, (4, 4), stack=4, streams=2, chunk=16)
    play(memory, 150, seed=3)
    store = FileStore(tmp_path)
    manifest = memory.save_files(store)
    again = ReplayMemory(120, (4, 4), stack=4, streams=2, chunk=16)
    again.load_files(store, manifest)
    assert again.added == memory.added
    for name in ("frame", "action", "reward", "done", "first"):
        assert np.array_equal(getattr(again, name), getattr(memory, name)), name
    a, b = (m.sample(32, np.random.default_rng(7), n=3) for m in (memory, again))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_the_memory_knows_its_size():
    assert memory_bytes(1_000_000, (84, 84)) == 1_000_000 * (7056 + 10)
    assert format_bytes(memory_bytes(1_000_000, (84, 84))) == "7.07 GB"
    memory = ReplayMemory(1000, (84, 84), stack=4)
    assert memory.nbytes == memory_bytes(1000, (84, 84))
