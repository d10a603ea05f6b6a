"""Schemathesis against the live API (werkzeug on 127.0.0.1) with a demo token.

For every operation of the OpenAPI document: schema-valid and schema-invalid requests. No 5xx,
no response outside its documented schema, no request the schema forbids accepted.
Bounded: at most 30 examples per operation and mode, no deadline.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from .live_api import live_api

pytestmark = pytest.mark.no_isolation
CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_api(tmp_path_factory.mktemp("schemathesis")) as server:
        yield server


@pytest.fixture(scope="module")
def operations(live):
    schema = schemathesis.openapi.from_url(f"{live.base}/api/v1/openapi.json")
    return {op.label: op for op in (r.ok() for r in schema.get_all_operations())}


def test_every_operation_is_covered(operations):
    assert len(operations) >= 10, sorted(operations)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_schemathesis(live, operations, mode):
    headers = {"Authorization": f"Bearer {live.token}"}
    failures = []
    for label, operation in sorted(operations.items()):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(base_url=f"{live.base}/api/v1", headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # nothing to negate (no parameters, no body): only the positive run applies
            assert mode is GenerationMode.NEGATIVE, label
        except Exception as exc:  # collect every operation's failure, then fail once
            failures.append(f"{label}: {exc}")
    assert not failures, "\n\n".join(failures)
