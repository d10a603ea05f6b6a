"""JSON columns read back exactly what ``json.loads`` gives, whichever parser reads them
(``core.database.json_value``), on SQLite and on PostgreSQL (its pass)."""

import json

import pytest
import sqlalchemy as sa

from screening.core.database import json_text, json_value
from screening.core.extensions import db
from screening.proposals.models import Proposal

TEXTS = [
    '{"a": 1, "a": 2}',
    '{"n": 123456789012345678901234567890, "m": -18446744073709551616}',
    '[18446744073709551615, -9223372036854775808]',
    '{"f": [0.1, 1e-05, 1e16, -0.0, 1.7976931348623157e308]}',
    '{"big": 1e400}',
    '[NaN, Infinity, -Infinity]',
    '"\\ud800 lone"',
    '{"text": "Zh\\u014dnggu\\u00f3 \\u4e2d\\u56fd \\n \\"quoted\\""}',
    '{"digits in text": "00000000000000000000000"}',
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_json_text_reads_as_json_loads_reads_it(text):
    expected = json.loads(text)
    for given in (text, text.encode(), memoryview(text.encode())):
        value = json_value(given)
        assert repr(value) == repr(expected)  # repr: NaN, -0.0 and int against float tell apart


def test_values_beyond_64_bits_survive_a_json_column(factory):
    institution = factory.institution()
    proposal = factory.proposal(factory.user(institution, "researcher"), institution)
    data = {**proposal.data, "huge": 2**70, "negative": -(2**65), "exact": 18446744073709551615, "ratio": 0.1}
    db.session.execute(sa.update(Proposal).where(Proposal.id == proposal.id).values(data=data))
    db.session.expire_all()
    stored = db.session.execute(sa.select(Proposal.data).where(Proposal.id == proposal.id)).scalar_one()
    assert stored == data and type(stored["huge"]) is int
    assert json_value(json_text(data)) == data
