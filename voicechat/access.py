"""Who may use the app: identities from sign-in claims, the allow-list, listed admins, and local mode's door.

Pure decisions over what the identity provider (or the request) says; the page layer supplies the claims and
the request's host and address, and shows a refusal's ``user_message``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from voicechat.config import Settings, is_loopback_host
from voicechat.errors import VoicechatError
from voicechat.storage.users import Identity

# The issuer of accounts whose email the platform in front of the app vouches for (with
# VOICECHAT_TRUST_PLATFORM_EMAIL); kept in those accounts' identities, so it keeps its first platform's name.
COMMUNITY_CLOUD_ISSUER = "streamlit-community-cloud"


class SignInRefused(VoicechatError):
    """A signed-in person may not use the app; the message says why and what to do."""

    default_message = "You cannot use this app with that account."
    retryable = False


def identity_from_claims(claims: Mapping[str, object]) -> Identity:
    """The identity in an OpenID Connect ID token's claims (as ``st.user`` carries them).

    The account is bound to ``iss`` + ``sub``. A provider that says ``email_verified: false`` is refused: the
    address is somebody's claim, not a fact. A provider that does not say either way signs in, but its
    address counts as unverified (no admin role, no allow-list match).
    """
    subject = str(claims.get("sub") or "").strip()
    issuer = str(claims.get("iss") or f"provider:{claims.get('provider') or 'default'}").strip()
    email = str(claims.get("email") or "").strip().lower()
    if not subject:
        raise SignInRefused("Your sign-in did not say who you are (no subject); ask the administrator.")
    if not email:
        raise SignInRefused(
            "Your sign-in did not share an email address, which this app needs to keep your data apart."
        )
    verified = claims.get("email_verified")
    if verified is False or str(verified).lower() == "false":
        raise SignInRefused(
            f"Your identity provider has not verified the address {email}. Verify it with them, then sign "
            "in again."
        )
    name = str(claims.get("name") or email)
    return Identity(issuer=issuer, subject=subject, email=email, email_verified=verified is True, name=name)


def platform_identity(email: str) -> Identity:
    """The viewer the platform in front of the app vouches for (its email in ``st.user``, trusted only with
    ``VOICECHAT_TRUST_PLATFORM_EMAIL``)."""
    return Identity(
        issuer=COMMUNITY_CLOUD_ISSUER, subject=email, email=email, email_verified=True, name=email
    )


def check_allowed(identity: Identity, settings: Settings) -> None:
    """Raise ``SignInRefused`` unless ``VOICECHAT_ALLOWED_USERS`` is empty or names this verified email (or
    its ``@domain``)."""
    if not settings.allowed_users:
        return
    email = identity.email
    domain = "@" + email.rsplit("@", 1)[-1]
    if identity.email_verified and (email in settings.allowed_users or domain in settings.allowed_users):
        return
    raise SignInRefused(
        f"This app is open to invited people only, and {email} is not one of them"
        + ("" if identity.email_verified else " (your provider did not confirm the address)")
        + ". Ask its administrator to add you, or sign in with another account."
    )


def is_listed_admin(identity: Identity, settings: Settings) -> bool:
    """Whether ``VOICECHAT_ADMINS`` makes this person an admin: only ever for a verified email."""
    return identity.email_verified and settings.is_admin(identity.email)


def is_local_request(
    *,
    host: str | None,
    client_address: str | None,
    page_host: str | None,
    forwarded_for: Iterable[str] = (),
) -> bool:
    """Whether a request may use local single-user mode: the Host it was sent to, the address it came from,
    every address a proxy says it forwarded for and the page's own host are all this machine (or not known,
    as in a test harness).

    ``forwarded_for`` is every ``X-Forwarded-For`` header line of the request, each a comma-separated list:
    a proxy that appends its own line (HAProxy's ``option forwardfor``) passes a client's forged
    ``X-Forwarded-For: 127.0.0.1`` line along before it, so every value of every line must be loopback.
    The Host header is what defeats DNS rebinding: a page at ``attacker.example`` that resolves to
    127.0.0.1 still sends ``Host: attacker.example``. Behind a proxy (``make cluster``) every request comes
    from 127.0.0.1, and the proxy names the real client; a client forging the header only makes itself
    less local.
    """
    if host and not is_loopback_host(_without_port(host)):
        return False
    lines = [forwarded_for] if isinstance(forwarded_for, str) else forwarded_for  # one line, not characters
    forwarded = [address.strip() for line in lines for address in line.split(",") if address.strip()]
    if any(
        not is_loopback_host(address)
        for address in [*forwarded, *([client_address] if client_address else [])]
    ):
        return False
    return not (page_host and not is_loopback_host(page_host))


def _without_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8501
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
