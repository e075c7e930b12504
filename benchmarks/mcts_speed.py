"""MCTS speed on Connect Four, side by side in one run, at the same network and simulations per move:
simulations per second of

  - ours, batched: `milestones.search.search` over B positions at once, each round's leaves in one
    network call;
  - ours, batched, with the network `torch.compile`d (float32), and compiled in bfloat16
    (`NetworkEvaluator(inference=...)`; compilation is timed apart, `torch_compile_s`, and the
    bfloat16 network's difference from float32 is measured: `bfloat16_against_float32`);
  - ours, batched, with more trees side by side (`--wide`, 256 by default: the self-play recipes
    play 128-256 games at once), compiled in bfloat16 and in float32 (bfloat16 is the faster only
    on CPUs with bfloat16 dot products: the record's `machine.cpu_features` says whether this one
    has them), and in bfloat16 with two leaves a round per tree (virtual
    loss 1: a slightly different search; `two_leaves_same_move_share` says how often it picks the
    exact search's move);
  - ours, one position at a time (B = 1): the same code without the batching;
  - a single-search loop in alpha-zero-general's design (re-implemented here: one recursive search,
    dictionaries keyed by the board, one network call per leaf), with the eager and with the
    compiled network;
  - OpenSpiel's `MCTSBot` (the `bench` extra, as installed) with an evaluator that calls the same
    network once per position and caches it, as OpenSpiel's AlphaZero evaluator does;
  - DeepMind's mctx (the `bench` extra, as installed; batched MCTS in JAX): `mctx.muzero_policy` and
    `mctx.gumbel_muzero_policy`, jit-compiled over all the positions at once (the batch is the
    positions), with Connect Four and the same network (its weights copied) written here in JAX.

    python benchmarks/mcts_speed.py [--positions 64] [--simulations 100] [--json FILE]

The positions are the first `--positions` of Pons' Begin-Easy set (`MILESTONES_DATA`), the network the
`alphazero/connect4` recipe's (random weights: speed does not depend on them; `--run RUN_DIR` takes a
trained run's instead, and scores its search on `--pons-positions` of each Pons set with the float32
and the bfloat16 network: random weights give near-uniform outputs, which hide bfloat16's rounding),
one thread.

mctx against ours. Before it is timed, a self-check compares the JAX port with ours (the network's
logits and values within 1e-4 of torch's at the positions; legal moves, planes and results along 20
random games and a drawn one) and raises AssertionError when they differ. Two-player values: the
step's reward is 1 for the player who just won, the discount −1 (the next value is the opponent's)
and 0 once the game is over. The mctx time is the median of `MCTX_REPEATS` calls after a warm-up
call; ours and the single-search loop are timed `--repeats` times, interleaved, their medians
reported (the others are timed once, as they run); compilation is timed apart (`mctx_compile_s`). One
thread: XLA_FLAGS gets `--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1` before
jax is imported (it has no effect if jax was imported earlier in the process).

`muzero_policy` is given our PUCT: c = pb_c_init = 1.25 (pb_c_base 1e12 makes the log term
vanish in float32), no root noise (dirichlet_fraction 0), and a qtransform of our own
(`parent_value_q`) that returns the raw Q in [−1, 1] and the parent's value V(s) for unvisited
children, our `fpu="parent"`; mctx's default (`qtransform_by_parent_and_siblings`) instead rescales
Q to [0, 1] by the min and max of V(s) and the visited siblings' Q and gives unvisited children 0
(the minimum), which changes the search. N(s) counts the node's own evaluation in both. So set,
its root visit counts equal ours on all 64 positions at 100 simulations (jax 0.10.2, mctx 0.0.71).
What still differs: mctx breaks ties with 1e-7 uniform noise (ours: the lowest move), keeps its
statistics in float32 (ours float64), evaluates the network at every simulation's new node,
finished games included (the batch is fixed), and revisits a finished game through a dummy child
(reward 0, discount 0), so its result is still backed up exactly, as ours. `gumbel_muzero_policy`
(Danihelka et al. 2022, mctx's defaults: 16 considered actions, gumbel_scale 1, Q completed by the
mixed value) is another algorithm, timed at the same budget: sequential halving at the root, a
deterministic selection below.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from typing import Any, NamedTuple

import numpy as np
import torch

from milestones.data import dataset_path
from milestones.games import Connect4
from milestones.games.pons import load_set, set_path
from milestones.nn.policy_value import SIZES, NetworkEvaluator, PolicyValueNet
from milestones.records import save_benchmark
from milestones.search import Node, SearchConfig, search


def network() -> PolicyValueNet:
    torch.manual_seed(0)
    blocks, filters, hidden = SIZES["connect4"]
    return PolicyValueNet(Connect4().planes_shape, 7, blocks, filters, hidden).eval()


def ours(positions, evaluator, simulations: int, batch: int, leaves: int = 1) -> float:
    start = time.perf_counter()
    for k in range(0, len(positions), batch):
        search([Node(p) for p in positions[k:k + batch]], evaluator,
               SearchConfig(simulations=simulations, leaves_per_round=leaves))
    return len(positions) * simulations / (time.perf_counter() - start)


def same_moves(positions, evaluator, simulations: int, leaves: int) -> float:
    """The share of positions where the search with `leaves` leaves a round (virtual loss 1) picks
    the move of the exact search (one leaf a round)."""
    picks = []
    for n in (1, leaves):
        roots = [Node(p) for p in positions]
        search(roots, evaluator, SearchConfig(simulations=simulations, leaves_per_round=n))
        picks.append([int(np.argmax(r.visits)) for r in roots])
    return float(np.mean(np.equal(*picks)))


class SingleSearch:
    """alpha-zero-general's MCTS, its structure re-implemented: Qsa, Nsa, Ns, Ps, Es, Vs dictionaries
    keyed by the board, a recursive search, one `predict` call per leaf."""

    def __init__(self, evaluator, c_puct: float = 1.25) -> None:
        self.evaluator, self.c_puct = evaluator, c_puct
        self.Qsa: dict = {}
        self.Nsa: dict = {}
        self.Ns: dict = {}
        self.Ps: dict = {}
        self.Vs: dict = {}

    def search(self, position) -> float:
        s = position.key()
        if position.is_terminal():
            return -position.terminal_value()
        if s not in self.Ps:
            priors, values = self.evaluator([position])  # one position per call
            legal = position.legal_moves()
            p = np.zeros(7)
            p[legal] = priors[0][legal]
            self.Ps[s], self.Vs[s], self.Ns[s] = p / p.sum(), legal, 0
            return -float(values[0])
        best, best_u = -1, -math.inf
        for a in self.Vs[s]:
            if (s, a) in self.Qsa:
                u = self.Qsa[(s, a)] + self.c_puct * self.Ps[s][a] * math.sqrt(self.Ns[s]) / (1 + self.Nsa[(s, a)])
            else:
                u = self.c_puct * self.Ps[s][a] * math.sqrt(self.Ns[s] + 1e-8)
            if u > best_u:
                best, best_u = a, u
        v = self.search(position.play(best))
        if (s, best) in self.Qsa:
            self.Qsa[(s, best)] = (self.Nsa[(s, best)] * self.Qsa[(s, best)] + v) / (self.Nsa[(s, best)] + 1)
            self.Nsa[(s, best)] += 1
        else:
            self.Qsa[(s, best)], self.Nsa[(s, best)] = v, 1
        self.Ns[s] += 1
        return -v


def warmed(evaluator: NetworkEvaluator, positions) -> tuple[NetworkEvaluator, float]:
    """The compiled evaluator after the calls that compile it (a batch of every size the timed
    searches use compiles nothing new: the batch is dynamic after the second size), and how long
    they took."""
    start = time.perf_counter()
    for size in (len(positions), 1, 5):
        evaluator(positions[:size])
    return evaluator, time.perf_counter() - start


def bfloat16_difference(positions, evaluator: NetworkEvaluator, bfloat16: NetworkEvaluator,
                        simulations: int) -> dict[str, float]:
    """How far the bfloat16 network is from float32 at the positions (the largest differences of a
    prior and of a value), and the share of positions where the two searches pick the same move."""
    priors, values = evaluator(positions)
    priors_b, values_b = bfloat16(positions)
    same = []
    for ev in (evaluator, bfloat16):
        roots = [Node(p) for p in positions]
        search(roots, ev, SearchConfig(simulations=simulations))
        same.append([int(np.argmax(r.visits)) for r in roots])
    return {"max_prior_difference": float(np.abs(priors - priors_b).max()),
            "max_value_difference": float(np.abs(values - values_b).max()),
            "same_move_share": float(np.mean(np.equal(*same)))}


def single_search(positions, evaluator, simulations: int) -> float:
    start = time.perf_counter()
    for p in positions:
        mcts = SingleSearch(evaluator)
        for _ in range(simulations):
            mcts.search(p)
    return len(positions) * simulations / (time.perf_counter() - start)


def openspiel(moves_lists, net, simulations: int) -> float | None:
    try:
        import pyspiel
        from open_spiel.python.algorithms import mcts
    except ImportError:
        return None
    game = pyspiel.load_game("connect_four")

    class NetEvaluator(mcts.Evaluator):
        """The network once per position (cached), as OpenSpiel's AlphaZero evaluator."""

        def __init__(self) -> None:
            self.cache: dict = {}

        def _run(self, state):
            key = state.observation_string(state.current_player())
            if key not in self.cache:
                # OpenSpiel: planes (x, o, empty), the bottom row first; ours: (mover, opponent), the top row first
                me = state.current_player()
                obs = np.array(state.observation_tensor(me), np.float32).reshape(3, 6, 7)
                planes = torch.from_numpy(obs[[me, 1 - me]][:, ::-1].copy()).unsqueeze(0)
                with torch.no_grad():
                    logits, value = net(planes)
                self.cache[key] = (torch.softmax(logits, 1)[0].numpy(), float(value[0]))
            return self.cache[key]

        def evaluate(self, state):
            _, v = self._run(state)
            return [v, -v] if state.current_player() == 0 else [-v, v]

        def prior(self, state):
            p, _ = self._run(state)
            legal = state.legal_actions()
            total = sum(p[a] for a in legal)
            return [(a, p[a] / total) for a in legal]

    bot = mcts.MCTSBot(game, uct_c=1.25, max_simulations=simulations, evaluator=NetEvaluator(),
                       solve=False, random_state=np.random.RandomState(0))
    start = time.perf_counter()
    for moves in moves_lists:
        state = game.new_initial_state()
        for m in moves:
            state.apply_action(m)
        bot.mcts_search(state)
    return len(moves_lists) * simulations / (time.perf_counter() - start)


# ---- mctx: Connect Four and the network in JAX ----

MCTX_REPEATS = 3  # timed calls after the warm-up; their median is reported
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
PB_C_BASE = 1e12  # (N + base + 1) / base rounds to 1 in float32: c = pb_c_init, our constant c_puct


class JaxC4(NamedTuple):
    """Connect Four states (batched or not): board (…, 6, 7) int8, 1 the first player's stones, −1 the
    second's, 0 empty, row 0 the TOP row; player (…,) int8, ±1 to move; terminal (…,) bool."""

    board: Any
    player: Any
    terminal: Any


def jax_c4_initial() -> JaxC4:
    """The empty board, the first player (1) to move."""
    return JaxC4(np.zeros((6, 7), np.int8), np.int8(1), np.bool_(False))


def jax_c4_from_positions(positions) -> JaxC4:
    """Our positions as a batch of JAX states (numpy arrays)."""
    boards, players, terminals = [], [], []
    for p in positions:
        planes = p.planes()  # (mover, opponent), the top row first
        player = 1 if p.to_play == 0 else -1
        boards.append((planes[0] * player - planes[1] * player).astype(np.int8))
        players.append(player)
        terminals.append(p.is_terminal())
    return JaxC4(np.stack(boards), np.array(players, np.int8), np.array(terminals, np.bool_))


def jax_c4_planes(state: JaxC4):
    """(2, 6, 7) float32 of one state, as `Connect4Position.planes`: the mover's stones, the opponent's."""
    import jax.numpy as jnp
    return jnp.stack([state.board == state.player, state.board == -state.player]).astype(jnp.float32)


def jax_c4_legal(state: JaxC4):
    """(7,) bool of one state: the columns whose top cell is empty; none once the game is over."""
    return (state.board[0] == 0) & ~state.terminal


def _four_in_a_row(stones):
    """stones (6, 7) bool → any four in a row: horizontal, vertical, and both diagonals."""
    import jax.numpy as jnp
    s = stones
    horizontal = s[:, 0:4] & s[:, 1:5] & s[:, 2:6] & s[:, 3:7]
    vertical = s[0:3] & s[1:4] & s[2:5] & s[3:6]
    down_right = s[0:3, 0:4] & s[1:4, 1:5] & s[2:5, 2:6] & s[3:6, 3:7]
    down_left = s[0:3, 3:7] & s[1:4, 2:6] & s[2:5, 1:5] & s[3:6, 0:4]
    return jnp.any(horizontal) | jnp.any(vertical) | jnp.any(down_right) | jnp.any(down_left)


def jax_c4_step(state: JaxC4, column):
    """One state, one move → (next state, reward for the player who moved: 1 a win, 0 otherwise).
    The stone falls to the lowest empty cell of `column`; four in a row wins, a full board draws.
    From a finished game the state stays as it is (reward 0). A full column, never chosen (its prior
    is 0), ends the game as a loss for the mover (reward −1) rather than leaving the board wrong."""
    import jax.numpy as jnp
    empties = jnp.sum(state.board[:, column] == 0)
    fits = empties > 0
    playable = fits & ~state.terminal
    row = jnp.maximum(empties - 1, 0)  # row 0 is the top: the lowest empty cell
    board = jnp.where(playable, state.board.at[row, column].set(state.player), state.board)
    won = playable & _four_in_a_row(board == state.player)
    illegal = ~fits & ~state.terminal
    terminal = state.terminal | won | illegal | jnp.all(board != 0)
    reward = jnp.where(won, 1.0, jnp.where(illegal, -1.0, 0.0)).astype(jnp.float32)
    player = jnp.where(state.terminal, state.player, -state.player).astype(jnp.int8)
    return JaxC4(board, player, terminal), reward


def jax_params(net: PolicyValueNet) -> dict:
    """The torch network's weights as numpy arrays, in the layout of `jax_forward`."""
    def array(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32)

    def conv(m: torch.nn.Conv2d) -> np.ndarray:  # torch's (O, I, H, W) → (H, W, I, O)
        return array(m.weight).transpose(2, 3, 1, 0).copy()

    def bn(m: torch.nn.BatchNorm2d) -> tuple:
        if m.eps != 1e-5:
            raise ValueError(f"jax_forward assumes BatchNorm eps 1e-5, the network has {m.eps}")
        assert m.running_mean is not None and m.running_var is not None
        return array(m.weight), array(m.bias), array(m.running_mean), array(m.running_var)

    stem_conv, stem_bn = net.stem[0], net.stem[1]
    p_conv, p_bn, p_lin = net.policy_head[0], net.policy_head[1], net.policy_head[4]
    v_conv, v_bn, v_lin1, v_lin2 = net.value_head[0], net.value_head[1], net.value_head[4], net.value_head[6]
    return {"stem": (conv(stem_conv), bn(stem_bn)),
            "blocks": [(conv(b.conv1), bn(b.bn1), conv(b.conv2), bn(b.bn2)) for b in net.tower],
            "policy": (conv(p_conv), bn(p_bn), array(p_lin.weight), array(p_lin.bias)),
            "value": (conv(v_conv), bn(v_bn), array(v_lin1.weight), array(v_lin1.bias),
                      array(v_lin2.weight), array(v_lin2.bias))}


def jax_forward(params: dict, planes):
    """`PolicyValueNet.forward` in JAX: planes (B, 2, 6, 7) as ours → (logits (B, 7), values (B,));
    BatchNorm in eval mode (running statistics, eps 1e-5). Inside, channels last (B, 6, 7, F): XLA's
    CPU convolution in NCHW runs some 40× slower inside a loop body (mctx's simulations are a
    `fori_loop`) than outside it, NHWC does not (jax-ml/jax#12868, seen here with jax 0.10)."""
    import jax
    import jax.numpy as jnp

    def conv(x, w):
        pad = w.shape[0] // 2  # 3×3: 1, 1×1: 0
        return jax.lax.conv_general_dilated(x, w, (1, 1), ((pad, pad), (pad, pad)),
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def bn(x, stats):
        weight, bias, mean, var = stats  # (F,) each, the last axis
        return (x - mean) / jnp.sqrt(var + 1e-5) * weight + bias

    def flatten(x):  # (B, H, W, C) → (B, C·H·W) channel-major, as nn.Flatten of (B, C, H, W)
        return jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)

    relu = jax.nn.relu
    w, stats = params["stem"]
    x = relu(bn(conv(jnp.transpose(planes, (0, 2, 3, 1)), w), stats))
    for w1, bn1, w2, bn2 in params["blocks"]:
        y = relu(bn(conv(x, w1), bn1))
        x = relu(x + bn(conv(y, w2), bn2))
    w, stats, lin_w, lin_b = params["policy"]
    p = flatten(relu(bn(conv(x, w), stats)))
    logits = p @ lin_w.T + lin_b
    w, stats, w1, b1, w2, b2 = params["value"]
    v = flatten(relu(bn(conv(x, w), stats)))
    v = relu(v @ w1.T + b1)
    return logits, jnp.tanh(v @ w2.T + b2)[:, 0]


# a game that fills the board without four in a row (columns bottom-up XOXOXO, XOXOXO, OXOXOX, …)
DRAWN_GAME = [0] * 6 + [1] * 6 + [4, 2, 2, 4] * 3 + [5, 3, 3, 5] * 3 + [6] * 6


def check_jax_port(positions, net: PolicyValueNet, params: dict, games: int = 20) -> None:
    """AssertionError unless the JAX network equals torch's at `positions` (logits and values within
    1e-4, the same planes) and the JAX game agrees with `Connect4` along `games` random games played
    to the end and `DRAWN_GAME` (legal moves, planes, end and result at every ply); odd random games
    avoid winning moves where they can, so that they run longer and fill columns."""
    import jax
    state = jax_c4_from_positions(positions)
    planes = np.asarray(jax.vmap(jax_c4_planes)(state))
    ours_planes = np.stack([p.planes() for p in positions])
    assert np.array_equal(planes, ours_planes), "mctx self-check: the JAX planes differ from Connect4Position.planes"
    logits, values = jax.jit(jax_forward)(params, planes)
    with torch.no_grad():
        t_logits, t_values = net(torch.from_numpy(ours_planes))
    dl = float(np.abs(np.asarray(logits) - t_logits.numpy()).max())
    dv = float(np.abs(np.asarray(values) - t_values.numpy()).max())
    assert dl <= 1e-4 and dv <= 1e-4, \
        f"mctx self-check: the JAX network differs from torch's (max |Δlogit| {dl:.2e}, |Δvalue| {dv:.2e} > 1e-4)"

    @jax.jit
    def step(s, move):
        s, reward = jax_c4_step(s, move)
        return s, reward, jax_c4_legal(s), jax_c4_planes(s)

    rng = np.random.default_rng(0)
    outcomes = {"win": 0, "draw": 0}
    for g in range(games + 1):  # the last: DRAWN_GAME
        position, s = Connect4().initial(), jax_c4_initial()
        legal, reward = np.asarray(jax_c4_legal(s)), 0.0
        while True:
            where = f"game {g}, moves {position.moves}"
            assert np.flatnonzero(legal).tolist() == position.legal_moves(), \
                f"mctx self-check: legal moves differ ({where}): JAX {np.flatnonzero(legal)}, ours " \
                f"{position.legal_moves()}"
            assert bool(s.terminal) == position.is_terminal(), f"mctx self-check: the game's end differs ({where})"
            if position.is_terminal():
                assert reward == -position.terminal_value(), \
                    f"mctx self-check: the result differs ({where}): JAX reward {reward}, ours " \
                    f"{-position.terminal_value()} for the last mover"
                outcomes["win" if position.won else "draw"] += 1
                break
            moves = position.legal_moves()
            if g % 2:
                moves = [m for m in moves if not position.play(m).won] or moves
            move = DRAWN_GAME[position.moves] if g == games else int(rng.choice(moves))
            position = position.play(move)
            s, r, legal, planes_s = step(s, move)
            legal, reward = np.asarray(legal), float(r)
            assert np.array_equal(np.asarray(planes_s), position.planes()), \
                f"mctx self-check: planes differ after {move} ({where})"
    assert outcomes["draw"] > 0 and (games == 0 or outcomes["win"] > 0), \
        f"mctx self-check: the games did not both win and draw ({outcomes})"


def parent_value_q(tree, node_index):
    """A qtransform for `mctx.muzero_policy` that is our PUCT's value term: the raw Q(s, a) of the
    visited children, the parent's value V(s) (mean of its evaluation and every backed-up value) for
    the unvisited ones (our fpu="parent")."""
    import jax.numpy as jnp
    visits = tree.children_visits[node_index]
    return jnp.where(visits > 0, tree.qvalues(node_index), tree.node_values[node_index])


def mctx_search(positions, net: PolicyValueNet, simulations: int) -> dict[str, dict[str, float]] | None:
    """{"mctx_muzero_policy" / "mctx_gumbel_muzero_policy": {"simulations_per_s", "compile_s"}}, or None
    when jax or mctx is not installed. All the positions are one batch of one jit-compiled search."""
    if "jax" not in sys.modules:  # XLA reads its flags when jax starts
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + XLA_ONE_THREAD).strip()
    try:
        import jax
        import jax.numpy as jnp
        import mctx
    except ImportError:
        return None
    params = jax.tree.map(jnp.asarray, jax_params(net))
    check_jax_port(positions, net, params)

    def recurrent_fn(params, rng_key, action, state):
        state, reward = jax.vmap(jax_c4_step)(state, action)
        logits, value = jax_forward(params, jax.vmap(jax_c4_planes)(state))
        legal = jax.vmap(jax_c4_legal)(state)
        logits = jnp.where(legal, logits, jnp.finfo(logits.dtype).min)  # a finished game: all equal, no NaN
        # the value is for the player to move next, the opponent of the one who moved: discount −1
        output = mctx.RecurrentFnOutput(reward=reward, discount=jnp.where(state.terminal, 0.0, -1.0),
                                        prior_logits=logits, value=jnp.where(state.terminal, 0.0, value))
        return output, state

    def root_fn(params, state):
        logits, value = jax_forward(params, jax.vmap(jax_c4_planes)(state))
        invalid = ~jax.vmap(jax_c4_legal)(state)
        return mctx.RootFnOutput(prior_logits=logits, value=value, embedding=state), invalid

    def muzero(params, key, state):
        root, invalid = root_fn(params, state)
        out = mctx.muzero_policy(params, key, root, recurrent_fn, simulations, invalid_actions=invalid,
                                 qtransform=parent_value_q, dirichlet_fraction=0.0, pb_c_init=1.25,
                                 pb_c_base=PB_C_BASE)
        return out.search_tree.summary().visit_counts

    def gumbel(params, key, state):
        root, invalid = root_fn(params, state)
        out = mctx.gumbel_muzero_policy(params, key, root, recurrent_fn, simulations, invalid_actions=invalid)
        return out.search_tree.summary().visit_counts

    state = jax.tree.map(jnp.asarray, jax_c4_from_positions(positions))
    key = jax.random.key(0)
    results = {}
    for name, policy in (("mctx_muzero_policy", muzero), ("mctx_gumbel_muzero_policy", gumbel)):
        start = time.perf_counter()
        compiled = jax.jit(policy).lower(params, key, state).compile()
        compile_s = time.perf_counter() - start
        visits = jax.block_until_ready(compiled(params, key, state))  # warm-up
        assert (np.asarray(visits).sum(1) == simulations).all(), f"{name}: the root visits do not add up"
        times = []
        for _ in range(MCTX_REPEATS):
            start = time.perf_counter()
            jax.block_until_ready(compiled(params, key, state))
            times.append(time.perf_counter() - start)
        results[name] = {"simulations_per_s": len(positions) * simulations / statistics.median(times),
                         "compile_s": compile_s}
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--positions", type=int, default=64)
    p.add_argument("--simulations", type=int, default=100)
    p.add_argument("--run", help="an alphazero/connect4 run whose trained network replaces the random one, and "
                                 "whose search is scored on Pons' sets in float32 and in bfloat16")
    p.add_argument("--pons-positions", type=int, default=300, help="with --run: positions per Pons set (default 300)")
    p.add_argument("--wide", type=int, default=256,
                   help="trees searched side by side in the wide row (the self-play recipes play 128-256 games "
                        "at once; default 256)")
    p.add_argument("--repeats", type=int, default=3,
                   help="our searches and the single-search loop are timed this many times, interleaved; the "
                        "median is reported (default 3)")
    p.add_argument("--json", help="also write the measurements to this file")
    args = p.parse_args()
    torch.set_num_threads(1)
    folder = dataset_path("connect4", files=("Test_L1_R1.moves.txt",))
    every = load_set(set_path(folder, "L1_R1"))
    entries = every[:args.positions]
    positions = [e.position() for e in entries]
    wide = [e.position() for e in every[:args.wide]]
    if args.run:
        from milestones.families.alphazero.play import load_trained
        name, cfg, _, net, step = load_trained(args.run)
        if cfg.game != "connect4":
            p.error(f"--run: {args.run} is a run of {name}; the benchmark plays Connect Four")
    else:
        net = network()
    evaluator = NetworkEvaluator(net)
    compiled, compiled_s = warmed(NetworkEvaluator(net, inference="compiled"), positions)
    bfloat16, bfloat16_s = warmed(NetworkEvaluator(net, inference="bfloat16"), positions)
    compile_torch_s = {"compiled": compiled_s, "bfloat16": bfloat16_s}
    bfloat16(wide)  # the wide batch's shape, compiled before it is timed
    compiled(wide)
    n, sims = len(positions), args.simulations
    timed = {  # each timed `repeats` times, interleaved, the median kept (the machine's load drifts)
        "ours_batched": lambda: ours(positions, evaluator, sims, batch=n),
        "ours_batched_compiled": lambda: ours(positions, compiled, sims, batch=n),
        "ours_batched_bfloat16": lambda: ours(positions, bfloat16, sims, batch=n),
        f"ours_batched_bfloat16_{len(wide)}_trees": lambda: ours(wide, bfloat16, sims, batch=len(wide)),
        f"ours_batched_compiled_{len(wide)}_trees": lambda: ours(wide, compiled, sims, batch=len(wide)),
        "ours_batched_bfloat16_2_leaves": lambda: ours(positions, bfloat16, sims, batch=n, leaves=2),
        "single_search_loop": lambda: single_search(positions, evaluator, sims)}
    runs: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(args.repeats):
        for name, measure in timed.items():
            runs[name].append(measure())
    results: dict[str, float | None] = {name: statistics.median(v) for name, v in runs.items()}
    results |= {"ours_one_at_a_time": ours(positions, evaluator, sims, batch=1),
                "single_search_loop_compiled": single_search(positions, compiled, sims),
                "openspiel_mctsbot": openspiel([[int(c) - 1 for c in e.moves] for e in entries], net, sims)}
    precision: dict[str, Any] = dict(bfloat16_difference(positions, evaluator, bfloat16, args.simulations))
    precision["two_leaves_same_move_share"] = same_moves(positions, evaluator, args.simulations, 2)
    if args.run:
        from milestones.families.alphazero.experiments import pons_errors, search_config
        from milestones.search.arena import SearchPlayer
        searched = {}
        for label, ev in (("float32", evaluator), ("bfloat16", bfloat16)):
            player = SearchPlayer(ev, search_config(cfg, cfg.eval_simulations, self_play=False))
            searched[label] = pons_errors(ev, player, args.pons_positions)
        precision["pons_errors"] = searched
        precision["run"] = {"experiment": name, "iterations": step, "eval_simulations": cfg.eval_simulations,
                            "positions_per_set": args.pons_positions}
    mctx_results = mctx_search(positions, net, args.simulations)
    names = ("mctx_muzero_policy", "mctx_gumbel_muzero_policy")
    for name in names:
        results[name] = None if mctx_results is None else mctx_results[name]["simulations_per_s"]
    compile_s = None if mctx_results is None else {name: mctx_results[name]["compile_s"] for name in names}
    single = results["single_search_loop"]
    assert single is not None
    speedup = {name: v / single for name, v in results.items() if v is not None and name.startswith("ours")}
    for name, value in results.items():
        print(f"{name}: {'not installed' if value is None else f'{value:,.0f} simulations/s'}"
              + (f" ({speedup[name]:.2f}× the single-search loop)" if name in speedup else ""))
    print("torch.compile warm-up (excluded above): " + ", ".join(f"{k} {v:.1f} s" for k, v in compile_torch_s.items()))
    print("bfloat16 against float32: " + ", ".join(f"{k} {v:.4g}" for k, v in precision.items()
                                                   if isinstance(v, float)))
    for label, errors in precision.get("pons_errors", {}).items():
        print(f"Pons search errors, {label}: " + ", ".join(f"{k.removeprefix('search_error_')} {v:.1%}"
                                                          for k, v in errors.items() if k.startswith("search")))
    if compile_s is not None:
        print("mctx compile (excluded above): " + ", ".join(f"{name} {s:.1f} s" for name, s in compile_s.items()))
    if args.json:
        settings: dict[str, Any] = {
            "positions": args.positions, "wide": args.wide, "repeats": args.repeats,
            "simulations": args.simulations, "threads": 1, "run": args.run,
            "network": dict(zip(("blocks", "filters", "value_hidden"), SIZES["connect4"]))}
        if mctx_results is not None:
            import jax
            import mctx
            settings["mctx"] = {"jax": jax.__version__, "mctx": mctx.__version__, "repeats": MCTX_REPEATS,
                                "xla_flags": os.environ.get("XLA_FLAGS", ""), "pb_c_init": 1.25,
                                "pb_c_base": PB_C_BASE, "qtransform": "parent_value_q", "dirichlet_fraction": 0.0}
        save_benchmark(args.json, "mcts_speed", device="cpu", settings=settings,
                       results={"simulations_per_s": results, "speedup_over_single_search_loop": speedup,
                                "timed_runs": runs, "mctx_compile_s": compile_s,
                                "torch_compile_s": compile_torch_s, "bfloat16_against_float32": precision})


if __name__ == "__main__":
    main()
