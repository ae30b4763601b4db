"""Fetching one value from each kind of source, and every way a source can fail, against a
loopback server playing the source."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from bot.sources.fetch import (
    Fetcher,
    FetchPolicy,
    SourceError,
    SourceKind,
    SourceSpec,
    credential_names,
    spec_problem,
)
from bot.sources.guard import address_problem
from tests.support.source_server import (
    Answer,
    SourceServer,
    csv_answer,
    json_answer,
    prometheus_answer,
)

LOCAL = ("127.0.0.1",)  # the test server is private: it must be allow-listed
FAST = FetchPolicy(
    connect_timeout=1,
    read_timeout=0.5,
    total_timeout=3,
    attempts=3,
    backoff=0.01,
    max_bytes=1_000_000,
)


@pytest.fixture
def server() -> Iterator[SourceServer]:
    with SourceServer() as server:
        yield server


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    instance = Fetcher(
        FAST, environ={"LADDER_SOURCE_METRICS": "s3cret", "LADDER_SOURCE_API": "X-Api-Key: k3y"}
    )
    yield instance
    instance.close()


def json_spec(
    server: SourceServer, expression: str = "data.active", **options: object
) -> SourceSpec:
    return SourceSpec(
        SourceKind.JSON, server.url("/metrics.json"), expression=expression, **options
    )  # type: ignore[arg-type]


def test_json_expression_picks_the_number_and_scales_it(
    server: SourceServer, fetcher: Fetcher
) -> None:
    server.route("/metrics.json", json_answer({"data": {"active": 1234, "p95": 0.25}}))
    reading = fetcher.read(json_spec(server), allowed_hosts=LOCAL)
    assert (reading.value, reading.raw) == (1234.0, 1234.0)
    latency = fetcher.read(json_spec(server, "data.p95", multiplier=1000), allowed_hosts=LOCAL)
    assert latency.value == 250.0 and latency.raw == 0.25


def test_jmespath_functions_work(server: SourceServer, fetcher: Fetcher) -> None:
    server.route("/metrics.json", json_answer({"items": [{"n": 2}, {"n": 5}], "text": "42"}))
    assert fetcher.read(json_spec(server, "sum(items[].n)"), allowed_hosts=LOCAL).value == 7
    assert fetcher.read(json_spec(server, "to_number(text)"), allowed_hosts=LOCAL).value == 42


def test_credentials_come_from_the_environment_and_are_sent(
    server: SourceServer, fetcher: Fetcher
) -> None:
    server.route("/metrics.json", json_answer({"data": {"active": 1}}))
    fetcher.read(json_spec(server, credential="METRICS"), allowed_hosts=LOCAL)
    fetcher.read(json_spec(server, credential="API"), allowed_hosts=LOCAL)
    assert server.requests[0].headers["Authorization"] == "Bearer s3cret"
    assert server.requests[1].headers["X-Api-Key"] == "k3y"
    with pytest.raises(SourceError, match="LADDER_SOURCE_MISSING is not set"):
        fetcher.read(json_spec(server, credential="MISSING"), allowed_hosts=LOCAL)
    assert credential_names({"LADDER_SOURCE_A": "x", "LADDER_SOURCE_EMPTY": "", "OTHER": "y"}) == [
        "A"
    ]


def test_prometheus_instant_query(server: SourceServer, fetcher: Fetcher) -> None:
    server.route("/api/v1/query", prometheus_answer("0.993"))
    spec = SourceSpec(
        SourceKind.PROMETHEUS, server.url("/"), expression='avg(up{job="api"})', multiplier=100
    )
    reading = fetcher.read(spec, allowed_hosts=LOCAL)
    assert reading.value == pytest.approx(99.3)
    assert "query=avg%28up%7Bjob%3D%22api%22%7D%29" in server.requests[0].path


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (prometheus_answer("1", samples=0), "0 samples"),
        (prometheus_answer("1", samples=3), "3 samples"),
        (prometheus_answer("NaN"), "not a real number"),
        (
            json_answer({"status": "error", "error": "parse error at char 3"}),
            "parse error at char 3",
        ),
    ],
)
def test_prometheus_answers_without_one_number_fail(
    server: SourceServer, fetcher: Fetcher, answer: Answer, reason: str
) -> None:
    server.route("/api/v1/query", answer)
    spec = SourceSpec(SourceKind.PROMETHEUS, server.url("/api/v1/query"), expression="up")
    with pytest.raises(SourceError, match=reason):
        fetcher.read(spec, allowed_hosts=LOCAL)


def test_csv_last_row_or_matching_key(server: SourceServer, fetcher: Fetcher) -> None:
    server.route(
        "/nps.csv", csv_answer('\ufeffweek,NPS,responses\n2026-W01,41,120\n2026-W02,"1,044",98\n')
    )
    last = SourceSpec(SourceKind.CSV, server.url("/nps.csv"), column="nps")
    assert fetcher.read(last, allowed_hosts=LOCAL).value == 1044
    keyed = SourceSpec(
        SourceKind.CSV, server.url("/nps.csv"), column="responses", row_key="2026-W01"
    )
    assert fetcher.read(keyed, allowed_hosts=LOCAL).value == 120
    with pytest.raises(SourceError, match="no column “churn”"):
        fetcher.read(
            SourceSpec(SourceKind.CSV, server.url("/nps.csv"), column="churn"), allowed_hosts=LOCAL
        )
    with pytest.raises(SourceError, match="no CSV row starts with “2027”"):
        fetcher.read(
            SourceSpec(SourceKind.CSV, server.url("/nps.csv"), column="NPS", row_key="2027"),
            allowed_hosts=LOCAL,
        )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"data": {"active": "lots"}}', "matched the text “lots”, not a number"),
        (b'{"data": {}}', "matched nothing"),
        (b'{"data": {"active": true}}', "matched true"),
        (b'{"data": {"active": [1, 2]}}', "matched a list"),
        (b'{"data": {"active": 1e400}}', "not a real number"),
        (b'{"data": {"active": NaN}}', "not a real number"),
        (b'{"data": {"active": 1e300}}', "too large"),
    ],
)
def test_json_that_gives_no_usable_number_fails(
    server: SourceServer, fetcher: Fetcher, body: bytes, reason: str
) -> None:
    server.route("/metrics.json", Answer(body=body))
    with pytest.raises(SourceError, match=reason):
        fetcher.read(json_spec(server), allowed_hosts=LOCAL)


def test_a_slow_source_times_out(server: SourceServer, fetcher: Fetcher) -> None:
    server.route("/metrics.json", json_answer({"data": {"active": 1}}, delay=2))
    with pytest.raises(SourceError, match="did not answer in time"):
        fetcher.read(json_spec(server), allowed_hosts=LOCAL)


def test_500s_are_retried_with_backoff(server: SourceServer) -> None:
    pauses: list[float] = []
    fetcher = Fetcher(FAST, environ={}, sleep=pauses.append)
    server.route(
        "/metrics.json",
        lambda n: json_answer({"data": {"active": 7}}) if n >= 3 else Answer(503, b"busy"),
    )
    assert fetcher.read(json_spec(server), allowed_hosts=LOCAL).attempts == 3
    assert pauses == [0.01, 0.02]
    server.route("/metrics.json", Answer(500, b"down"))
    with pytest.raises(SourceError, match="HTTP 500 \\(3 tries\\)"):
        fetcher.read(json_spec(server), allowed_hosts=LOCAL)
    server.route("/metrics.json", Answer(404, b"gone"))
    before = server.hits("/metrics.json")
    with pytest.raises(SourceError, match="HTTP 404"):
        fetcher.read(json_spec(server), allowed_hosts=LOCAL)
    assert server.hits("/metrics.json") == before + 1  # a 4xx is not retried
    fetcher.close()


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_50_mb_answer_is_refused_past_the_cap_without_reading_it(
    server: SourceServer, fetcher: Fetcher, declare_length: bool
) -> None:
    size = 50 * 1024 * 1024
    server.route("/metrics.json", Answer(stream_bytes=size, declare_length=declare_length))
    with pytest.raises(SourceError, match="cap"):
        fetcher.read(json_spec(server), allowed_hosts=LOCAL)
    assert server.stream_done.setdefault("/metrics.json", threading.Event()).wait(10)
    # The server stopped when Ladder hung up: what left it is the cap plus socket buffers.
    assert server.sent_bytes["/metrics.json"] < size // 4


def test_a_redirect_to_the_metadata_address_is_refused(
    server: SourceServer, fetcher: Fetcher
) -> None:
    server.route(
        "/metrics.json",
        Answer(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
    )
    with pytest.raises(SourceError, match=r"169\.254\.169\.254 is a link-local or cloud metadata"):
        fetcher.read(json_spec(server), allowed_hosts=LOCAL)


def test_a_redirect_to_a_private_host_not_on_the_allow_list_is_not_fetched(
    server: SourceServer, fetcher: Fetcher
) -> None:
    server.route(
        "/metrics.json", Answer(302, headers={"Location": f"http://localhost:{server.port}/secret"})
    )
    server.route("/secret", json_answer({"data": {"active": 1}}))
    with pytest.raises(SourceError, match="private address"):
        fetcher.read(json_spec(server), allowed_hosts=LOCAL)
    assert server.hits("/secret") == 0
    # An allowed redirect is followed, and credentials do not follow to another origin.
    fetcher.read(json_spec(server, credential="METRICS"), allowed_hosts=(*LOCAL, "localhost"))
    assert server.hits("/secret") == 1
    assert "Authorization" not in server.requests[-1].headers


def test_private_addresses_need_the_allow_list(server: SourceServer, fetcher: Fetcher) -> None:
    server.route("/metrics.json", json_answer({"data": {"active": 1}}))
    with pytest.raises(SourceError, match="allow-list"):
        fetcher.read(json_spec(server))
    assert server.hits("/metrics.json") == 0


def test_the_metadata_address_is_refused_even_when_allow_listed(fetcher: Fetcher) -> None:
    spec = SourceSpec(SourceKind.JSON, "http://169.254.169.254/latest", expression="a")
    with pytest.raises(SourceError, match="never fetches"):
        fetcher.read(spec, allowed_hosts=("169.254.169.254",))


def test_a_name_that_resolves_elsewhere_at_connect_time_is_refused(
    server: SourceServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: public when checked, loopback when connected: no connection is made."""
    server.route("/metrics.json", json_answer({"data": {"active": 1}}))
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host: str, port: int, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        if host == "metrics.example":
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    spec = SourceSpec(
        SourceKind.JSON,
        f"http://metrics.example:{server.port}/metrics.json",
        expression="data.active",
    )
    with pytest.raises(SourceError, match=r"127\.0\.0\.1 is a private address"):
        fetcher.read(spec)
    assert server.hits("/metrics.json") == 0


@pytest.mark.parametrize(
    ("address", "allowed", "refused"),
    [
        ("169.254.169.254", True, True),
        ("::ffff:169.254.169.254", True, True),
        ("fd00:ec2::254", True, True),
        ("fe80::1", True, True),
        ("100.100.100.200", True, True),
        ("0.0.0.0", True, True),
        ("10.1.2.3", False, True),
        ("10.1.2.3", True, False),
        ("::1", False, True),
        ("192.168.1.1", False, True),
        ("8.8.8.8", False, False),
    ],
)
def test_address_rules(address: str, allowed: bool, refused: bool) -> None:
    assert (address_problem(address, host_allowed=allowed) is not None) is refused


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (SourceSpec(SourceKind.JSON, "ftp://x/y", expression="a"), "http://"),
        (SourceSpec(SourceKind.JSON, "https://u:p@x/y", expression="a"), "no password"),
        (SourceSpec(SourceKind.JSON, "https://x/y", expression="a[?"), "does not parse"),
        (SourceSpec(SourceKind.JSON, "https://x/y"), "JMESPath"),
        (SourceSpec(SourceKind.PROMETHEUS, "https://x"), "Prometheus query"),
        (SourceSpec(SourceKind.CSV, "https://x/y.csv"), "column"),
        (
            SourceSpec(SourceKind.CSV, "https://x/y.csv", column="a", multiplier=float("nan")),
            "multiplier",
        ),
        (
            SourceSpec(SourceKind.JSON, "https://x/y", expression="a", credential="lower"),
            "credential",
        ),
    ],
)
def test_spec_problems_are_named(spec: SourceSpec, problem: str) -> None:
    assert problem in (spec_problem(spec) or "")
