"""The rules engine: pure Python, no Flask, no database. Facts in, explained result out.

from rules import Screener
screener = Screener.default()
result = screener.screen(proposal_dict)
"""

from rules.conditions import RuleSyntaxError
from rules.engine import Screener
from rules.lists import ListError
from rules.validation import ProposalError

__all__ = ["ListError", "ProposalError", "RuleSyntaxError", "Screener"]
