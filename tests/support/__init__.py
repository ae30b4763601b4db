"""Test support: a Slack stand-in server, a Slack-like request sender, Block Kit checks."""

from .blockkit import (
    validate_blocks,
    validate_message,
    validate_options_response,
    validate_submission_response,
    validate_view,
)
from .slack_sender import SlackSender, element_state, state_values
from .slack_standin import (
    RecordedCall,
    ResponsePost,
    SlackStandIn,
    UploadedFile,
    Workspace,
    dm_channel_id,
)

__all__ = [
    "RecordedCall",
    "ResponsePost",
    "SlackSender",
    "SlackStandIn",
    "UploadedFile",
    "Workspace",
    "dm_channel_id",
    "element_state",
    "state_values",
    "validate_blocks",
    "validate_message",
    "validate_options_response",
    "validate_submission_response",
    "validate_view",
]
