"""`milestones play RUN_DIR`: play a trained AlphaZero network (with its search) in the terminal.

You type a move (tic-tac-toe: a cell 1-9 row by row; Connect Four: a column 1-7), the agent answers
with the move of its run's search (PUCT's most visited, or Gumbel's) of `--simulations` simulations.
A move that is not a number, out of range or not legal is refused with the reason and asked again;
`quit` or the end of the input ends the game. Reading and writing go through the streams given, so
tests drive it as a user would.
"""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

import torch

from milestones import config as cfg_mod
from milestones import registry
from milestones.families.alphazero.experiments import (
    AlphaZeroConfig,
    architecture,
    make_game,
    make_network,
    search_config,
)
from milestones.games.game import Game, GameError, Position
from milestones.nn.policy_value import NetworkEvaluator, PolicyValueNet
from milestones.runs import Run
from milestones.search.arena import SearchPlayer
from milestones.state import State


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run of alphazero/tictactoe or alphazero/connect4 with a checkpoint")
    p.add_argument("--second", action="store_true", help="let the agent move first")
    p.add_argument("--simulations", type=int, default=200, help="the agent's simulations per move (default 200)")


def play_command(args: argparse.Namespace) -> int:
    return play(args.run_dir, human_first=not args.second, simulations=args.simulations)


def load_trained(run_dir: str) -> tuple[str, AlphaZeroConfig, Game, PolicyValueNet, int]:
    """The experiment's name, configuration, game and network (eval mode, its last checkpoint) of
    an alphazero/ run, and the iterations it had trained; ValueError says why a directory is not one."""
    name, saved = Run.read_config(run_dir)
    if not name.startswith("alphazero/"):
        raise ValueError(f"{run_dir} is a run of {name}, not of an alphazero/ experiment")
    exp = registry.catalog()[name]
    cfg = cfg_mod.from_dict(type(exp.config), saved)
    game = make_game(cfg)
    net = make_network(cfg, game)
    loaded = Run(run_dir, exp, cfg, progress=False).load(State(architecture(cfg), modules={"net": net}))
    if loaded is None:
        raise ValueError(f"{run_dir} has no checkpoint yet")
    return name, cfg, game, net.eval(), loaded.step


def play(run_dir: str, *, human_first: bool = True, simulations: int = 200, stdin: TextIO = sys.stdin,
         stdout: TextIO = sys.stdout) -> int:
    if simulations < 1:
        print(f"--simulations must be ≥ 1, got {simulations}", file=sys.stderr)
        return 2
    try:
        name, cfg, game, net, step = load_trained(run_dir)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    agent = SearchPlayer(NetworkEvaluator(net, torch.device("cpu")),
                         search_config(cfg, simulations, self_play=False))
    numbering = "a cell 1-9, row by row" if cfg.game == "tictactoe" else "a column 1-7"
    print(f"{name} after {step} iterations; you play {'first (X)' if human_first else 'second (O)'}; "
          f"a move is {numbering}; 'quit' ends", file=stdout)
    position: Position = game.initial()
    human = 0 if human_first else 1
    while not position.is_terminal():
        print(f"\n{position}", file=stdout)
        if position.to_play == human:
            move = _read_move(position, game.num_moves, numbering, stdin, stdout)
            if move is None:
                print("game left unfinished", file=stdout)
                return 0
        else:
            (move,) = agent([position])
            print(f"agent plays {move + 1}", file=stdout)
        position = position.play(move)
    print(f"\n{position}", file=stdout)
    if position.terminal_value() == 0:
        print("draw", file=stdout)
    else:  # the player who just moved won
        print("you win" if position.to_play != human else "the agent wins", file=stdout)
    return 0


def _read_move(position: Position, moves: int, numbering: str, stdin: TextIO, stdout: TextIO) -> int | None:
    while True:
        print("your move: ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line or line.strip().lower() in ("quit", "exit", "q"):
            return None
        text = line.strip()
        if not text.isdigit() or not 1 <= int(text) <= moves:
            print(f"'{text[:20]}' is not a move: expected {numbering}", file=stdout)
            continue
        move = int(text) - 1
        if move not in position.legal_moves():
            try:
                position.play(move)
            except GameError as e:
                print(f"{text} is not legal here: {str(e).splitlines()[0]}", file=stdout)
            continue
        return move
