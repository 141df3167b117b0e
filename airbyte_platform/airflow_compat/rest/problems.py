"""Errors as Airflow's REST API sends them: RFC 7807 problem details (`application/problem+json`).

Same `type` links, titles and status codes as `airflow.api_connexion.exceptions`, so callers that
parse Airflow's errors (or only look at the status) keep working; `detail` always says what to fix.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"
_DOCS = "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html#section/Errors"
_KINDS = {
    400: ("BadRequest", "Bad Request"),
    401: ("Unauthenticated", "Unauthorized"),
    403: ("PermissionDenied", "Forbidden"),
    404: ("NotFound", "Not Found"),
    405: ("MethodNotAllowed", "Method Not Allowed"),
    409: ("AlreadyExists", "Conflict"),
    500: ("Unknown", "Internal Server Error"),
    503: ("Unknown", "Service Unavailable"),
}


def problem(
    status: int, detail: str, title: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    kind, default_title = _KINDS[status]
    body = {"type": f"{_DOCS}/{kind}", "title": title or default_title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


class ApiProblem(Exception):
    """Raised inside a handler; the app turns it into a problem response."""

    def __init__(self, status: int, detail: str, title: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.title = status, detail, title

    def response(self) -> JSONResponse:
        return problem(self.status, self.detail, self.title)
