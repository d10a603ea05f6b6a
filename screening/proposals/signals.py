"""What the intake announces when a proposal is submitted; other features subscribe.

The proposals feature imports none of them. Receivers run at once, in the submitting transaction
(they flush, never commit), and an exception fails the submission. Each signal has exactly one
receiver, so the order of the effects is fixed by :func:`screening.proposals.service.submit`:

- ``screened`` (sender: the proposal; ``session``, ``version``): a submitted version was frozen
  with its screening result. The portfolio indexes it (:mod:`screening.portfolio.index`).
- ``routed`` (sender: the proposal; ``session``, ``user``, ``version``, ``resubmission``): the
  proposal went to the fast track or to a committee, or back to the committee with the answer to
  its questions. The review opens or updates the case (:mod:`screening.review.routing`).
- ``fast_tracked`` (sender: the proposal; ``session``): the proposal was cleared without committee
  review. Documents asks for the clearance letter (:mod:`screening.documents.letters`).
"""

from blinker import Namespace

_signals = Namespace()

screened = _signals.signal("proposal-screened")
routed = _signals.signal("proposal-routed")
fast_tracked = _signals.signal("proposal-fast-tracked")
