from tests.support.metrics import sample


async def test_request_counts_and_latency_move_by_route_template(client):
    before = (await client.get("/metrics")).text
    await client.get("/health/live")
    await client.get("/health/live/")
    await client.get("/api/auth/me")
    after = (await client.get("/metrics")).text

    live = {"method": "GET", "route": "/health/live", "status": "200"}
    me = {"method": "GET", "route": "/api/auth/me", "status": "401"}
    assert (
        sample(after, "http_requests_total", **live) - sample(before, "http_requests_total", **live)
        == 2
    )
    assert (
        sample(after, "http_requests_total", **me) - sample(before, "http_requests_total", **me)
        == 1
    )
    latency = {"method": "GET", "route": "/health/live"}
    assert sample(after, "http_request_duration_seconds_count", **latency) >= 2


async def test_unmatched_paths_share_one_label(client):
    await client.get("/api/nothing/abc123")
    await client.get("/api/nothing/def456")

    text = (await client.get("/metrics")).text

    assert "abc123" not in text
    assert sample(text, "http_requests_total", method="GET", route="unmatched", status="404") >= 2


async def test_metrics_are_prometheus_text(client):
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE http_requests_total counter" in response.text
