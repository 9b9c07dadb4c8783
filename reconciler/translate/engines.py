"""Build the engine a catalog chose (``reconciler.yaml``'s ``translation`` section).

Settings (every key optional but those marked)::

    translation:
      engine: deepl                      # or amazon-translate (the ``name`` argument)
      endpoint: production               # | emulator | an https URL on the engine's own hosts
                                         #   | a loopback URL (a local `reconciler emulator serve`)
      auth_key: env/DEEPL_AUTH_KEY       # deepl, required unless endpoint: emulator
      region: eu-west-1                  # amazon-translate, required
      access_key_id: env/AWS_ACCESS_KEY_ID          # amazon-translate, required unless
      secret_access_key: env/AWS_SECRET_ACCESS_KEY  #   endpoint: emulator
      session_token: env/AWS_SESSION_TOKEN          # amazon-translate, optional
      max_retries: 3                     # retries of a 429 / 5xx, then the run stops
      backoff_s: 1.0                     # first wait; doubles each retry

Credentials are ``env/NAME`` references resolved here (:mod:`reconciler.kernel.credentials`):
a DeepL key may name ``DEEPL_*`` (or ``RECONCILER_*``), Amazon Translate ``AWS_*`` (or
``RECONCILER_*``), nothing else. They are sent only to the engine's own hosts
(``api.deepl.com``, ``api-free.deepl.com``; ``translate.<region>.amazonaws.com``), a loopback
host, or a host the operator allows in ``$RECONCILER_ALLOW_HOSTS``
(:func:`reconciler.kernel.destinations.classify_service`).

``endpoint: emulator``: the caller (the CLI, which may import the emulator) starts the emulator's
HTTP server on loopback and passes its URL as ``server_url``; the engine then sends the
emulator's own key (:data:`EMULATOR_AUTH_KEY`, dummy AWS keys), never the environment's. A
``server_url`` given with another endpoint replaces it (tests) and passes the same host check.
Amazon Translate on a loopback root URL goes to the emulator's :data:`EMULATOR_AWS_PATH`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from reconciler.kernel.credentials import AWS_PREFIXES, DEEPL_PREFIXES, resolve_ref
from reconciler.kernel.destinations import (
    DestinationError,
    classify_service,
    is_loopback,
    operator_hosts,
)
from reconciler.kernel.errors import CredentialsError
from reconciler.kernel.redact import escape

from .engine import Engine, TranslationEngineError
from .engine_support import RetryPolicy

# The key reconciler sends to the emulator (reconciler.emulator.deepl_api.EMBEDDED_AUTH_KEY;
# a test checks they are equal): not a secret, it opens nothing but the emulator.
EMULATOR_AUTH_KEY = "reconciler-emulator-deepl-key:fx"
EMULATOR_AWS_KEYS = ("AKIDEMULATOR", "emulator-secret")
DEEPL = "deepl"
AMAZON_TRANSLATE = "amazon-translate"
ALIASES = {"deepl": DEEPL, "amazon-translate": AMAZON_TRANSLATE, "amazon_translate":
           AMAZON_TRANSLATE, "aws": AMAZON_TRANSLATE, "aws-translate": AMAZON_TRANSLATE}
DEEPL_HOSTS = frozenset({"api.deepl.com", "api-free.deepl.com"})
# where the emulator serves Amazon Translate (reconciler.emulator.aws_translate_api.PREFIX)
EMULATOR_AWS_PATH = "/aws-translate"
KEYWORDS = ("production", "emulator")


def engine_names() -> list[str]:
    return [DEEPL, AMAZON_TRANSLATE]


def _retry(settings: Mapping[str, Any], sleep: Callable[[float], None] | None) -> RetryPolicy:
    try:
        retries = int(settings.get("max_retries", 3))
        backoff = float(settings.get("backoff_s", 1.0))
    except (TypeError, ValueError):
        raise TranslationEngineError(
            "translation.max_retries must be a whole number and translation.backoff_s a number "
            "of seconds (reconciler.yaml)"
        ) from None
    if not 0 <= retries <= 10 or not 0 <= backoff <= 60:
        raise TranslationEngineError(
            "translation.max_retries must be 0..10 and translation.backoff_s 0..60 "
            "(reconciler.yaml)"
        )
    return RetryPolicy(retries, backoff, sleep or time.sleep)


def _endpoint(settings: Mapping[str, Any], server_url: str | None, what: str) -> str | None:
    """The URL to talk to (None: the engine's production default); raises for ``emulator``
    without a running emulator."""
    endpoint = str(settings.get("endpoint") or "production")
    if server_url is not None:
        return server_url
    if endpoint == "production":
        return None
    if endpoint == "emulator":
        raise TranslationEngineError(
            f"translation.endpoint: emulator needs the emulator's server running; the "
            f"translate command starts it (no {what} request was sent)"
        )
    return endpoint


def _check_host(url: str, hosts: frozenset[str], what: str, env: Mapping[str, str]) -> None:
    try:
        classify_service(url, "translation.endpoint", hosts, what, operator_hosts(env))
    except DestinationError as e:
        raise TranslationEngineError(escape(str(e))) from None


def _memory_key(engine: str, url: str | None) -> str:
    """What the translation memory files an engine's answers under: the engine's name, or
    ``NAME@loopback`` for an emulator or other local server, so the emulator's renderings are
    never served as a real engine's translations (and survive the emulator's changing port)."""
    if url is not None and is_loopback(urlsplit(url).hostname or ""):
        return f"{engine}@loopback"
    return engine


def _is_loopback_root(url: str) -> bool:
    parts = urlsplit(url)
    return is_loopback(parts.hostname or "") and parts.path in ("", "/")


def _ref(settings: Mapping[str, Any], key: str, env: Mapping[str, str], prefixes: tuple[str, ...],
         engine: str) -> str:
    ref = settings.get(key)
    if not isinstance(ref, str) or not ref:
        raise TranslationEngineError(
            f"the {engine} engine needs translation.{key} in reconciler.yaml, an env/NAME "
            "reference to the environment variable that holds it"
        )
    try:
        return resolve_ref(ref, env, prefixes=prefixes)
    except CredentialsError as e:
        raise TranslationEngineError(f"translation.{key}: {e}") from None


def make_engine(
    name: str,
    settings: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    server_url: str | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Engine:
    """The engine called ``name`` (``deepl`` or ``amazon-translate``) configured by ``settings``.
    Raises :class:`TranslationEngineError` (a ReconcilerError) for a wrong name, a missing or
    refused credential, or a host the key may not go to; nothing has been sent then."""
    env = os.environ if env is None else env
    engine = ALIASES.get(name.strip().lower())
    if engine is None:
        raise TranslationEngineError(
            f"unknown translation engine {escape(name)!r}: one of {', '.join(engine_names())}"
        )
    emulated = str(settings.get("endpoint") or "") == "emulator"
    retry = _retry(settings, sleep)
    if engine == DEEPL:
        url = _endpoint(settings, server_url, "DeepL")
        if url is not None:
            _check_host(url, DEEPL_HOSTS, "DeepL", env)
        key = EMULATOR_AUTH_KEY if emulated else _ref(settings, "auth_key", env, DEEPL_PREFIXES,
                                                      "DeepL")
        from .deepl_engine import DeepLEngine

        engine_d = DeepLEngine(key, server_url=url, retry=retry)
        engine_d.memory_key = _memory_key(DEEPL, url)
        return engine_d
    region = settings.get("region")
    if not isinstance(region, str) or not region.replace("-", "").isalnum():
        raise TranslationEngineError(
            "the amazon-translate engine needs translation.region in reconciler.yaml "
            "(an AWS region such as eu-west-1)"
        )
    url = _endpoint(settings, server_url, "Amazon Translate")
    host = f"translate.{region}.amazonaws.com"
    if url is not None:
        _check_host(url, frozenset({host}), "Amazon Translate", env)
        if _is_loopback_root(url):  # an emulator's root URL: its Amazon Translate path
            url = url.rstrip("/") + EMULATOR_AWS_PATH
    if emulated:
        keys: tuple[str, str, str | None] = (*EMULATOR_AWS_KEYS, None)
    else:
        token = settings.get("session_token")
        keys = (
            _ref(settings, "access_key_id", env, AWS_PREFIXES, "amazon-translate"),
            _ref(settings, "secret_access_key", env, AWS_PREFIXES, "amazon-translate"),
            _ref(settings, "session_token", env, AWS_PREFIXES, "amazon-translate")
            if token else None,
        )
    from .aws_engine import AmazonTranslateEngine

    engine_a = AmazonTranslateEngine.connect(
        region, keys, endpoint_url=url or f"https://{host}", retry=retry
    )
    engine_a.memory_key = _memory_key(AMAZON_TRANSLATE, url)
    return engine_a
