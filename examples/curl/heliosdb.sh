#!/bin/bash
# The authentication guide's cURL script, runnable: needs curl and jq.
#
#   heliosdb.sh [BASE_URL [EMAIL [PASSWORD [SQL]]]]
#
# Arguments fall back to HELIOS_URL, HELIOS_EMAIL, HELIOS_PASSWORD and HELIOS_SQL, then to the
# guide's values. Prints the token's first characters, then the query result as JSON.

BASE_URL="${1:-${HELIOS_URL:-http://localhost:6543}}"
EMAIL="${2:-${HELIOS_EMAIL:-dev@example.com}}"
PASSWORD="${3:-${HELIOS_PASSWORD:-password123}}"
SQL="${4:-${HELIOS_SQL:-SELECT * FROM users LIMIT 5}}"

# Login and extract token
login() {
  TOKEN=$(curl -s -X POST "$BASE_URL/auth/v1/token" \
    -H "Content-Type: application/json" \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" \
    | jq -r '.access_token')
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
