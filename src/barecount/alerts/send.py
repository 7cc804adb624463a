"""Sending one alert to one channel: a Prefect notification block's own notify(), or Apprise
for a URL written in the manifest, held by a Prefect Secret block or by an environment
variable. Blocks and variables are read only now, at send time; errors never quote a secret."""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import apprise

from barecount.manifest.channels import ChannelRef, parse_channel

DELIVERY_DELAYS = (0.5, 1.0, 2.0)  # backoff between delivery attempts of one channel

Sender = Callable[[str, str], None]  # (title, body); raises when the channel refused it


@dataclass(frozen=True)
class Delivery:
    """How sending one alert to one channel went: ``error`` is one line, free of secrets."""

    delivered: bool
    attempts: int
    error: str | None = None


class ChannelUnavailable(Exception):
    """The channel cannot be sent to at all (no such block or variable, not a URL Apprise
    understands): retrying will not help. The message is one line without a secret."""


class Refused(Exception):
    """The channel did not take the notification; a later attempt may."""


def deliver(channel: str, title: str, body: str) -> Delivery:
    """Send ``title`` and ``body`` to ``channel``, retrying with backoff; never raises."""
    try:
        sender = resolve(channel)
    except ChannelUnavailable as exc:
        return Delivery(False, 0, str(exc))
    except Exception as exc:  # a broken channel must never fail the pipeline run
        return Delivery(False, 0, f"cannot read the channel: {_reason(exc)}")
    error = None
    for attempt, delay in enumerate((0.0, *DELIVERY_DELAYS), start=1):
        time.sleep(delay)
        try:
            sender(title, body)
            return Delivery(True, attempt)
        except ChannelUnavailable as exc:
            return Delivery(False, attempt, str(exc))
        except Exception as exc:  # a broken channel must never fail the pipeline run
            error = _reason(exc)
    return Delivery(False, len(DELIVERY_DELAYS) + 1, error)


def resolve(channel: str) -> Sender:
    """What sends to ``channel``: its block or variable is read here, at send time."""
    try:
        ref = parse_channel(channel)
    except ValueError as exc:
        raise ChannelUnavailable(str(exc)) from None
    if ref.kind == "env":
        url = os.environ.get(ref.target, "").strip()
        if not url:
            raise ChannelUnavailable(
                f"environment variable {ref.target} is not set where this run ran; set it to "
                "the Apprise URL in the environment of the process or worker running the flow"
            )
        return apprise_sender(url, f"environment variable {ref.target}")
    if ref.kind == "block":
        return _block_sender(ref)
    return apprise_sender(ref.target, "the channel")


def apprise_sender(url: str, source: str) -> Sender:
    """Send through Apprise to ``url`` (never shown: ``source`` says where it came from)."""
    client = apprise.Apprise()
    if not client.add(url):
        raise ChannelUnavailable(
            f"{source} holds no URL Apprise understands (unknown scheme, or a token or "
            "password that needs percent-encoding)"
        )

    def send(title: str, body: str) -> None:
        if not client.notify(title=title, body=body):
            raise Refused("the channel did not accept the notification")

    return send


def _block_sender(ref: ChannelRef) -> Sender:
    from prefect.blocks.abstract import NotificationBlock
    from prefect.blocks.core import Block
    from prefect.blocks.system import Secret

    named = f"Prefect block {ref.target}"
    try:
        block = Block.load(ref.target, _sync=True)
    except ValueError:  # Prefect's word for a block document it does not have
        kind = "a Secret holding the Apprise URL" if ref.block_type == "secret" else "one"
        raise ChannelUnavailable(
            f"{named} does not exist on the Prefect server; create {kind} named "
            f"{ref.block_name!r} (the Prefect UI's Blocks page, or .save() in Python)"
        ) from None
    except KeyError:
        raise ChannelUnavailable(
            f"{named}: no block class for type {ref.block_type!r} is installed here"
        ) from None
    except Exception as exc:
        raise ChannelUnavailable(f"cannot load {named}: {_reason(exc)}") from None
    if isinstance(block, Secret):
        value = block.get()
        if not isinstance(value, str):
            raise ChannelUnavailable(f"{named} holds no text; store the Apprise URL as its value")
        return apprise_sender(value.strip(), named)
    if isinstance(block, NotificationBlock):
        return _notifier(block)
    raise ChannelUnavailable(
        f"{named} is a {type(block).__name__}, neither a notification block nor a Secret"
    )


def _notifier(block) -> Sender:
    """Send through the block's own notify(), made to raise when the service refuses."""
    from prefect.utilities.asyncutils import run_coro_as_sync

    dispatched = hasattr(block.notify, "aio")  # Prefect's sync/async dispatch: ask for sync

    def send(title: str, body: str) -> None:
        with block.raise_on_failure():
            if dispatched:
                result = block.notify(body, subject=title, _sync=True)
            else:
                result = block.notify(body, subject=title)
            if inspect.isawaitable(result):
                run_coro_as_sync(result)

    return send


def _reason(exc: BaseException) -> str:
    """The kind of failure, never its text: a library's message may quote the secret URL."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(exc, Refused):
        return str(exc)
    if isinstance(status, int):
        return f"{type(exc).__name__}: the service answered HTTP {status}"
    return type(exc).__name__
