"""The plain case of ``POST /api/v1/screen``, answered below Flask's request cycle.

A stateless screening is the API's most frequent call, and under the production recipe Flask's
request cycle with our hooks (request id, input checks, user loading, token check, security
headers, access log, metrics) cost more CPU than the screening itself (``bench/api_bench.py``).
This WSGI middleware answers the plain case without that cycle:

- ``POST`` to exactly ``/api/v1/screen``, no query string, ``application/json`` with a
  ``Content-Length`` within ``MAX_CONTENT_LENGTH``;
- a bearer token this worker's token cache holds (:mod:`screening.api.token_cache`: read from the
  database at most ``API_AUTH_CACHE_SECONDS`` ago, and no change of access announced since), whose
  user holds a role in the token's institution, and which is within its rate limit;
- a body that is JSON and screens without a ``ProposalError``.

Anything else goes on to the Flask route unchanged: no or an unknown token, a cache miss, a token
over its limit, a body that is not JSON or not a proposal, any fault. The route then answers it,
errors as problem documents, so every refusal is written once, in the blueprint. The body read here
is handed on, and a token use counted here is not counted again (``support.RATE_COUNTED``).

The plain answer is the route's answer: the same body (``screen.answer_body``), the same headers
(``security.api_answer_headers``), the same access-log line and request metrics
(``screening.operations`` registers them as ``app.extensions["record_answer"]``).
``tests/web/test_api_lean_screen.py`` compares the two, answer for
answer. Off with ``API_LEAN_SCREEN = False``, and never on without the token cache
(``API_AUTH_CACHE_SECONDS`` 0, the default outside production).
"""

import io
import re
import time
from collections.abc import Callable, Iterable

import orjson
from flask import Flask

from screening.accounts.models import ROLES
from screening.api import support, token_cache, tokens
from screening.api.screen import answer_body
from screening.core.security import api_answer_headers, request_id_for

PATH = "/api/v1/screen"
ROUTE = "api.screen"  # the route's endpoint: the access log's and the metrics' label
_LENGTH = re.compile(r"[0-9]{1,12}")


class LeanScreen:
    """WSGI middleware in front of ``app``'s own WSGI callable (see the module's description)."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST" \
                or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)
        answer = self._answer(environ, time.perf_counter())
        if answer is None:
            return self.wsgi_app(environ, start_response)
        headers, body = answer
        start_response("200 OK", headers)
        return [body]

    def _answer(self, environ: dict, started: float) -> tuple[list[tuple[str, str]], bytes] | None:
        """The plain answer's headers and body, or None: the route answers this request."""
        config = self.app.config
        max_age = float(config.get("API_AUTH_CACHE_SECONDS") or 0)
        if not max_age or not config["API_LEAN_SCREEN"]:
            return None
        length = environ.get("CONTENT_LENGTH") or ""
        limit = config.get("MAX_CONTENT_LENGTH")
        if not _LENGTH.fullmatch(length) or (limit is not None and int(length) > limit) \
                or "HTTP_TRANSFER_ENCODING" in environ:
            return None
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            return None
        scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            return None
        resolved = token_cache.cache(self.app).get(tokens.hash_token(value), max_age,
                                                   float(config["API_AUTH_REFRESH_SECONDS"]))
        if resolved is None or not resolved.actor.has(*ROLES):
            return None
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)  # for the route, should it answer after all
        try:
            proposal = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        screener = self.app.extensions.get("screener")  # built by the route's first screening
        if screener is None:
            return None
        token_id = resolved.token.id
        if support.over_rate_limit(token_id, self.app):
            return None  # the route counts this use too, finds the limit exceeded and answers 429
        environ[support.RATE_COUNTED] = token_id
        try:
            result = screener.screen(proposal, language=support.language_of(environ.get("HTTP_ACCEPT_LANGUAGE")))
        except Exception:  # a ProposalError (422) or a fault (500, logged): the route answers it
            return None
        body = answer_body(result)
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   *api_answer_headers(config, request_id)]
        record_answer = self.app.extensions.get("record_answer")  # metrics and access log (operations)
        if record_answer is not None:
            record_answer(ROUTE, "POST", 200, time.perf_counter() - started, request_id=request_id, route=ROUTE,
                          user_id=resolved.actor.user.id, institution_id=resolved.actor.institution_id)
        return headers, body


def install(app: Flask) -> None:
    app.wsgi_app = LeanScreen(app, app.wsgi_app)
