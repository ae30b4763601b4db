"""Installs (OAuth mode): the token stores in Ladder's database, install and uninstall
bookkeeping, and the bot token a background job uses for a workspace.

Tokens live in slack_sdk's SQLAlchemy stores (tables created by migration 0003); the workspace
row says whether Ladder works there (`active`) and since when it does not (`deactivated_at`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store import InstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import Engine

from bot.services import Service
from storage.migrate import SLACK_BOTS_TABLE, SLACK_INSTALLATIONS_TABLE, SLACK_OAUTH_STATES_TABLE
from storage.workspaces import set_workspace_active

log = logging.getLogger(__name__)

STATE_SECONDS = 600  # an install link works for 10 minutes (Slack's authorize codes: 10 too)
ROTATE_MINUTES_BEFORE_EXPIRY = 120  # Bolt's default for request handling; jobs use the same


def installation_store(engine: Engine, *, client_id: str) -> SQLAlchemyInstallationStore:
    return SQLAlchemyInstallationStore(
        client_id=client_id,
        engine=engine,
        bots_table_name=SLACK_BOTS_TABLE,
        installations_table_name=SLACK_INSTALLATIONS_TABLE,
        logger=logging.getLogger("ladder.installs"),
    )


def state_store(engine: Engine) -> SQLAlchemyOAuthStateStore:
    return SQLAlchemyOAuthStateStore(
        expiration_seconds=STATE_SECONDS,
        engine=engine,
        table_name=SLACK_OAUTH_STATES_TABLE,
        logger=logging.getLogger("ladder.installs"),
    )


class InstallService(Service):
    """What installing and uninstalling means for a workspace. `store` is None in
    single-workspace mode (the token is in the environment, nothing to delete)."""

    def __init__(
        self, engine: Engine, *, clock: Callable[[], datetime], store: InstallationStore | None
    ) -> None:
        super().__init__(engine, clock=clock)
        self.store = store

    def installed(self, *, workspace_id: str, name: str = "") -> None:
        """A (re)install: the workspace is active again and its retention clock stops."""
        self.run(
            set_workspace_active,
            workspace_id=workspace_id,
            active=True,
            now=self.clock(),
            name=name or None,
        )
        log.info("workspace=%s installed", workspace_id)

    def uninstalled(self, *, workspace_id: str, enterprise_id: str | None = None) -> None:
        """app_uninstalled: forget its tokens and stop everything there.

        The workspace row changes last: once it reads inactive, the tokens are gone."""
        self._forget(workspace_id, enterprise_id, reason="app_uninstalled")

    def tokens_revoked(
        self,
        *,
        workspace_id: str,
        enterprise_id: str | None = None,
        bot_user_ids: Sequence[str] = (),
        user_ids: Sequence[str] = (),
    ) -> None:
        """tokens_revoked: forget exactly the revoked tokens. A revoked bot token also ends
        Ladder's work there: the installation rows carry it too, so they go with it (Ladder
        asks for no user scopes, so no user token is lost with them)."""
        if self.store is not None:
            for user_id in user_ids:
                self.store.delete_installation(
                    enterprise_id=enterprise_id, team_id=workspace_id, user_id=user_id
                )
        if bot_user_ids:
            self._forget(workspace_id, enterprise_id, reason="bot token revoked")

    def _forget(self, workspace_id: str, enterprise_id: str | None, *, reason: str) -> None:
        """Delete the workspace's bot and installation rows, then deactivate it."""
        if self.store is not None:
            self.store.delete_bot(enterprise_id=enterprise_id, team_id=workspace_id)
            self.store.delete_installation(enterprise_id=enterprise_id, team_id=workspace_id)
        self.run(set_workspace_active, workspace_id=workspace_id, active=False, now=self.clock())
        log.warning("workspace=%s deactivated: %s", workspace_id, reason)


class BotTokens:
    """The bot token for a workspace, outside any Slack request (scheduler, CLI).

    With token rotation the token is refreshed when it expires within
    `minutes_before_expiry`, the same rule Bolt applies to incoming requests, and saved through
    the installation (both store tables) so the next request finds the new pair.
    """

    def __init__(
        self,
        store: InstallationStore,
        *,
        rotator: TokenRotator,
        minutes_before_expiry: int = ROTATE_MINUTES_BEFORE_EXPIRY,
    ) -> None:
        self.store = store
        self.rotator = rotator
        self.minutes_before_expiry = minutes_before_expiry
        # Senders look tokens up from several threads; a refresh token may work only once.
        self._rotating = threading.Lock()

    def bot_token(self, workspace_id: str) -> str | None:
        """None when the workspace has no installation (never installed, or uninstalled)."""
        bot = self.store.find_bot(enterprise_id=None, team_id=workspace_id)
        if bot is None or bot.bot_refresh_token is None:
            return None if bot is None else bot.bot_token
        expires_at = bot.bot_token_expires_at
        if expires_at is not None and expires_at > time.time() + self.minutes_before_expiry * 60:
            return bot.bot_token  # not due yet (slack_sdk's rule): no lock, no second read
        with self._rotating:
            return self._rotated(workspace_id)

    def _rotated(self, workspace_id: str) -> str | None:
        # Read again under the lock: another thread may have rotated meanwhile.
        installation = self.store.find_installation(enterprise_id=None, team_id=workspace_id)
        bot = self.store.find_bot(enterprise_id=None, team_id=workspace_id)
        if bot is None:
            return None
        try:
            if installation is not None and installation.bot_token == bot.bot_token:
                refreshed = self.rotator.perform_token_rotation(
                    installation=installation,
                    minutes_before_expiration=self.minutes_before_expiry,
                )
                if refreshed is not None:
                    self.store.save(refreshed)  # the installation row and its bot row
                    log.info("workspace=%s bot token rotated", workspace_id)
                    return refreshed.bot_token
            else:  # a bot row without its installation (e.g. the installer's row removed)
                refreshed_bot = self.rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=self.minutes_before_expiry
                )
                if refreshed_bot is not None:
                    self.store.save_bot(refreshed_bot)
                    log.info("workspace=%s bot token rotated", workspace_id)
                    return refreshed_bot.bot_token
        except SlackTokenRotationError as error:
            # Slack then decides with the current token: still valid (fine), expired (the
            # sender tries later) or revoked (the sender deactivates the workspace).
            log.error("workspace=%s token rotation failed: %s", workspace_id, error)
        return bot.bot_token
