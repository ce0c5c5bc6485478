"""Who a websocket belongs to: decided from its session as Django's own ``get_user`` does,
honouring ``SECRET_KEY_FALLBACKS``, but without ever changing the session.

Channels' ``AuthMiddleware`` (``channels.auth.get_user``) ignores the fallbacks and flushes
the session on a hash mismatch: after a secret-key rotation, opening a live page would log
its user out everywhere. Django's ``get_user`` honours them, but rotates the session key when
a fallback matched, which a websocket cannot tell the browser about (it sets no cookies). So
the check here is read-only; the user's next HTTP request rotates the key as usual.

Use ``AuthMiddlewareStack`` from here in place of Channels' in your ASGI routing.
"""

from __future__ import annotations

from importlib import import_module

from channels.auth import AuthMiddleware as ChannelsAuthMiddleware
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.utils.crypto import constant_time_compare


def session_user(session: SessionBase | None):
    """The active session's user, or ``AnonymousUser``; the session is left untouched."""
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except (KeyError, TypeError):
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    user = load_backend(backend_path).get_user(user_id)
    if user is None:
        return AnonymousUser()
    if hasattr(user, "get_session_auth_hash"):
        session_hash = session.get(HASH_SESSION_KEY)
        hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
        if not (session_hash and any(constant_time_compare(session_hash, h) for h in hashes)):
            return AnonymousUser()  # the password changed, or the secret key without fallback
    return user


def current_user(scope: dict):
    """The socket's user as things stand now: its session re-read from the store (so a
    logout or an expiry elsewhere counts), the user re-read from the database."""
    session = scope.get("session")
    if session is not None:
        engine = import_module(settings.SESSION_ENGINE)
        return session_user(engine.SessionStore(session.session_key))
    user = scope.get("user")  # no session middleware: trust whoever authenticated the socket
    if user is None or not user.is_authenticated:
        return AnonymousUser()
    return get_user_model()._default_manager.filter(pk=user.pk).first() or AnonymousUser()


class AuthMiddleware(ChannelsAuthMiddleware):
    """Channels' ``AuthMiddleware``, deciding the user with ``session_user``."""

    async def resolve_scope(self, scope: dict) -> None:
        scope["user"]._wrapped = await database_sync_to_async(session_user)(scope["session"])


def AuthMiddlewareStack(inner):  # noqa: N802 (named like Channels' own)
    """Cookies, sessions and the read-only, fallback-honouring user resolution."""
    return CookieMiddleware(SessionMiddleware(AuthMiddleware(inner)))
