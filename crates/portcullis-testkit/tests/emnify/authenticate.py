"""emnify's own Python SDK (emnify-sdk 0.5.3, from PyPI) against Portcullis's emnify dialect.

    EMNIFY_SDK_API_ENDPOINT_URL=<server>/api python authenticate.py <application token>

The SDK authenticates the way it always does: its first call goes out with no token
(`Bearer None`), is answered 401, and it then posts the application token to
/api/v1/authenticate and retries with the auth_token. Prints one JSON line of what it saw;
exits non-zero at the first thing that is not as expected.
"""
import json
import sys

from emnify import EMnify, errors
from emnify.api_manager import Authenticate, BaseApiManager


class MfaKeyTypes(BaseApiManager):
    """GET /api/v1/user/mfa/type through the SDK's own request machinery."""

    request_url_prefix = "/v1/user/mfa/type"
    request_method_name = "get"


def main(app_token: str) -> None:
    client = EMnify(app_token=app_token)

    # Authenticate directly: 200 {auth_token}.
    answer = Authenticate().call_api(client, {"application_token": app_token})
    assert isinstance(answer.get("auth_token"), str) and answer["auth_token"], answer

    # The SDK's usual path: no token yet, 401, authenticate, retry.
    assert client.token is None
    types = MfaKeyTypes().call_api(client)
    assert types == [{"id": 1, "description": "TOTP"}], types
    assert client.token, "the SDK kept no auth_token"

    # A wrong application token: the SDK's own "Invalid Application Token".
    wrong = EMnify(app_token="pct_not_a_token")
    try:
        Authenticate().call_api(wrong, {"application_token": wrong.app_token})
    except errors.UnauthorisedException as e:
        refused = str(e)
    else:
        raise AssertionError("a wrong application token was accepted")

    print(json.dumps({"auth_token": answer["auth_token"], "refused": refused}))


if __name__ == "__main__":
    main(sys.argv[1])
