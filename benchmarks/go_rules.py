"""Go rules backends, side by side in one run: our engine (`milestones.games.go`, pure Python) against
OpenSpiel's `go` (the `bench` extra, as installed; C++), cross-checked on random games and timed.

    python benchmarks/go_rules.py [--games 10000] [--size 9] [--json FILE]

Cross-check. Both engines play the same random game: at each position every legal move list is
compared (OpenSpiel's actions count rows from the bottom; ours from the top, mapped here), a move is
drawn from ours, both play it, and at the end both winners are compared. Random play as in Monte
Carlo rollouts: never fill an own eye (a point all of whose neighbours are the mover's stones), pass
with probability 1/50 or when nothing else is left, so games are long and full of captures.
OpenSpiel forbids only the simple ko (the point just captured), we forbid every repeated board
(positional superko): a move that only OpenSpiel allows and our engine calls "superko" is counted
apart (`superko_only`), any other difference is a disagreement and fails the run. Both engines get
komi 7 and a move cap of 1000 (OpenSpiel ends a game there as a draw; none of these games gets near).

Speed, one thread: random games played to the end by each engine's own API (legal moves, then the
move), moves per second; and the legal-move list alone at positions along those games.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=10_000, help="random games cross-checked")
    parser.add_argument("--size", type=int, default=9)
    parser.add_argument("--timing-games", type=int, default=200, help="random games timed per engine")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="write the results here as JSON")
    args = parser.parse_args(argv)

    import pyspiel

    from milestones.games.go import BLACK, WHITE, Go

    n, komi, cap = args.size, 7.0, 1000
    go = Go(n, komi, max_moves=cap)
    spiel = pyspiel.load_game("go", {"board_size": n, "komi": komi, "max_game_length": cap})
    pass_move = n * n

    def to_spiel(m: int) -> int:
        if m == pass_move:
            return pass_move
        r, c = divmod(m, n)
        return (n - 1 - r) * n + c

    neighbours = [[(r + dr) * n + c + dc for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                   if 0 <= r + dr < n and 0 <= c + dc < n] for r in range(n) for c in range(n)]

    def random_move(position, rng) -> int:
        me = (BLACK, WHITE)[position.to_play]
        choices = [m for m in position.legal_moves()[:-1]
                   if not all(position.stone(q) == me for q in neighbours[m])]
        return int(rng.choice(choices)) if choices and rng.random() > 0.02 else pass_move

    rng = np.random.default_rng(args.seed)
    moves = superko_only = disagreements = result_mismatches = 0
    lengths = []
    t0 = time.perf_counter()
    for game_index in range(args.games):
        position, state = go.initial(), spiel.new_initial_state()
        while not position.is_terminal():
            ours = {to_spiel(m) for m in position.legal_moves()}
            theirs = set(state.legal_actions())
            if ours != theirs:
                only_theirs = theirs - ours
                from_spiel = {to_spiel(m): m for m in range(pass_move + 1)}
                if ours - theirs or any("superko" not in (position.why_illegal(from_spiel[a]) or "")
                                        for a in only_theirs):
                    disagreements += 1
                    print(f"game {game_index}, move {position.moves_played + 1}: ours {sorted(ours - theirs)} "
                          f"theirs {sorted(only_theirs)}\n{position}\n{state}", file=sys.stderr)
                    break
                superko_only += 1
            move = random_move(position, rng)
            position = position.play(move)
            state.apply_action(to_spiel(move))
            moves += 1
        else:
            if not state.is_terminal():
                disagreements += 1
                print(f"game {game_index}: ours ended, OpenSpiel's did not", file=sys.stderr)
            else:
                spiel_return = state.returns()[0]
                spiel_winner = 0 if spiel_return > 0 else 1 if spiel_return < 0 else None
                result_mismatches += spiel_winner != position.winner()
        lengths.append(position.moves_played)
        if (game_index + 1) % 1000 == 0:
            print(f"{game_index + 1} games, {moves} moves, {disagreements} disagreements, "
                  f"{superko_only} superko-only, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    cross_check_s = time.perf_counter() - t0

    # speed: random games (uniform over the legal moves) by each engine alone
    timing_rng = np.random.default_rng(args.seed + 1)
    t0 = time.perf_counter()
    ours_moves = 0
    for _ in range(args.timing_games):
        position = go.initial()
        while not position.is_terminal():
            legal = position.legal_moves()
            position = position.play(legal[int(timing_rng.integers(len(legal)))])
            ours_moves += 1
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    spiel_moves = 0
    for _ in range(args.timing_games):
        state = spiel.new_initial_state()
        while not state.is_terminal():
            legal = state.legal_actions()
            state.apply_action(legal[int(timing_rng.integers(len(legal)))])
            spiel_moves += 1
    spiel_s = time.perf_counter() - t0

    result = {
        "openspiel": getattr(pyspiel, "__version__", "unknown"), "cross_check": {
            "games": args.games, "moves": moves, "mean_length": float(np.mean(lengths)),
            "max_length": int(np.max(lengths)), "disagreements": disagreements,
            "superko_only": superko_only, "result_mismatches": result_mismatches,
            "seconds": round(cross_check_s, 1)},
        "random_play_moves_per_s": {"ours": round(ours_moves / ours_s), "openspiel": round(spiel_moves / spiel_s),
                                    "openspiel_over_ours": round(spiel_moves / spiel_s / (ours_moves / ours_s), 1)},
    }
    print(json.dumps(result, indent=1))
    if args.json:
        from milestones.records import save_benchmark

        settings = {"board": n, "komi": komi, "games": args.games, "timing_games": args.timing_games,
                    "seed": args.seed, "threads": 1}
        save_benchmark(args.json, "go_rules", device="cpu", settings=settings, results=result)
    if disagreements or result_mismatches:
        raise SystemExit("the engines disagree (see above)")
    return result


if __name__ == "__main__":
    main()
