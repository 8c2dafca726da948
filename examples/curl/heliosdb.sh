#!/bin/bash
# The authentication guide's cURL script, runnable: needs curl and jq.
#
#   heliosdb.sh [BASE_URL [EMAIL [PASSWORD [SQL]]]]
#
# Arguments fall back to HELIOS_URL, HELIOS_EMAIL, HELIOS_PASSWORD and HELIOS_SQL, then to the
# guide's values. Prints the token's first characters, then the query result as JSON. When the
# server cannot be reached or the sign-in fails, says so and how to run the script, and exits 1.

BASE_URL="${1:-${HELIOS_URL:-http://localhost:6543}}"
EMAIL="${2:-${HELIOS_EMAIL:-dev@example.com}}"
PASSWORD="${3:-${HELIOS_PASSWORD:-password123}}"
SQL="${4:-${HELIOS_SQL:-SELECT * FROM users LIMIT 5}}"

usage() {
  echo "Usage: heliosdb.sh BASE_URL EMAIL PASSWORD [SQL]" >&2
  echo "   or: HELIOS_URL=... HELIOS_EMAIL=... HELIOS_PASSWORD=... heliosdb.sh" >&2
  echo "The account must exist: create it with POST /auth/v1/signup (see the README's \"Using it\")." >&2
}

# Login and extract token (the guide's, plus a check: without one it would send "Bearer null")
login() {
  ANSWER=$(curl -sS -X POST "$BASE_URL/auth/v1/token" \
    -H "Content-Type: application/json" \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" 2>&1)
  TOKEN=$(printf '%s' "$ANSWER" | jq -r '.access_token // empty' 2>/dev/null)
  if [ -z "$TOKEN" ]; then
    echo "heliosdb.sh: sign-in as $EMAIL at $BASE_URL failed: ${ANSWER:-no answer}" >&2
    usage
    exit 1
  fi
  echo "Token: ${TOKEN:0:20}..."
}

# Query with token
query() {
  curl -s -X POST "$BASE_URL/api/v1/query" \
    -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/json" \
    -d "{\"sql\":\"$1\"}"
}

# Usage
login
query "$SQL"
echo
