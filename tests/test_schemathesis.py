"""Property-based requests from the app's own OpenAPI schema against a real `govlive serve`.

Schemathesis generates valid and invalid requests for every operation in
``/openapi.json`` (a bounded number each) and checks that none of them gets a
5xx. Requests carry the admin token, which every role check admits, so the
generated cases reach the handlers instead of stopping at 401. The database
holds a few comments and work orders first, so small generated ids hit real
rows and the lifecycle endpoints run their transition checks, not just 404.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

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


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_operation_answers_with_a_server_error(case, seeded_server):
    response = case.call(headers=seeded_server.auth("admin"), timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
    if 400 <= response.status_code < 500:
        # A clear error: JSON with a detail, not an empty body or a traceback.
        content_type = response.headers.get("content-type", [""])[0]  # schemathesis keeps every value of a header
        assert content_type.startswith("application/json"), response.text[:200]
        assert "detail" in response.json()
    assert seeded_server.process.poll() is None, "the server died"
