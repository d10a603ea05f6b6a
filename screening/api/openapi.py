"""Each route's OpenAPI operation, declared next to it with ``@operation``; ``/openapi.json``
assembles them (:func:`screening.api.schema.document`) and a test checks routes and document agree."""

from screening.accounts.models import ROLES
from screening.api import support as api

OPERATIONS: dict[tuple[str, str], dict] = {}


def problem(description: str) -> dict:
    return {"description": description,
            "content": {api.PROBLEM_MIME: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def json_response(description: str, ref: str, headers: dict | None = None) -> dict:
    out = {"description": description,
           "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}
    if headers:
        out["headers"] = headers
    return out


AUTH_PROBLEMS = {
    "401": problem("No token, or the token is unknown, expired or revoked"),
    "403": problem("The token's scope or its owner's role does not allow this"),
    "429": problem("Too many requests with this token"),
}
BODY_PROBLEMS = {
    "400": problem("The body is not JSON, or a header or parameter is malformed"),
    "413": problem("The body is too large"),
    "415": problem("The body is not application/json"),
    "422": problem("The body does not satisfy the contract (errors[] point at the fields)"),
}
PID = {"name": "pid", "in": "path", "required": True,
       "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "Repeat a request safely: the same key gives back what the first call made.",
               "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,40}$"}}
LANGUAGE = {"name": "Accept-Language", "in": "header", "required": False,
            "description": "Language of the explanations: en (default) or de.", "schema": {"type": "string"}}
LOCATION = {"Location": {"schema": {"type": "string"}, "description": "The new resource"}}


def operation(method: str, path: str, summary: str, responses: dict, *, tags=("screening",),
              parameters=(), body: str | None = None, public: bool = False, scope: str = "read",
              roles: tuple[str, ...] = ROLES):
    """Attach an OpenAPI operation to the route below it (``path`` in OpenAPI form)."""

    def decorator(view):
        op = {
            "operationId": view.__name__,
            "summary": summary,
            "tags": list(tags),
            "responses": dict(responses),
        }
        if parameters:
            op["parameters"] = list(parameters)
        if body:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
            op["responses"].update({k: v for k, v in BODY_PROBLEMS.items() if k not in responses})
        if public:
            op["security"] = []
        else:
            op["description"] = (f"Token scope: {scope}. Roles: {', '.join(roles)} "
                                 "(in the token's institution).")
            op["responses"].update({k: v for k, v in AUTH_PROBLEMS.items() if k not in responses})
        op["responses"].setdefault("default", problem("Any other error"))
        OPERATIONS[(path, method.lower())] = op
        if scope == "write":
            view.api_write = True
        view.api_query = frozenset(p["name"] for p in parameters if p["in"] == "query")
        return view

    return decorator
