"""Slack: Block Kit rendering (:mod:`.blocks`) and the incoming-webhook notifier (:mod:`.webhook`).

A later surface (a Slack app posting with ``chat.postMessage``, with threads and buttons) is one
more module here, rendering through :func:`render_slack` too.
"""

from offhours.notifiers.slack.blocks import render_slack
from offhours.notifiers.slack.webhook import SLACK_ERRORS, SLACK_HOST, SlackNotifier

__all__ = ["SLACK_ERRORS", "SLACK_HOST", "SlackNotifier", "render_slack"]
