"""The vocabulary shared by the core, storage and Slack layers."""

from __future__ import annotations

from enum import StrEnum


class KRKind(StrEnum):
    """How a key result is measured."""

    INCREASE = "increase"  # move from start up to target
    DECREASE = "decrease"  # move from start down to target
    AT_LEAST = "at_least"  # keep the value at or above target (threshold)
    AT_MOST = "at_most"  # keep the value at or below target (threshold)
    MILESTONE = "milestone"  # done (1) or not done (0)

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def is_threshold(self) -> bool:
        return self in (KRKind.AT_LEAST, KRKind.AT_MOST)


_KIND_LABELS = {
    KRKind.INCREASE: "Increase to",
    KRKind.DECREASE: "Decrease to",
    KRKind.AT_LEAST: "Stay at least",
    KRKind.AT_MOST: "Stay at most",
    KRKind.MILESTONE: "Milestone",
}


class UnitKind(StrEnum):
    """What a key result's numbers are."""

    NUMBER = "number"  # a plain count, optionally with a free label ("active users")
    PERCENT = "percent"
    CURRENCY = "currency"  # unit label holds the ISO code or symbol: "USD", "EUR"
    DURATION = "duration"  # unit label holds the time unit: "ms", "s", "min", "h", "d"


class Status(StrEnum):
    """Health of a key result or objective. Order matters: later is worse.

    NOT_STARTED (no check-in yet) ranks below ON_TRACK: it is no news, so an objective whose
    KRs are partly started takes the worst status of the started ones (see bot/okr/pace.py).
    NO_RECENT_DATA (no check-in for two check-in periods) ranks between them: an objective
    shows it only when every started KR under it is stale (bot/okr/pace.py, rule 5).
    """

    NOT_STARTED = "not_started"
    NO_RECENT_DATA = "no_recent_data"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"

    @property
    def rank(self) -> int:
        return list(Status).index(self)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @classmethod
    def worst(cls, statuses: list[Status]) -> Status | None:
        return max(statuses, key=lambda s: s.rank) if statuses else None


class GradeBand(StrEnum):
    GREEN = "green"  # >= 0.7
    YELLOW = "yellow"  # 0.4 .. 0.69
    RED = "red"  # < 0.4


class Level(StrEnum):
    """Where an objective sits in the cascade. Company objectives serve the vision and
    mission (and say which part: their "why"); team objectives belong to a team; personal
    objectives are a person's own (no team) and ladder up to a team or company objective."""

    COMPANY = "company"
    TEAM = "team"
    PERSONAL = "personal"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @classmethod
    def of(cls, raw: str | None, *, team_id: int | None) -> Level:
        """A stored level; a row without one (old data, imports) is read from its team:
        no team is company, as it was before levels."""
        if raw:
            return cls(raw)
        return cls.TEAM if team_id is not None else cls.COMPANY
