"""milestones: landmark deep-learning models, tested against references and reproduced with one command.

The public API is re-exported here; everything else is an implementation detail of its module.
"""
from milestones.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = ["LSTM", "LSTMCell", "GRU", "GRUCell", "RNN", "RNNCell"]
__version__ = "0.1.0"
