"""A remote Rekognition endpoint (AWS itself, or another Rekurator) behind the engine's interface.

`backend.call("AssociateFaces", {...})` and `backend.associate_faces(CollectionId=..., ...)`
take and return what the local Engine does: AWS member names, bytes for blobs, epoch seconds
(float) for timestamps, no ResponseMetadata; failures raise the same typed errors
(app.core.errors), see remote_errors.py.

Requests are validated locally first with the engine's own validator, so a bad value gets the
same error and message as in-process, and never leaves the machine.

Credentials: explicit keys, else a named profile, else botocore's default chain; when nothing is
found (or unsigned=True) requests go out unsigned, which an unsigned local `rekurator serve`
accepts and AWS rejects with MissingAuthenticationTokenException.
"""

from __future__ import annotations

import datetime

import boto3
from botocore import UNSIGNED, xform_name
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from app import __version__
from app.core.errors import InvalidParameterException
from app.core.null_members import drop_null_members
from app.core.operation_methods import AwsOperationMethods
from app.core.service_model import OPERATIONS
from app.core.validation import UnknownOperationError, validate_request

from .remote_errors import EndpointUnreachableError, RemoteConfigurationError, error_from_client_error

DEFAULT_REGION = "us-east-1"


class RemoteBackend(AwsOperationMethods):
    def __init__(
        self,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        profile_name: str | None = None,
        unsigned: bool | None = None,
        max_attempts: int = 3,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 60.0,
        max_pool_connections: int = 10,
        verify: bool | str | None = None,
        validate_locally: bool = True,
    ):
        """`unsigned`: True never signs, False requires credentials, None (default) signs when any are found.

        Timeouts of None wait forever; `verify` is False (no TLS check) or a CA bundle path.
        Bad settings raise RemoteConfigurationError (a ValueError) naming the problem.
        """
        if bool(aws_access_key_id) != bool(aws_secret_access_key):
            raise RemoteConfigurationError("aws_access_key_id and aws_secret_access_key must be given together")
        if max_attempts < 1:
            raise RemoteConfigurationError(f"max_attempts must be at least 1, got {max_attempts}")
        try:
            session = boto3.session.Session(
                aws_access_key_id=aws_access_key_id,
                aws_secret_access_key=aws_secret_access_key,
                aws_session_token=aws_session_token,
                profile_name=profile_name,
            )
            credentials = session.get_credentials()
            if unsigned is None:
                unsigned = credentials is None
            elif not unsigned and credentials is None:
                raise RemoteConfigurationError(
                    "no AWS credentials found (keys, profile, environment or config files) and unsigned=False"
                )
            self.region_name = region_name or session.region_name or DEFAULT_REGION
            self.signed = not unsigned
            settings = dict(
                # standard mode retries throttling and 5xx with backoff; never 4xx, which are final
                retries={"max_attempts": max_attempts, "mode": "standard"},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_pool_connections=max_pool_connections,
                user_agent_extra=f"rekurator/{__version__}",
            )
            if unsigned:
                settings["signature_version"] = UNSIGNED
            config = Config(**settings)
            self._client = session.client(
                "rekognition", endpoint_url=endpoint_url, region_name=self.region_name, config=config, verify=verify
            )
        except BotoCoreError as exc:  # ProfileNotFound, InvalidEndpoint, bad config files...
            raise RemoteConfigurationError(str(exc)) from exc
        except ValueError as exc:  # botocore's own checks on endpoint_url and region name
            if isinstance(exc, RemoteConfigurationError):
                raise
            raise RemoteConfigurationError(str(exc)) from exc
        self.endpoint_url = self._client.meta.endpoint_url
        self._validate_locally = validate_locally

    def call(self, operation: str, params: dict | None = None) -> dict:
        params = {} if params is None else drop_null_members(operation, params)
        if self._validate_locally:
            validate_request(operation, params)
        elif operation not in OPERATIONS:
            raise UnknownOperationError(f"Unknown operation {operation!r}; expected one of: {', '.join(OPERATIONS)}")
        method = getattr(self._client, xform_name(operation))
        try:
            response = method(**_request_value(params))
        except ClientError as exc:
            raise error_from_client_error(exc) from exc
        except ParamValidationError as exc:
            raise InvalidParameterException(f"{operation}: {exc}") from exc
        except (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError) as exc:
            raise EndpointUnreachableError(f"{operation}: cannot reach {self.endpoint_url}: {exc}") from exc
        response.pop("ResponseMetadata", None)
        return _response_value(response)

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"RemoteBackend({self.endpoint_url!r}, region={self.region_name!r}, signed={self.signed})"


def _request_value(value):
    """As the engine reads it: None members are absent (botocore would reject them); memoryview is bytes."""
    if isinstance(value, dict):
        return {k: _request_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_request_value(v) for v in value]
    if isinstance(value, memoryview):
        return value.tobytes()
    return value


def _response_value(value):
    if isinstance(value, dict):
        return {k: _response_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_response_value(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return value
