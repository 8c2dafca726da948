#!/usr/bin/env python3
"""The authentication guide's Python client, as a runnable script.

    python3 heliosdb_client.py [BASE_URL [EMAIL [PASSWORD [SQL]]]]

Arguments fall back to HELIOS_URL, HELIOS_EMAIL, HELIOS_PASSWORD and HELIOS_SQL, then to the
guide's values. Needs `requests` (Debian: apt-get install python3-requests). Prints the query
result as JSON, then refreshes the token and prints it again. When the server cannot be reached or
the sign-in fails, says so and how to run the script, and exits 1.
"""
import json
import os
import sys

import requests


USAGE = """Usage: python3 heliosdb_client.py BASE_URL EMAIL PASSWORD [SQL]
   or: HELIOS_URL=... HELIOS_EMAIL=... HELIOS_PASSWORD=... python3 heliosdb_client.py
The account must exist: create it with POST /auth/v1/signup (see the README's "Using it")."""


class SignInError(Exception):
    """The sign-in did not return a session: the server's error, or why it could not be asked."""


# The class is the guide's, plus a check of the sign-in answer (the guide's would fail with
# KeyError: 'access_token' and then send "Bearer None").
class HeliosDBClient:
    def __init__(self, base_url: str, email: str, password: str):
        self.base_url = base_url
        self.token = None
        self.refresh_token = None
        self._login(email, password)

    def _login(self, email: str, password: str):
        try:
            response = requests.post(
                f"{self.base_url}/auth/v1/token",
                json={"email": email, "password": password}
            )
        except requests.ConnectionError:
            raise SignInError(f"cannot reach {self.base_url}: is the server running (npm start)?")
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code != 200 or "access_token" not in data:
            reason = data.get("error", "no session in the answer")
            message = data.get("message", response.text[:200])
            raise SignInError(f"sign-in as {email} at {self.base_url} failed: {response.status_code} {reason}: {message}")
        self.token = data["access_token"]
        self.refresh_token = data["refresh_token"]

    def _headers(self):
        return {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json"
        }

    def query(self, sql: str):
        response = requests.post(
            f"{self.base_url}/api/v1/query",
            headers=self._headers(),
            json={"sql": sql}
        )
        return response.json()

    def refresh(self):
        # The server rotates refresh tokens: a later refresh would need data["refresh_token"],
        # which the guide's client does not keep (a replay is accepted only within a short grace).
        response = requests.post(
            f"{self.base_url}/auth/v1/token?grant_type=refresh_token",
            json={"refresh_token": self.refresh_token}
        )
        data = response.json()
        self.token = data["access_token"]


def setting(position: int, env: str, default: str) -> str:
    if len(sys.argv) > position:
        return sys.argv[position]
    return os.environ.get(env, default)


if __name__ == "__main__":
    # Usage
    try:
        client = HeliosDBClient(
            setting(1, "HELIOS_URL", "http://localhost:6543"),
            setting(2, "HELIOS_EMAIL", "dev@example.com"),
            setting(3, "HELIOS_PASSWORD", "password123"),
        )
    except SignInError as error:
        print(f"heliosdb_client.py: {error}", file=sys.stderr)
        print(USAGE, file=sys.stderr)
        sys.exit(1)
    sql = setting(4, "HELIOS_SQL", "SELECT * FROM users")

    users = client.query(sql)
    print(json.dumps(users))

    client.refresh()
    print(json.dumps(client.query(sql)))
