"""Property-based requests from the app's own OpenAPI schema against a real `govlive serve`.

Schemathesis generates valid and invalid requests for every operation in
``/openapi.json`` (a bounded number each) and checks that none of them gets a
5xx. Requests carry the admin token, which every role check admits, so the
generated cases reach the handlers instead of stopping at 401. The database
holds a few comments and work orders first, so small generated ids hit real
rows and the lifecycle endpoints run their transition checks, not just 404.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import ServerError

from live import LiveServer, data_dir_with_index, douyin_push

pytestmark = pytest.mark.model

MAX_EXAMPLES = 25  # per operation: about 25 operations, a couple of minutes in all

SEED_COMMENTS = [
    "医保卡丢了怎么补办",
    "帮我查下我的社保为什么断缴了 电话13912345678",
    "我家门口路灯坏了一个月了 没人管",
    "公积金贷款额度怎么算",
    "孩子上户口要带什么",
]


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory, bundled_index):
    server = LiveServer(
        data_dir_with_index(tmp_path_factory.mktemp("schemathesis"), bundled_index[0]),
        # Long polls are capped so that generated `wait` values do not stall the run.
        settings={"GOVLIVE_HOST_MAX_WAIT_SECONDS": "0.2"},
    ).start()
    items = [{"msg_id": f"st-{i}", "sec_openid": f"u-{i}", "nickname": "观众", "content": text, "timestamp": int(time.time() * 1000)}
             for i, text in enumerate(SEED_COMMENTS)]
    assert douyin_push(server, items).status_code == 200
    server.wait_processed()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(seeded_server):
    return schemathesis.openapi.from_url(f"{seeded_server.url}/openapi.json")


def check_case(case, server) -> None:
    response = case.call(headers=server.auth("admin"), timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
    if 400 <= response.status_code < 500:
        # A clear error: JSON with a detail, not an empty body or a traceback.
        content_type = response.headers.get("content-type", [""])[0]  # schemathesis keeps every value of a header
        assert content_type.startswith("application/json"), response.text[:200]
        assert "detail" in response.json()
    assert server.process.poll() is None, "the server died"


# The operations are driven with schemathesis' documented strategy API and plain
# Hypothesis, each in a pytest subtest, rather than through schemathesis' pytest
# plugin: that plugin reaches into pytest internals (``Function._nodeid``) that
# pytest 9.1 removed, and a test of our API should not break with a test runner.
def test_no_operation_answers_with_a_server_error(api_schema, seeded_server, subtests):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]  # the schema really lists the API
    for operation in operations:
        with subtests.test(msg=operation.label):

            @given(case=operation.as_strategy())
            @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None)
            def run(case):
                check_case(case, seeded_server)

            run()


def test_a_server_error_would_be_caught(seeded_server, api_schema):
    """The check above can fail: a case whose response is a 500 is reported as one."""
    import httpx

    operation = next(result.ok() for result in api_schema.get_all_operations() if result.ok().label == "GET /api/admin/status")
    case = operation.Case()
    response = case.call(headers=seeded_server.auth("admin"), timeout=30)
    assert response.status_code == 200
    fake = httpx.Response(500, json={"detail": "boom"}, request=httpx.Request("GET", f"{seeded_server.url}/api/admin/status"))
    fake.elapsed = dt.timedelta(milliseconds=1)  # as if it had been received
    with pytest.raises(BaseExceptionGroup) as caught:
        case.validate_response(fake, checks=[not_a_server_error])
    assert caught.group_contains(ServerError)
