"""The OpenAPI description (`GET /openapi.json`) against a live `bentoml serve`: schemathesis generates requests
from it for every route; none may get a 5xx, and every response must be one the description lists, in its
schema and content type."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_real_server import server  # noqa: F401  (fixture: a real server on the untrained test model)

from deepfake_detector.serving.openapi import openapi_document

pytestmark = pytest.mark.slow
MODEL_VERSION = "test"  # tiny_model_dir's
schema = schemathesis.openapi.from_dict(openapi_document(MODEL_VERSION))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_server_serves_this_description(server):  # noqa: F811
    assert httpx.get(f"{server}/openapi.json", timeout=60).json() == openapi_document(MODEL_VERSION)


@pytest.mark.timeout(900)
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_response_as_described(case, server):  # noqa: F811
    case.call_and_validate(base_url=server, checks=CHECKS, timeout=120)
