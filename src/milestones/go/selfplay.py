"""Games between policy networks, many side by side: the self-play of AlphaGo's RL policy network and
of its value network's data (Silver et al. 2016, "Reinforcement learning of policy networks" and
"Reinforcement learning of value networks").

Each move, the positions of every unfinished game are evaluated in one network call per side, and a
move is drawn from p(a | s) over the legal moves that do not fill an own eye (the pass among them;
with no such point left, the pass). A game ends at two passes or at the game's move cap and is scored
by area (`GoPosition.winner`).

Shapes: G games, A = N² + 1 moves.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from milestones.games.go import Go, GoPosition

Policy = Callable[[torch.Tensor], torch.Tensor]  # planes (G, C, N, N) -> logits (G, A)


@dataclass
class SelfPlayGame:
    positions: list[GoPosition] = field(default_factory=list)  # before each move
    moves: list[int] = field(default_factory=list)
    winner: int | None = None  # 0 Black, 1 White, None a draw
    final: GoPosition | None = None


def sensible_mask(positions: Sequence[GoPosition], num_moves: int) -> np.ndarray:
    """(G, A) bool: the legal moves that do not fill an own eye, and the pass."""
    mask = np.zeros((len(positions), num_moves), np.bool_)
    for i, p in enumerate(positions):
        moves = [m for m in p.legal_moves() if not p.fills_own_eye(m)]
        mask[i, moves] = True
    return mask


@torch.no_grad()
def sample_moves(policy: Policy, positions: Sequence[GoPosition], rng: np.random.Generator,
                 greedy: bool = False) -> list[int]:
    """A move for each position drawn from the policy over its sensible moves (or the most likely)."""
    planes = torch.from_numpy(np.stack([p.planes() for p in positions]))
    logits = policy(planes).double().numpy()  # (G, A)
    mask = sensible_mask(positions, logits.shape[1])
    logits = np.where(mask, logits, -np.inf)
    if greedy:
        return [int(m) for m in logits.argmax(1)]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    u = rng.random(len(positions))  # one uniform per game, inverse-CDF: reproducible from the seed
    return [int(min(np.searchsorted(np.cumsum(row), x, side="right"), len(row) - 1)) for row, x in zip(probs, u)]


def play_games(game: Go, black: Policy, white: Policy, games: int, rng: np.random.Generator,
               starts: Sequence[GoPosition] | None = None) -> list[SelfPlayGame]:
    """`games` games of `black` against `white`, side by side, from the empty board or `starts`."""
    records = [SelfPlayGame() for _ in range(games)]
    current = list(starts) if starts is not None else [game.initial() for _ in range(games)]
    if len(current) != games:
        raise ValueError(f"{games} games need {games} starting positions, got {len(current)}")
    live = [i for i in range(games) if not current[i].is_terminal()]
    while live:
        for colour, policy in ((0, black), (1, white)):
            movers = [i for i in live if current[i].to_play == colour and not current[i].is_terminal()]
            if not movers:
                continue
            moves = sample_moves(policy, [current[i] for i in movers], rng)
            for i, move in zip(movers, moves):
                records[i].positions.append(current[i])
                records[i].moves.append(move)
                current[i] = current[i].play(move)
        live = [i for i in live if not current[i].is_terminal()]
    for record, position in zip(records, current):
        record.final, record.winner = position, position.winner()
    return records


def value_positions(game: Go, sl: Policy, rl: Policy, games: int, rng: np.random.Generator, max_u: int
                    ) -> tuple[list[GoPosition], np.ndarray]:
    """One training position per game for the value network, as AlphaGo made them: a time step
    U ~ uniform{1, …, max_u}; moves 1 … U − 1 drawn from the SL policy, move U uniformly at random
    among the legal moves, then the RL policy for both players to the end; the position after move U
    (s_{U+1}) and the outcome z for the player to move there (+1 won, −1 lost, 0 a draw). A game that
    ends before move U gives its last position. Returns the positions and z (G,)."""
    u = rng.integers(1, max_u + 1, games)
    current = [game.initial() for _ in range(games)]
    kept: list[GoPosition | None] = [None] * games
    t = 0  # moves played so far in every live game
    live = list(range(games))
    while live:
        t += 1  # the move about to be played is move t
        sl_games = [i for i in live if t < u[i]]
        random_games = [i for i in live if t == u[i]]
        rl_games = [i for i in live if t > u[i]]
        moves: dict[int, int] = {}
        if sl_games:
            moves |= dict(zip(sl_games, sample_moves(sl, [current[i] for i in sl_games], rng)))
        for i in random_games:
            legal = current[i].legal_moves()
            moves[i] = int(legal[int(rng.integers(len(legal)))])
        if rl_games:
            moves |= dict(zip(rl_games, sample_moves(rl, [current[i] for i in rl_games], rng)))
        for i in live:
            current[i] = current[i].play(moves[i])
            if t == u[i]:
                kept[i] = current[i]
        live = [i for i in live if not current[i].is_terminal()]
    positions: list[GoPosition] = []
    z = np.zeros(games)
    for i in range(games):
        kept_i = kept[i]
        position = kept_i if kept_i is not None else current[i]
        winner = current[i].winner()
        positions.append(position)
        z[i] = 0.0 if winner is None else 1.0 if winner == position.to_play else -1.0
    return positions, z
