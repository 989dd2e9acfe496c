"""The access key pairs the endpoint accepts, from options, a credentials file and the environment.

Every source adds pairs; none configured means the server accepts unsigned requests (and says so).
The file uses the AWS shared-credentials layout, so an existing file can be reused: every section
with both ``aws_access_key_id`` and ``aws_secret_access_key`` contributes one pair.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

ACCESS_KEY_ENV = "REKURATOR_ACCESS_KEY_ID"
SECRET_KEY_ENV = "REKURATOR_SECRET_ACCESS_KEY"


class CredentialsError(ValueError):
    """The configured credentials cannot be used; the message names the source and the problem."""

    usage = False  # True: the command line itself is wrong (exit 252), else the configuration (253)


class CredentialsUsageError(CredentialsError):
    usage = True


def load_credentials_file(path: str | os.PathLike) -> dict[str, str]:
    path = Path(path).expanduser()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise CredentialsError(f"cannot read credentials file {path}: {exc.strerror or exc}") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise CredentialsError(f"credentials file {path} is not an INI file: {exc}") from None
    pairs: dict[str, str] = {}
    for section in parser.sections():
        key_id = parser.get(section, "aws_access_key_id", fallback="").strip()
        secret = parser.get(section, "aws_secret_access_key", fallback="").strip()
        if bool(key_id) != bool(secret):
            raise CredentialsError(
                f"credentials file {path}, section [{section}]: needs both aws_access_key_id and aws_secret_access_key"
            )
        if key_id:
            _add(pairs, key_id, secret, f"credentials file {path}, section [{section}]")
    if not pairs:
        raise CredentialsError(f"credentials file {path} holds no aws_access_key_id / aws_secret_access_key pair")
    return pairs


def collect_credentials(
    access_key: str | None = None,
    secret_key: str | None = None,
    credentials_file: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """All configured pairs {access key id: secret}; empty means unsigned mode."""
    environ = os.environ if environ is None else environ
    pairs: dict[str, str] = {}
    if bool(access_key) != bool(secret_key):
        raise CredentialsUsageError("--access-key and --secret-key must be given together")
    if access_key and secret_key:  # both or neither, checked above
        _add(pairs, access_key, secret_key, "--access-key")
    if credentials_file:
        for key_id, secret in load_credentials_file(credentials_file).items():
            _add(pairs, key_id, secret, f"credentials file {credentials_file}")
    env_key, env_secret = environ.get(ACCESS_KEY_ENV), environ.get(SECRET_KEY_ENV)
    if bool(env_key) != bool(env_secret):
        raise CredentialsError(f"{ACCESS_KEY_ENV} and {SECRET_KEY_ENV} must be set together")
    if env_key and env_secret:  # both or neither, checked above
        _add(pairs, env_key, env_secret, ACCESS_KEY_ENV)
    return pairs


def _add(pairs: dict[str, str], key_id: str, secret: str, source: str) -> None:
    if "/" in key_id or any(ch.isspace() for ch in key_id):
        # the id travels inside "Credential=KEY/date/region/...": a slash or space cannot be parsed back
        raise CredentialsError(f"{source}: access key id {key_id!r} must not contain '/' or spaces")
    if pairs.get(key_id, secret) != secret:
        raise CredentialsError(f"{source}: access key id {key_id} is configured twice with different secrets")
    pairs[key_id] = secret
