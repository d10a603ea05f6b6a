"""The floor of ``bench/api_bench.py``: a bare Flask POST route served by the same gunicorn recipe.

It does what any JSON POST endpoint must do and nothing else: read the body, parse it as JSON and
answer a JSON document as large as a screening result (``FLOOR_BODY_BYTES``, default 7,400), so
that the bench's ratio measures the application's per-request machinery plus the screening itself.

    gunicorn -c python:screening.operations.gunicorn_config ... bench.api_floor:app
"""

import os

import orjson
from flask import Flask, request

app = Flask(__name__)
_ANSWER = orjson.dumps({"padding": "x" * max(int(os.environ.get("FLOOR_BODY_BYTES", "7400")) - 15, 0)})


@app.post("/screen")
def screen():
    proposal = orjson.loads(request.get_data())
    if not isinstance(proposal, dict):
        return {"error": "not an object"}, 400
    return app.response_class(_ANSWER, mimetype="application/json")
