"""Alert channels: a Prefect block, an environment variable or an Apprise URL, and what an
Apprise URL gives away (Apprise's own knowledge of which parts of each scheme are secret)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

# Prefect block type slugs and block document names: lower-case letters, digits and dashes.
_BLOCK = re.compile(r"block:([a-z0-9-]{1,100})/([a-z0-9-]{1,100})")
_ENV = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]{0,127})")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31})://")
CHANNEL_PATTERN = (
    r"^(block:[a-z0-9-]+/[a-z0-9-]+|env:[A-Za-z_][A-Za-z0-9_]*|[A-Za-z][A-Za-z0-9+.-]*://.+)$"
)
MAX_CHANNEL_CHARS = 4096
MAX_SHOWN_CHARS = 300  # the ledger's channel column
MAX_CHANNELS = 50  # channels in one list: each costs an Apprise parse when validated
CHANNEL_FORMS = (
    "block:TYPE/NAME (a Prefect notification block, or block:secret/NAME for a Secret block "
    "holding an Apprise URL), env:VARIABLE (an environment variable holding an Apprise URL), "
    "or an Apprise URL without credentials such as json://127.0.0.1:8765/hook"
)


@dataclass(frozen=True)
class ChannelRef:
    """Where an alert goes: a Prefect block, an environment variable, or an Apprise URL."""

    kind: Literal["block", "env", "url"]
    target: str  # 'type-slug/name', the variable's name, or the URL

    @property
    def block_type(self) -> str:
        return self.target.split("/", 1)[0]

    @property
    def block_name(self) -> str:
        return self.target.split("/", 1)[1]


def parse_channel(text: str) -> ChannelRef:
    """The channel ``text`` names.

    Raises:
        ValueError: naming the forms a channel takes; never quoting ``text``, which may
            hold a secret.
    """
    if len(text) > MAX_CHANNEL_CHARS:
        raise ValueError(f"alert channel has {len(text)} characters, over {MAX_CHANNEL_CHARS}")
    if text.startswith("block:"):
        if match := _BLOCK.fullmatch(text):
            return ChannelRef("block", f"{match[1]}/{match[2]}")
        raise ValueError(
            "a block channel is block:TYPE/NAME, both in lower-case letters, digits and dashes "
            "(e.g. block:slack-webhook/finance-alerts or block:secret/finance-alerts-url)"
        )
    if text.startswith("env:"):
        if match := _ENV.fullmatch(text):
            return ChannelRef("env", match[1])
        raise ValueError(
            "an environment channel is env:NAME, NAME in letters, digits and underscores "
            "(e.g. env:FINANCE_ALERTS_URL)"
        )
    if _SCHEME.match(text) and len(text) > len(_SCHEME.match(text)[0]):
        return ChannelRef("url", text)
    raise ValueError(f"not an alert channel; use {CHANNEL_FORMS}")


def _check_channel(text: str) -> str:
    parse_channel(text)
    return text


Channel = Annotated[
    str,
    AfterValidator(_check_channel),
    Field(
        description="block:TYPE/NAME (Prefect notification block, or block:secret/NAME), "
        "env:VARIABLE, or an Apprise URL without credentials.",
        json_schema_extra={"pattern": CHANNEL_PATTERN},
    ),
]


def _plugin(url: str) -> Any:
    """Apprise's notification object for ``url``, or None when Apprise cannot use it."""
    import apprise  # loading Apprise's plugins takes half a second: only when a URL is seen

    try:
        return apprise.Apprise.instantiate(url)
    except Exception:  # a plugin that chokes on a URL is a URL Apprise cannot use
        return None


def redact_channel(text: str) -> str:
    """Where an alert went, without a secret: blocks and variables by name; an Apprise URL as
    Apprise's privacy mode shows it (every token, key and password its scheme marks private
    masked), cut after the host, since paths and queries of generic webhooks often carry
    tokens Apprise cannot know about; ``scheme://***`` when Apprise cannot parse it."""
    try:
        ref = parse_channel(text)
    except ValueError:
        scheme = _SCHEME.match(text)
        return f"{scheme[1].lower()}://***" if scheme else "<unparseable channel>"
    if ref.kind != "url":
        return text
    plugin = _plugin(text)
    scheme = _SCHEME.match(text)[1].lower()
    if plugin is None:
        return f"{scheme}://***"
    try:
        private = plugin.url(privacy=True)
    except Exception:  # a plugin that cannot print itself: show nothing of it
        return f"{scheme}://***"
    shown_scheme, _, rest = private.partition("://")
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return f"{shown_scheme}://{host}/***"[:MAX_SHOWN_CHARS]


def url_credentials(url: str) -> tuple[str, ...] | None:
    """The fields of ``url`` that its Apprise scheme declares private (tokens, passwords,
    keys, webhook ids) and that the URL fills; None when Apprise cannot parse the URL, so
    nobody can tell what it gives away."""
    plugin = _plugin(url)
    if plugin is None:
        return None
    cls = type(plugin)
    try:
        parsed = cls.parse_url(url) or {}
        declared = {**cls.template_tokens, **cls.template_args}
        filled = tuple(
            name
            for name, spec in declared.items()
            if spec.get("private") and parsed.get(spec.get("map_to", name))
        )
        if filled or plugin.url(privacy=True) == plugin.url(privacy=False):
            return filled
    except Exception:  # a scheme that cannot say: treat it as one that hides something
        return None
    return ("a private value",)  # Apprise masks something it declares under no field


def known_scheme(url: str) -> bool:
    """Whether Apprise has a service for the URL's scheme."""
    import apprise

    scheme = _SCHEME.match(url)
    return bool(scheme) and scheme[1].lower() in apprise.NotificationManager()


def credential_problem(text: str, team: str) -> str | None:
    """Why the channel ``text`` of ``team`` may not be written in a manifest (it carries
    credentials, or Apprise cannot tell), with the fix; None when it may."""
    if parse_channel(text).kind != "url":
        return None
    found = url_credentials(text)
    if found == ():
        return None
    scheme = _SCHEME.match(text)[1].lower()
    if found is not None:
        why = f"carries credentials ({', '.join(found)}: private in Apprise's {scheme}:// scheme)"
    elif known_scheme(text):
        why = (
            "is one Apprise cannot parse, so it may hold credentials in the clear (a password "
            "or token holding '/', '@' or '#' must be percent-encoded)"
        )
    else:
        why = f"names no service Apprise knows ({scheme}://), so it may hold credentials"
    name = f"{team}-alerts-url"
    variable = f"{team.upper().replace('-', '_')}_ALERTS_URL"
    return (
        f"alert channel {redact_channel(text)} {why}; keep secrets out of git: store it in a "
        f"Prefect block (a Secret holding the URL, made in the Prefect UI or with "
        f"Secret(value=URL).save('{name}') from prefect.blocks.system) and write "
        f"block:secret/{name}, or name a notification block (block:slack-webhook/NAME) or an "
        f"environment variable (env:{variable})"
    )
