"""The suggestion service against a fake OpenAI-compatible server on loopback: what is sent,
what comes back, and every way it fails, each with a reason a person can read. And the
LADDER_LLM_* settings."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from bot.config import ConfigError, load_settings
from bot.okr.suggest import SuggestRequest
from bot.services.suggestions import (
    SuggestionError,
    SuggestionService,
    SuggestionSettings,
    make_suggestion_service,
)
from tests.support.llm_server import FakeLLM, Reply, completion, key_results

NOW = datetime(2026, 2, 16, 9, tzinfo=UTC)
REQUEST = SuggestRequest(
    title="Delight our customers",
    why="Churn doubled",
    key_results=("Raise NPS from 30 to 45",),
    cycle="Q1 2026",
    cycle_end=date(2026, 3, 31),
)


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def service(llm: FakeLLM, **settings: object) -> SuggestionService:
    environ = settings.pop("environ", {})
    return SuggestionService(
        SuggestionSettings(url=llm.url, **settings),  # type: ignore[arg-type]
        clock=lambda: NOW,
        environ=environ,  # type: ignore[arg-type]
    )


def test_asks_the_chat_completions_endpoint_and_keeps_what_the_parser_reads(
    llm: FakeLLM,
) -> None:
    llm.reply(
        key_results(
            "Cut churn from 4% to 2% by Mar 31",
            "Improve morale",  # nothing to measure: left out
            "Raise NPS from 30 to 45",  # already typed: not offered again
            "Reach 200 customer interviews by Mar 31",
        )
    )
    found = service(llm, model="llama3.1", environ={"MY_KEY": "sk-test"}, api_key_env="MY_KEY")
    answer = found.suggest(REQUEST)
    assert answer.sentences == [
        "Cut churn from 4% to 2% by Mar 31",
        "Reach 200 customer interviews by Mar 31",
    ]
    assert answer.left_out == 1
    [asked] = llm.requests
    assert asked.path == "/v1/chat/completions"
    assert asked.headers["Authorization"] == "Bearer sk-test"
    assert asked.headers["Content-Type"] == "application/json"
    assert asked.body["model"] == "llama3.1" and asked.body["stream"] is False
    assert "Objective: Delight our customers" in asked.prompt
    assert "Why it matters: Churn doubled" in asked.prompt
    assert "Today is Feb 16, 2026." in asked.prompt


def test_no_model_and_no_key_sends_neither(llm: FakeLLM) -> None:
    llm.reply(key_results("Cut churn from 4% to 2% by Mar 31"))
    service(llm).suggest(REQUEST)
    [asked] = llm.requests
    assert "model" not in asked.body and "Authorization" not in asked.headers


def test_a_key_given_as_a_whole_header(llm: FakeLLM) -> None:
    llm.reply(key_results("Cut churn from 4% to 2% by Mar 31"))
    service(llm, environ={"AZURE_KEY": "api-key: abc123"}, api_key_env="AZURE_KEY").suggest(REQUEST)
    [asked] = llm.requests
    assert asked.headers["api-key"] == "abc123" and "Authorization" not in asked.headers


def test_the_label_is_the_model_or_else_the_host(llm: FakeLLM) -> None:
    assert service(llm, model="qwen2.5").label == "qwen2.5"
    assert service(llm).label == "127.0.0.1"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(500, b'{"error": {"message": "CUDA out of memory"}}'), "answered HTTP 500"),
        (Reply(401, b'{"error": "bad key"}'), "answered HTTP 401"),
        (Reply(body=b"<html>gateway</html>"), "answer is not JSON"),
        (Reply(body=b'{"object": "list", "data": []}'), "not a chat completion"),
        (completion("I cannot help with that."), "nothing Ladder"),
        (Reply(body=b"[" + b'"x",' * 100_000 + b'"x"]'), "larger than 256 kB"),
    ],
    ids=["500", "401", "html", "not-completion", "no-kr", "too-large"],
)
def test_failures_say_why_in_plain_words(llm: FakeLLM, reply: Reply, reason: str) -> None:
    llm.reply(reply)
    ask = service(llm)
    if reason == "nothing Ladder":  # read, but not one key result in it: not an error
        assert ask.suggest(REQUEST).sentences == []
        return
    with pytest.raises(SuggestionError, match=reason):
        ask.suggest(REQUEST)


def test_a_model_that_does_not_answer_in_time(llm: FakeLLM) -> None:
    llm.reply(Reply(body=b"{}", delay=30))
    with pytest.raises(SuggestionError, match="did not answer within 1 seconds"):
        service(llm, timeout=1.0).suggest(REQUEST)


def test_a_server_that_is_not_there() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = SuggestionService(
        SuggestionSettings(url=f"http://127.0.0.1:{port}/v1"), clock=lambda: NOW, environ={}
    )
    with pytest.raises(SuggestionError, match="could not reach the model server"):
        gone.suggest(REQUEST)


def test_a_key_unset_since_start_up_is_said_not_sent(llm: FakeLLM) -> None:
    with pytest.raises(SuggestionError, match="API key is not set"):
        service(llm, environ={}, api_key_env="GONE").suggest(REQUEST)
    assert llm.requests == []


def test_later_runs_on_its_own_threads_and_refuses_past_its_queue(llm: FakeLLM) -> None:
    ask = service(llm, workers=1, queue=2)
    release, done = threading.Event(), threading.Event()
    ran: list[str] = []

    def first() -> None:
        ran.append(threading.current_thread().name)
        release.wait(10)

    assert ask.later(first) and ask.later(lambda: done.set())
    assert not ask.later(lambda: ran.append("third"))  # two waiting already
    release.set()
    assert done.wait(10)
    assert ran[0].startswith("ladder-suggest") and "third" not in ran
    ask.close()


# -- settings ---------------------------------------------------------------------------------


def test_suggestions_are_off_unless_a_url_is_set() -> None:
    settings = load_settings({}, require_slack=False)
    assert settings.llm_url is None
    assert make_suggestion_service(url=settings.llm_url, clock=lambda: NOW) is None
    assert "llm_suggestions=False" in repr(settings)


def test_the_settings_read_and_the_key_stays_a_name() -> None:
    settings = load_settings(
        {
            "LADDER_LLM_URL": "http://10.0.0.5:8000/v1/",
            "LADDER_LLM_MODEL": "llama3.1",
            "LADDER_LLM_API_KEY_ENV": "OPENAI_API_KEY",
            "OPENAI_API_KEY": "sk-secret",
            "LADDER_LLM_TIMEOUT": "12.5",
        },
        require_slack=False,
    )
    assert settings.llm_url == "http://10.0.0.5:8000/v1"  # a private address is fine
    assert (settings.llm_model, settings.llm_api_key_env) == ("llama3.1", "OPENAI_API_KEY")
    assert settings.llm_timeout == 12.5
    assert "sk-secret" not in repr(settings) + json.dumps(settings.__dict__)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LADDER_LLM_URL": "ftp://models/v1"}, "LADDER_LLM_URL is not an http(s) URL"),
        ({"LADDER_LLM_URL": "http://me:pw@models/v1"}, "LADDER_LLM_URL holds a user"),
        (
            {"LADDER_LLM_URL": "http://models/v1", "LADDER_LLM_API_KEY_ENV": "sk-123"},
            "is not a variable name",
        ),
        (
            {"LADDER_LLM_URL": "http://models/v1", "LADDER_LLM_API_KEY_ENV": "OPENAI_API_KEY"},
            "names OPENAI_API_KEY, which is not set",
        ),
        ({"LADDER_LLM_URL": "http://models/v1", "LADDER_LLM_TIMEOUT": "0"}, "between 1 and 300"),
        ({"LADDER_LLM_URL": "http://models/v1", "LADDER_LLM_TIMEOUT": "soon"}, "between 1"),
    ],
)
def test_bad_settings_stop_start_up_with_one_line(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(")", r"\)")):
        load_settings(env, require_slack=False)
