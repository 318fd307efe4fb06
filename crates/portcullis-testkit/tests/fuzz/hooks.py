"""Schemathesis hooks for the fuzz test (tests/fuzz.rs): signs in as the test server's
bootstrap admin and signs in again whenever a generated request has ended that session
(a fuzzed logout, a revocation of the admin's own sessions), so that every operation keeps
being exercised with a valid token."""

import os

import requests
import schemathesis


@schemathesis.auth(refresh_interval=60)
class PortcullisAdmin:
    def get(self, case, context):
        answer = requests.post(
            os.environ["PORTCULLIS_FUZZ_URL"] + "/v1/auth/login",
            json={
                "identifier": os.environ["PORTCULLIS_FUZZ_ADMIN"],
                "password": os.environ["PORTCULLIS_FUZZ_PASSWORD"],
            },
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
