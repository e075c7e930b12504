"""MCTS speed on Connect Four, side by side in one run, at the same network and simulations per move:
simulations per second of

  - ours, batched: `milestones.search.search` over B positions at once, each round's leaves in one
    network call;
  - ours, one position at a time (B = 1): the same code without the batching;
  - a single-search loop in alpha-zero-general's design (re-implemented here: one recursive search,
    dictionaries keyed by the board, one network call per leaf);
  - OpenSpiel's `MCTSBot` (the `bench` extra, as installed) with an evaluator that calls the same
    network once per position and caches it, as OpenSpiel's AlphaZero evaluator does.

    python benchmarks/mcts_speed.py [--positions 64] [--simulations 100] [--json FILE]

The positions are the first `--positions` of Pons' Begin-Easy set (`MILESTONES_DATA`), the network the
`alphazero/connect4` recipe's (random weights: speed does not depend on them), one thread.
"""
from __future__ import annotations

import argparse
import math
import time

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


def ours(positions, evaluator, simulations: int, batch: int) -> float:
    start = time.perf_counter()
    for k in range(0, len(positions), batch):
        search([Node(p) for p in positions[k:k + batch]], evaluator, SearchConfig(simulations=simulations))
    return len(positions) * simulations / (time.perf_counter() - start)


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--positions", type=int, default=64)
    p.add_argument("--simulations", type=int, default=100)
    p.add_argument("--json", help="also write the measurements to this file")
    args = p.parse_args()
    torch.set_num_threads(1)
    folder = dataset_path("connect4", files=("Test_L1_R1.moves.txt",))
    entries = load_set(set_path(folder, "L1_R1"))[:args.positions]
    positions = [e.position() for e in entries]
    net = network()
    evaluator = NetworkEvaluator(net)
    results = {"ours_batched": ours(positions, evaluator, args.simulations, batch=len(positions)),
               "ours_one_at_a_time": ours(positions, evaluator, args.simulations, batch=1),
               "single_search_loop": single_search(positions, evaluator, args.simulations),
               "openspiel_mctsbot": openspiel([[int(c) - 1 for c in e.moves] for e in entries], net, args.simulations)}
    for name, value in results.items():
        print(f"{name}: {'not installed' if value is None else f'{value:,.0f} simulations/s'}")
    if args.json:
        save_benchmark(args.json, "mcts_speed", device="cpu",
                       settings={"positions": args.positions, "simulations": args.simulations, "threads": 1,
                                 "network": dict(zip(("blocks", "filters", "value_hidden"), SIZES["connect4"]))},
                       results={"simulations_per_s": results})


if __name__ == "__main__":
    main()
