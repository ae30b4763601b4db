"""Delivers the outbox to Slack: bounded concurrency, exactly once, polite to rate limits.

Exactly once: a row is claimed before it is sent, and every message carries its outbox id
in Slack message metadata. If a sender dies between Slack accepting a message and the row
being marked sent, the row is reclaimed later with `maybe_sent`; the DM history is then
searched for that id before anything is posted again.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.checkins import build_checkin_prompt
from bot.blocks.digest import build_team_digest
from bot.blocks.health import with_health_line
from bot.blocks.reviews import build_reflection_request
from bot.jobs.pacing import Pacer
from bot.logs import log_event
from bot.pictures import Pictures, digest_post
from bot.services.alignment import AlignmentService
from bot.services.charts import ChartService
from bot.services.delivery import DIGEST, PROMPT, Delivery, DeliveryService
from bot.services.digests import DigestService  # digests: channel digests on the digest day
from bot.services.people import PeopleDirectory
from bot.services.reviews import ReviewService, cycle_of_kind
from storage.people import SlackProfile

log = logging.getLogger(__name__)

METADATA_EVENT = "ladder_outbox"
REVOKED = frozenset({"invalid_auth", "account_inactive", "token_revoked", "not_authed"})
UNDELIVERABLE = frozenset(
    {"user_not_found", "channel_not_found", "cannot_dm_bot", "user_disabled", "is_archived"}
    | {"not_in_channel"}  # digests: a channel the bot was removed from
)
ClientFor = Callable[[str], WebClient]
CLAIM_SECONDS = 1.0  # a claim is what the workspace's pace sends in this long


@dataclass
class SendReport:
    sent: int = 0  # prompts, reminders and digests
    recovered: int = 0  # found already in Slack after a crash: not sent again
    failed: int = 0
    deferred: int = 0
    digests: int = 0  # of `sent`: team digests posted in channels
    reflections: int = 0  # of `sent`: end-of-cycle reflection requests

    def add(self, other: SendReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


LIST_ABOVE = 50  # more stale profiles than this: page users.list instead of users.info each


def lookup_profiles(client_for: ClientFor) -> Callable[[str, Sequence[str]], list[SlackProfile]]:
    """Profiles (timezone, deleted, bot) for the people about to be asked.

    A few: users.info each (Tier 4). Many: users.list pages of 200 (Tier 2), since 10,000
    users.info calls would take over an hour and a half at Tier 4's pace. A user Slack does
    not know is treated as gone.
    """

    def lookup(workspace_id: str, user_ids: Sequence[str]) -> list[SlackProfile]:
        client = client_for(workspace_id)
        wanted = list(dict.fromkeys(user_ids))
        found: dict[str, SlackProfile] = {}
        if len(wanted) > LIST_ABOVE:
            found = _list_profiles(client, workspace_id, set(wanted))
        missing = [u for u in wanted if u not in found]

        def one(user_id: str) -> SlackProfile | None:
            try:
                return _profile(client.users_info(user=user_id)["user"])
            except SlackApiError as error:
                if error.response.get("error") == "user_not_found":
                    return SlackProfile(user_id, None, deleted=True)
                log.warning(
                    "workspace=%s user=%s users.info failed: %s",
                    workspace_id,
                    user_id,
                    error.response.get("error"),
                )
                return None

        with ThreadPoolExecutor(max_workers=8) as pool:
            more = [p for p in pool.map(one, missing) if p is not None]
        return [*found.values(), *more]

    return lookup


def _profile(user: dict) -> SlackProfile:
    return SlackProfile(
        user["id"],
        user.get("tz"),
        deleted=bool(user.get("deleted")),
        is_bot=bool(user.get("is_bot")),
    )


def _list_profiles(
    client: WebClient, workspace_id: str, wanted: set[str]
) -> dict[str, SlackProfile]:
    """The wanted users from users.list; whatever a failed page leaves out is asked one by one."""
    found: dict[str, SlackProfile] = {}
    try:
        for page in client.users_list(limit=200):  # a SlackResponse pages on by its cursor
            for user in page.get("members", []):
                if user.get("id") in wanted:
                    found[user["id"]] = _profile(user)
            if len(found) == len(wanted):
                break
        return found
    except SlackApiError as error:
        log.warning(
            "workspace=%s users.list failed after %d profiles: %s",
            workspace_id,
            len(found),
            error.response.get("error"),
        )
        return found


class Sender:
    def __init__(
        self,
        service: DeliveryService,
        client_for: ClientFor,
        *,
        concurrency: int = 8,
        batch: int = 200,
        reclaim_after: timedelta = timedelta(minutes=2),
        digests: DigestService | None = None,
        pacer: Pacer | None = None,
        pictures: Pictures | None = None,
        reviews: ReviewService | None = None,
    ) -> None:
        self.service = service
        self.client_for = client_for
        self.people = PeopleDirectory()  # digest names (bot/services/people.py)
        self.concurrency = concurrency
        self.pacer = pacer or Pacer()  # ~1 message/s per channel, a workspace-wide pace
        self.batch = batch
        # A claim holds what the workspace's pace sends in CLAIM_SECONDS (at least a round
        # for every thread), not `batch` rows: parallel senders sharing the pace then share
        # the rows too, instead of one holding 200 while another finds nothing to claim.
        rate = self.pacer.per_workspace
        self.claim_size = (
            batch if rate is None else max(concurrency, min(batch, math.ceil(rate * CLAIM_SECONDS)))
        )
        self.reclaim_after = reclaim_after
        # digests: planned with the prompts, sent through the same outbox.
        self.digests = digests or DigestService(service.engine, clock=service.clock)
        # charts: the team's picture under each digest (bot/pictures.py).
        self.pictures = pictures or Pictures(ChartService(service.engine, clock=service.clock))
        # reflections: planned when a cycle closes, one DM per objective owner.
        self.reviews = reviews or ReviewService(service.engine, clock=service.clock)
        self.alignment = AlignmentService(service.engine, clock=service.clock)  # health line

    def run(self, *, workspace_id: str | None = None, force: bool = False) -> SendReport:
        """Plan what is due, then send until nothing is left to claim.

        The pool is kept fed: the next batch is claimed while the last one is still being
        sent (once few enough rows are left in hand), so neither a batch's last posts nor
        the claim itself leave the senders idle. At most claim_size + 2 × concurrency rows are
        in hand at a time; those are excluded from the claims, so a short reclaim_after
        cannot hand them out again while they are on the wire.
        """
        started = time.monotonic()
        self.service.plan(
            profiles=lookup_profiles(self.client_for), workspace_id=workspace_id, force=force
        )
        self.digests.plan(workspace_id=workspace_id)  # digests: due on the digest day only
        report = SendReport()
        tried: set[int | None] = set()  # once per run: a row left in doubt waits for the next
        in_hand: dict[Future[SendReport], int] = {}  # claimed, not delivered yet -> row id
        refill_at = 2 * self.concurrency  # claim again when this few are left in hand
        more = True  # until a claim brings nothing new
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            try:
                while more or in_hand:
                    if more and len(in_hand) <= refill_at:
                        more = self._claim_into(pool, in_hand, tried, workspace_id)
                        continue
                    done, _ = wait(in_hand, return_when=FIRST_COMPLETED)
                    for future in done:
                        del in_hand[future]
                        report.add(future.result())
            except BaseException:
                for future in in_hand:  # what has not started stays claimed, as if we died
                    future.cancel()
                raise
        if report.sent or report.failed or report.recovered:
            log_event(
                log,
                "send_run",
                workspace=workspace_id or "all",
                sent=report.sent,
                recovered=report.recovered,
                failed=report.failed,
                deferred=report.deferred,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
        return report

    def _claim_into(
        self,
        pool: ThreadPoolExecutor,
        in_hand: dict[Future[SendReport], int],
        tried: set[int | None],
        workspace_id: str | None,
    ) -> bool:
        """Claim a batch and hand what this run has not tried yet to the pool; False when
        there was nothing new."""
        claimed = self.service.claim(
            limit=self.claim_size,
            reclaim_after=self.reclaim_after,
            workspace_id=workspace_id,
            exclude_ids=set(in_hand.values()),
        )
        deliveries = [d for d in claimed if d.message.id not in tried]
        tried.update(d.message.id for d in deliveries)
        for delivery in deliveries:
            in_hand[pool.submit(self._deliver, delivery)] = delivery.message.id
        return bool(deliveries)

    def _deliver(self, delivery: Delivery) -> SendReport:
        message = delivery.message
        message_id: int = message.id
        client = self.client_for(message.workspace_id)
        context: dict[str, Any] = {
            "workspace": message.workspace_id,
            "recipient": message.recipient,
            "kind": message.kind,
        }
        in_doubt = delivery.maybe_sent  # Slack may have this message already
        try:
            if delivery.maybe_sent:
                found = self._find_sent(client, message.recipient, message_id)
                if found is not None:
                    self.service.sent(message_id, channel_id=found[0], ts=found[1])
                    log_event(log, "send", status="recovered", **context)
                    return SendReport(recovered=1)
                in_doubt = False
                if delivery.period_over:  # known not to be in Slack, and too late now
                    self.service.skip(message_id, reason="period over")
                    return SendReport()
                if delivery.hold_until is not None:  # not at this hour of their day
                    self.service.hold(message_id, until=delivery.hold_until)
                    return SendReport(deferred=1)
            body = self._render(delivery)
            if body is None:  # digests: nothing to report; reflections: nothing to ask any more
                self.service.skip(message_id, reason="nothing to report")
                return SendReport()
            self.pacer.wait(message.workspace_id, message.recipient)
            in_doubt = True  # unless Slack answers with an error, it may have taken it
            post = client.chat_postMessage
            if message.kind == DIGEST:  # charts: the digest carries the team's picture
                post = functools.partial(
                    digest_post,
                    self.pictures,
                    client,
                    workspace_id=message.workspace_id,
                    channel_id=message.recipient,
                    period=message.period_start,
                    body=body,
                )
                body = {}
            try:
                response = post(
                    channel=message.recipient,  # a user id posts to the DM, no conversations.open
                    metadata={
                        "event_type": METADATA_EVENT,
                        "event_payload": {"outbox_id": message_id},
                    },
                    unfurl_links=False,
                    **body,
                )
            except SlackApiError:
                in_doubt = False  # Slack answered, and refused
                raise
            self.service.sent(message_id, channel_id=response["channel"], ts=response["ts"])
            return SendReport(
                sent=1,
                digests=int(message.kind == DIGEST),
                reflections=int(cycle_of_kind(message.kind) is not None),
            )
        except SlackApiError as error:
            code = str(error.response.get("error"))
            if code in REVOKED:
                # Not the person's fault: the row waits (the workspace is skipped while
                # inactive) and goes out if the app is reinstalled within the period.
                self.service.deactivate(message.workspace_id, reason=code)
                return self._later(message_id, in_doubt=in_doubt, delay=timedelta(0))
            if code in UNDELIVERABLE:
                log_event(
                    log, "send", level=logging.WARNING, status="failed", error=code, **context
                )
                self.service.failed(message_id, error=code)
                return SendReport(failed=1)
            # Rate limits and server errors outlasted the client's retries: try again later.
            log_event(log, "send", level=logging.WARNING, status="deferred", error=code, **context)
            return self._later(message_id, in_doubt=in_doubt)
        except Exception:
            log.exception(
                "event=send status=deferred workspace=%(workspace)s recipient=%(recipient)s kind=%(kind)s",
                context,
            )
            return self._later(message_id, in_doubt=in_doubt)

    def _later(
        self, message_id: int, *, in_doubt: bool, delay: timedelta = timedelta(minutes=1)
    ) -> SendReport:
        """Try again later. A row Slack may already have stays claimed: after reclaim_after
        it comes back as maybe_sent and the DM is searched first. Released to `planned`, it
        would be posted again without looking."""
        if not in_doubt:
            self.service.hold(message_id, until=self.service.clock() + delay)
        return SendReport(deferred=1)

    def _render(self, delivery: Delivery) -> dict | None:
        message = delivery.message
        if message.kind == DIGEST:  # digests: rendered from the channel's team
            digest = self.digests.render(
                workspace_id=message.workspace_id,
                channel_id=message.recipient,
                period=message.period_start,
                # display names, cached for every digest this sender posts
                names=lambda workspace_id, user_ids: self.people.names(
                    self.client_for(workspace_id), workspace_id=workspace_id, user_ids=user_ids
                ),
            )
            if digest is None:
                return None
            message_body = build_team_digest(digest)
            # The week's one line of alignment health for the channel's team (or company),
            # counted in SQL rather than read from the whole tree.
            health = self.alignment.line(
                workspace_id=message.workspace_id, channel_id=message.recipient
            )
            return with_health_line(message_body, health)
        if cycle_of_kind(message.kind) is not None:  # reflections: asked once a cycle closes
            form = self.reviews.request(
                workspace_id=message.workspace_id, user_id=message.recipient, kind=message.kind
            )
            if form is None:
                return None
            return build_reflection_request(form=form, message_id=message.id)
        assert delivery.tree is not None
        reminder = 0 if message.kind == PROMPT else int(message.kind.removeprefix("reminder"))
        return build_checkin_prompt(
            tree=delivery.tree,
            krs=delivery.krs,
            period=message.period_start,
            message_id=message.id,
            reminder=reminder,
        )

    def _find_sent(
        self, client: WebClient, user_id: str, message_id: int
    ) -> tuple[str, str] | None:
        """Look for our message in the DM (by metadata) before sending it again."""
        channel = (
            client.conversations_open(users=user_id)["channel"]["id"]
            if user_id[:1] in "UW"
            else user_id  # digests: a channel id, searched directly
        )
        history = client.conversations_history(channel=channel, include_all_metadata=True, limit=50)
        messages: list[dict[str, Any]] = history.get("messages", [])
        for item in messages:
            meta = item.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and payload.get("outbox_id") == message_id:
                return channel, item["ts"]
        return None
