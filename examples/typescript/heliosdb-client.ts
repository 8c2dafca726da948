/**
 * The authentication guide's TypeScript client, as a runnable script (Node 20: global fetch).
 *
 *   node --import tsx examples/typescript/heliosdb-client.ts [BASE_URL [EMAIL [PASSWORD [SQL]]]]
 *
 * Arguments fall back to HELIOS_URL, HELIOS_EMAIL, HELIOS_PASSWORD and HELIOS_SQL, then to the
 * guide's values. Prints the query result as JSON, then refreshes the token and prints it again.
 * For a typed client with automatic refresh, see `heliosdb-nano/client`.
 */

/** The fields of a session response the guide's class reads. */
interface TokenResponse {
  access_token: string;
  refresh_token: string;
}

// The class is the guide's, unchanged but for types strict TypeScript asks for (`unknown` for `any`).
class HeliosDBClient {
  private baseUrl: string;
  private token: string | null = null;
  private refreshToken: string | null = null;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  async login(email: string, password: string): Promise<void> {
    const response = await fetch(`${this.baseUrl}/auth/v1/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password })
    });
    const data = (await response.json()) as TokenResponse;
    this.token = data.access_token;
    this.refreshToken = data.refresh_token;
  }

  async query(sql: string): Promise<unknown> {
    const response = await fetch(`${this.baseUrl}/api/v1/query`, {
      method: "POST",
      headers: {
        "Authorization": `Bearer ${this.token}`,
        "Content-Type": "application/json"
      },
      body: JSON.stringify({ sql })
    });
    return response.json();
  }

  async refresh(): Promise<void> {
    const response = await fetch(
      `${this.baseUrl}/auth/v1/token?grant_type=refresh_token`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: this.refreshToken })
      }
    );
    const data = (await response.json()) as TokenResponse;
    this.token = data.access_token;
  }
}

const [baseUrl, email, password, sql] = [
  process.argv[2] ?? process.env.HELIOS_URL ?? "http://localhost:6543",
  process.argv[3] ?? process.env.HELIOS_EMAIL ?? "dev@example.com",
  process.argv[4] ?? process.env.HELIOS_PASSWORD ?? "password123",
  process.argv[5] ?? process.env.HELIOS_SQL ?? "SELECT * FROM users",
];

// Usage
const client = new HeliosDBClient(baseUrl);
await client.login(email, password);
const users = await client.query(sql);
console.log(JSON.stringify(users));

await client.refresh();
console.log(JSON.stringify(await client.query(sql)));
