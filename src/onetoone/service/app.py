"""The front-line web service: look a contact up, read a customer's view, on a small page.

Prepared once at start-up (``load_context``): identity's lookup index over the latest run and
the marts' personal columns from dbt's manifest. Every request authenticates with a bearer
token (``serving.frontline``); lookups are for the front-line role only, and a front-line
token sees a customer's personal fields only after a lookup of its own answered that customer.
Every lookup and view is audited without the searched values. ``POST /customers`` records a
new caller as a call-center record of the front line's own (``capture``), audited the same way.
Errors are one-line JSON
(``{"error": ...}``), never a traceback; logs carry no query string and no personal value.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which
# name dependencies local to create_app.
import logging
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import Body, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from onetoone.foundation.config import paths
from onetoone.runtime.dbt import MartColumns, mart_columns
from onetoone.service.capture import CallerWriter, CaptureRefused, checked_caller
from onetoone.stages.identity.lookup import (
    LOOKUP_FIELDS,
    LookupBatcher,
    LookupIndex,
    LookupResult,
    NothingToLookUp,
    UnusableField,
)
from onetoone.stages.identity.step import lookup_index
from onetoone.stages.serving import frontline

log = logging.getLogger(__name__)

CUSTOMERS_ANSWERED = 5  # best customers a lookup answers


@dataclass
class ServiceContext:
    """What the service prepares once and every request shares."""

    warehouse_url: str
    index: LookupIndex
    marts: dict[str, MartColumns]
    audit_key: bytes
    landing: Path | None = None  # where new callers are written; the state's landing folder


def load_context(warehouse_url: str) -> ServiceContext:
    with psycopg.connect(warehouse_url) as conn:
        index = lookup_index(conn)
    return ServiceContext(warehouse_url, index, mart_columns(), frontline.audit_key())


def create_app(context: ServiceContext) -> FastAPI:
    # Concurrent lookups are scored together (one standardisation, one query per batch), by
    # worker threads that live while a server runs the app (counted: tests run it twice).
    scoring = {"batcher": None, "servers": 0}
    scoring_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        with scoring_lock:
            scoring["servers"] += 1
            if scoring["batcher"] is None:
                scoring["batcher"] = LookupBatcher(context.index)
        try:
            yield
        finally:
            with scoring_lock:
                scoring["servers"] -= 1
                if not scoring["servers"]:
                    scoring["batcher"].close()
                    scoring["batcher"] = None

    app = FastAPI(title="onetoone front line", docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    connections = threading.local()
    bearer = HTTPBearer(auto_error=False)
    writer = CallerWriter(context.landing or paths().landing)

    def connection() -> psycopg.Connection:
        """This worker thread's connection to the warehouse (autocommit: each statement is
        its own transaction; the audit row is written whatever the answer)."""
        conn = getattr(connections, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = connections.conn = psycopg.connect(context.warehouse_url, autocommit=True)
        return conn

    def principal(credentials: Annotated[HTTPAuthorizationCredentials | None,
                                         Depends(bearer)]) -> frontline.Principal:
        if credentials is None:
            raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)",
                                headers={"WWW-Authenticate": "Bearer"})
        found = frontline.authenticate(connection(), credentials.credentials)
        if found is None:
            raise HTTPException(401, "unknown or revoked token",
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "query")
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"},
                            status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # the type only: a message may quote a searched value
        log.error("%s %s failed: %s", request.method, _route(request), type(error).__name__)
        return JSONResponse({"error": "internal error; the service log names its type"},
                            status_code=500)

    @app.middleware("http")
    async def _log(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        log.info("%s %s %d %.1f ms", request.method, _route(request), response.status_code,
                 (time.perf_counter() - started) * 1000)
        return response

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model_version": context.index.model_version,
                "records": context.index.records, **_scoring_counts(scoring["batcher"])}

    @app.get("/customers/lookup")
    def lookup(request: Request,
               who: Annotated[frontline.Principal, Depends(principal)]) -> dict[str, Any]:
        started = time.perf_counter()
        contact: dict[str, str] = {}

        def audited(outcome: str, answered: list) -> None:
            frontline.record_access(
                connection(), who, kind="lookup", fields_given=list(contact),
                contact_digest=frontline.contact_hash(context.audit_key, contact)
                if contact else None,
                outcome=outcome, result_keys=[c.customer_key for c in answered],
                latency_ms=(time.perf_counter() - started) * 1000,
                model_version=context.index.model_version)

        if who.role != frontline.FRONTLINE:
            audited("forbidden", [])
            raise HTTPException(403, f"the {who.role} role may not look customers up by "
                                     "personal data")
        try:
            contact = _contact(request)
            result = scoring["batcher"].score(contact)
        except TimeoutError:
            audited("timed_out", [])
            raise HTTPException(503, "the lookup did not finish in time; the service is "
                                     "overloaded, try again") from None
        except HTTPException:
            audited("refused", [])
            raise
        except NothingToLookUp as error:
            audited("refused", [])
            raise HTTPException(400, str(error)) from None
        except UnusableField as error:
            audited("refused", [])
            raise HTTPException(422, str(error)) from None
        answered = result.customers[:CUSTOMERS_ANSWERED]
        audited(result.outcome, answered)
        return _lookup_answer(result, answered, context.index.model_version)

    @app.post("/customers", status_code=201)
    def record_caller(body: Annotated[Any, Body()],
                      who: Annotated[frontline.Principal, Depends(principal)]) -> dict[str, Any]:
        """A caller who is not yet a customer (or gives new details), recorded as a new
        call-center record: the next run ingests it and identity links it or keys it anew."""
        started = time.perf_counter()
        given = {name: value for name, value in body.items() if name in LOOKUP_FIELDS
                 and isinstance(value, str) and value.strip()} if isinstance(body, dict) else {}

        def audited(outcome: str, captured=None) -> None:
            frontline.record_capture(
                connection(), who, fields_given=list(given),
                contact_digest=frontline.contact_hash(context.audit_key, given)
                if given else None, outcome=outcome,
                source_record=captured.source_record if captured else None,
                landing_file=captured.landing_file if captured else None,
                latency_ms=(time.perf_counter() - started) * 1000)

        if who.role != frontline.FRONTLINE:
            audited("forbidden")
            raise HTTPException(403, f"the {who.role} role may not record callers")
        try:
            caller = checked_caller(body)
        except CaptureRefused as error:
            audited("refused")
            raise HTTPException(422, str(error)) from None
        captured = writer.write(caller, agent_id=f"frontline:{who.token_id}")
        audited("recorded", captured)
        return {"source_record": captured.source_record, "contact_id": captured.contact_id,
                "landing_file": captured.landing_file,
                "linked": "by the next run's ingest and identity steps"}

    @app.get("/customers/{customer_key}")
    def customer(customer_key: str,
                 who: Annotated[frontline.Principal, Depends(principal)]) -> dict[str, Any]:
        started = time.perf_counter()
        if len(customer_key) > 64 or not customer_key.isprintable():
            raise HTTPException(422, "customer_key: not a customer key")
        conn = connection()
        personal = who.role == frontline.FRONTLINE and frontline.has_looked_up(
            conn, who, customer_key)
        try:
            view = frontline.customer_view(conn, customer_key, context.marts, personal=personal)
        except frontline.MartsNotPublished as error:
            raise HTTPException(503, str(error)) from None
        frontline.record_access(
            conn, who, kind="view", fields_given=[], contact_digest=None,
            outcome="found" if view else "not_found",
            result_keys=[customer_key] if view else [],
            latency_ms=(time.perf_counter() - started) * 1000)
        if view is None:
            raise HTTPException(404, f"no customer {customer_key!r}")
        return {"customer_key": customer_key, **view,
                "personal_columns": frontline.personal_columns(context.marts)}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return files("onetoone.service").joinpath("customer.html").read_text(encoding="utf-8")

    return app


def _contact(request: Request) -> dict[str, str]:
    """The lookup's fields from the query string: known names only, each at most once."""
    params = request.query_params
    unknown = sorted(set(params) - set(LOOKUP_FIELDS))
    if unknown:
        raise HTTPException(422, f"unknown field {unknown[0]!r}; expected any of "
                                 f"{', '.join(LOOKUP_FIELDS)}")
    repeated = sorted(name for name in set(params) if len(params.getlist(name)) > 1)
    if repeated:
        raise HTTPException(422, f"{repeated[0]}: given more than once")
    too_long = sorted(name for name, value in params.items() if len(value) > 200)
    if too_long:
        raise HTTPException(422, f"{too_long[0]}: longer than 200 characters")
    return {name: value for name, value in params.items() if value.strip()}


def _lookup_answer(result: LookupResult, answered: list, model_version: str) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "model_version": model_version,
        "candidates_scored": result.candidates_scored,
        "fields_compared": result.fields_compared,
        "customers": [{
            "customer_key": c.customer_key,
            "match_probability": round(c.match_probability, 6),
            "match_weight": round(c.match_weight, 3),
            "fields_agreeing": c.agreed,
            "fields_disagreeing": c.disagreed,
            "evidence": c.evidence,
        } for c in answered],
    }


def _scoring_counts(batcher: LookupBatcher | None) -> dict[str, Any]:
    if batcher is None:
        return {}
    return {"lookup_batches": batcher.batches, "lookups_scored": batcher.contacts,
            "scoring_seconds": round(batcher.scoring_seconds, 3)}


def _route(request: Request) -> str:
    """The route's template (``/customers/{customer_key}``), never the query string."""
    route = request.scope.get("route")
    return getattr(route, "path", "(no route)")
