"""JWT pairs bound to the password they were issued under.

A refresh token carries a stamp of the user's password hash (Django's session auth hash, the
same thing that logs sessions out on a password change). Refreshing checks the stamp, so a
password change, however it is made (admin, `changepassword`, `set_password`), revokes every
refresh token issued before it, and the refused token is blacklisted. Access tokens are
checked without the database (docs/api.md), so they keep working until they expire
(ACCESS_TOKEN_MINUTES): revoking them would need a lookup on every purchase.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth import get_user_model
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken

PASSWORD_CLAIM = "pwd"


def password_stamp(user) -> str:
    """16 hex digits that change whenever the user's password does (a hash of an HMAC: it says
    nothing about the password itself)."""
    return hashlib.sha256(user.get_session_auth_hash().encode()).hexdigest()[:16]


class PasswordBoundRefreshToken(RefreshToken):
    """A refresh token stamped with its user's password; the stamp stays out of access tokens."""

    no_copy_claims = (*RefreshToken.no_copy_claims, PASSWORD_CLAIM)

    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[PASSWORD_CLAIM] = password_stamp(user)
        return token


class TokenPairInput(TokenObtainPairSerializer):
    token_class = PasswordBoundRefreshToken


class TokenRefreshInput(TokenRefreshSerializer):
    """simplejwt's refresh (rotating, blacklisting the used token), refusing with a 401 a token
    whose user was deleted (simplejwt's own `objects.get` raised a 500), deactivated, or whose
    password changed since it was issued."""

    token_class = PasswordBoundRefreshToken

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])  # TokenError -> 401 in the view
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed("No active account found for the given token.",
                                       "no_active_account")
        if refresh.payload.get(PASSWORD_CLAIM) != password_stamp(user):
            refresh.blacklist()
            raise AuthenticationFailed("The password changed since this token was issued; "
                                       "log in again.", "password_changed")
        return super().validate(attrs)
