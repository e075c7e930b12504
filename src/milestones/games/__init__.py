"""Board games for tree search: the `Game`/`Position` interface, tic-tac-toe, Connect Four and Pons'
Connect Four test sets."""
from milestones.games.connect4 import Connect4, Connect4Position
from milestones.games.game import Game, GameError, Position
from milestones.games.tictactoe import TicTacToe, TicTacToePosition

__all__ = ["Connect4", "Connect4Position", "Game", "GameError", "Position", "TicTacToe", "TicTacToePosition"]
