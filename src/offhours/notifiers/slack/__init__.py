"""Slack: Block Kit rendering (:mod:`.blocks`) and the incoming-webhook notifier (:mod:`.webhook`).

A later surface (a Slack app posting with ``chat.postMessage``, with threads and buttons) is one
more module here, rendering through :func:`render_slack` too (or :func:`slack_messages`, which
builds the messages one at a time).
"""

from offhours.notifiers.slack.blocks import SlackMessages, render_slack, slack_messages
from offhours.notifiers.slack.webhook import SLACK_ERRORS, SLACK_HOST, SlackNotifier

__all__ = [
    "SLACK_ERRORS",
    "SLACK_HOST",
    "SlackMessages",
    "SlackNotifier",
    "render_slack",
    "slack_messages",
]
