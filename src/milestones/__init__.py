"""milestones: landmark deep-learning models, tested against references and reproduced with one command.

The public API is re-exported here; everything else is an implementation detail of its module.
"""
from milestones.nn.rnn import GRU, LSTM, GRUCell, LSTMCell

__all__ = ["LSTM", "LSTMCell", "GRU", "GRUCell"]
__version__ = "0.1.0"
