"""A local OpenID Connect provider (``oidc-provider-mock``) on 127.0.0.1, for signing in real browsers.

Any client id and secret are accepted; its authorisation page asks for a subject, and the claims of the users
given here (email, name) go into the ID token, as a company's identity provider would send them.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from pathlib import Path

import werkzeug.serving

# It imports authlib.jose, which Authlib deprecates; authlib.deprecate sets that warning to "always" when
# it is first imported, so import it first and put "ignore" in front of its filter.
with warnings.catch_warnings():
    import authlib.deprecate  # noqa: F401

    warnings.simplefilter("ignore")
    import oidc_provider_mock


class OIDCProvider:
    """The provider on a free port; ``users`` maps a subject to its claims."""

    def __init__(self, users: Mapping[str, Mapping[str, object]]) -> None:
        app = oidc_provider_mock.app(
            user_claims=[oidc_provider_mock.User(sub=s, claims=dict(c)) for s, c in users.items()],
            require_nonce=False,
        )
        self._server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1})

    @property
    def issuer(self) -> str:
        """The provider's base URL."""
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def metadata_url(self) -> str:
        """Where its OpenID configuration is published (``server_metadata_url`` in Streamlit's ``[auth]``)."""
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self) -> OIDCProvider:
        """Serve on a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()


def write_auth_secrets(
    path: Path, *, app_url: str, cookie_secret: str, client_secret: str, server_metadata_url: str
) -> Path:
    """A secrets.toml whose ``[auth]`` signs in at ``server_metadata_url`` for the app at ``app_url``."""
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "{app_url}/oauth2callback"\n'
        f'cookie_secret = "{cookie_secret}"\n'
        'client_id = "voicechat"\n'
        f'client_secret = "{client_secret}"\n'
        f'server_metadata_url = "{server_metadata_url}"\n'
    )
    return path
