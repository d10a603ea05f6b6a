"""What the committee review announces; other features subscribe (the review imports none of them).

The receiver runs at once, in the deciding transaction (it flushes, never commits):

- ``decided`` (sender: the :class:`~screening.review.models.Decision`; ``session``): a decision
  or a correction was issued. Documents asks for the decision letter
  (:mod:`screening.documents.letters`).
"""

from blinker import Namespace

_signals = Namespace()

decided = _signals.signal("review-decided")
