from tests.server.endpoint_fixtures import _no_aws_environment, client, endpoint, rng  # noqa: F401  (fixtures)
