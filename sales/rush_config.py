"""What the rush path (sales.rush) needs from the settings, read once per settings.

Every answer the rush path gives must be the one Django's middleware would have given, so it
asks the same settings Django asks (hosts, HTTPS, cookies, the security headers). Read on
every request through the lazy settings object they cost more than the purchase's own
decision; here they are read once and read again when a setting changes (core.snapshot).
"""

from __future__ import annotations

from django.conf import settings
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from rest_framework_simplejwt import settings as simplejwt_settings

from core.memo import Memo
from core.snapshot import from_settings

CSRF_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# Host headers remembered per settings (a rush comes in under a handful of names).
HOSTS_REMEMBERED_MAX = 1024

Headers = tuple[tuple[str, str], ...]


def middleware_headers(secure: bool) -> Headers:
    """What SecurityMiddleware and XFrameOptionsMiddleware add to every response here."""
    headers = []
    if settings.SECURE_HSTS_SECONDS and secure:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        values = policy.split(",") if isinstance(policy, str) else policy
        headers.append(("Referrer-Policy", ",".join(v.strip() for v in values)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy",
                        settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    return tuple(headers)


class RushConfig:
    """The settings the rush path decides by, and the checks that only read them."""

    def __init__(self) -> None:
        self.enabled = bool(settings.RUSH_PATH and settings.PURCHASE_STRATEGY == "gate"
                            and not settings.DISALLOWED_USER_AGENTS)
        self.ssl_redirect = bool(settings.SECURE_SSL_REDIRECT)
        self.proxy_ssl_header = settings.SECURE_PROXY_SSL_HEADER
        # Behind X-Forwarded-Host/Port the host is Django's to work out.
        self.forwarded_host = bool(settings.USE_X_FORWARDED_HOST or settings.USE_X_FORWARDED_PORT)
        self.prepend_www = bool(settings.PREPEND_WWW)
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        self.allowed_hosts = allowed
        self.csrf_use_sessions = bool(settings.CSRF_USE_SESSIONS)
        self.session_cookie = settings.SESSION_COOKIE_NAME
        self.csrf_cookie = settings.CSRF_COOKIE_NAME
        self.max_body: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        jwt = simplejwt_settings.api_settings  # rebound by simplejwt when SIMPLE_JWT changes
        # simplejwt reads the token from `Authorization: Bearer`: else Django decides.
        self.bearer_authorization = (jwt.AUTH_HEADER_NAME == "HTTP_AUTHORIZATION"
                                     and tuple(jwt.AUTH_HEADER_TYPES) == ("Bearer",))
        self.headers = {True: middleware_headers(True), False: middleware_headers(False)}
        self._hosts: dict[str, bool] = {}
        # sales.rush's per-settings memory: request shapes it may answer, reply headers
        self.shapes: Memo[tuple, bool | None] = Memo()
        self.replies: dict[tuple, Headers] = {}
        self.signals: Memo[tuple, tuple[str, str, str]] = Memo()
        self.sold_out_answers: dict[bool, tuple[str, list, bytes]] = {}

    def secure(self, environ: dict) -> bool:
        """HttpRequest.is_secure(), from the environ."""
        if self.proxy_ssl_header:
            name, value = self.proxy_ssl_header
            forwarded = environ.get(name)
            if forwarded is not None:
                return forwarded.split(",", 1)[0].strip() == value
        return environ.get("wsgi.url_scheme") == "https"

    def host_allowed(self, environ: dict) -> bool:
        """HttpRequest.get_host()'s check, without its exception: Django answers a bad host."""
        if self.forwarded_host:
            return False
        host = environ.get("HTTP_HOST")
        if not host or (self.prepend_www and not host.startswith("www.")):
            return False  # no host, or CommonMiddleware's redirect to www. due: Django's
        known = self._hosts.get(host)
        if known is None:
            domain, _ = split_domain_port(host)
            known = bool(domain) and validate_host(domain, self.allowed_hosts)
            if len(self._hosts) >= HOSTS_REMEMBERED_MAX:
                self._hosts.clear()
            self._hosts[host] = known
        return known

    def cookies_left_alone(self, environ: dict) -> bool:
        """Django's session and CSRF middleware would add no Set-Cookie or Vary: no cookies, or
        a well-formed session key and CSRF token (a malformed one is deleted or replaced)."""
        raw = environ.get("HTTP_COOKIE")
        if not raw:
            return True
        if self.csrf_use_sessions:
            return False
        cookies = parse_cookie(raw)
        session = cookies.get(self.session_cookie)
        if session is not None and len(session) < 8:
            return False
        token = cookies.get(self.csrf_cookie)
        return token is None or (len(token) in (32, 64) and set(token) <= CSRF_CHARS)


@from_settings
def rush_config() -> RushConfig:
    return RushConfig()
