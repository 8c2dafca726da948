import http2 from "node:http2";
import net from "node:net";

/** How a slow client misbehaves. */
export type SlowKind =
  | "silent"
  | "half-h2-preface"
  | "stalled-headers"
  | "dripped-headers"
  | "slow-body"
  | "idle-keep-alive"
  | "idle-h2-session"
  | "slow-h2-body";

/** One slow client: when its deadline started and when the server ended it. */
export interface SlowClient {
  readonly kind: SlowKind;
  /** `performance.now()` when the server's deadline started at the earliest. */
  readonly startedAt: number;
  /** `performance.now()` when the server closed the connection (or cancelled the stream), once it has. */
  readonly closedAt: number | undefined;
  /** Everything the server sent (cleartext HTTP/1.1 kinds). */
  readonly received: () => string;
  /** Stops dripping and closes the connection (after the test). */
  destroy(): void;
}

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** An empty SETTINGS frame: length 0, type 4, no flags, stream 0. */
const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const dripMs = 200;

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/**
 * Opens one connection on 127.0.0.1:`port` that misbehaves as `kind` says and keeps doing so until
 * the server closes it. Dripping clients send a byte every 200 ms, so that activity alone never
 * keeps them alive.
 */
export async function openSlowClient(port: number, kind: SlowKind): Promise<SlowClient> {
  if (kind === "slow-h2-body") return openSlowStream(port);
  const socket = await connect(port);
  // For every kind the server's deadline starts after this: at accept, at the first bytes, or (kept
  // alive) when the response to the request sent here has left.
  const startedAt = performance.now();
  let closedAt: number | undefined;
  let received = "";
  let drip: NodeJS.Timeout | undefined;
  const dripping = (bytes: string) => {
    drip = setInterval(() => socket.writable && socket.write(bytes), dripMs);
  };
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  socket.on("error", () => undefined);
  socket.once("close", () => {
    closedAt = performance.now();
    clearInterval(drip);
  });
  switch (kind) {
    case "silent":
      break;
    case "half-h2-preface":
      socket.write(preface.subarray(0, 16));
      break;
    case "stalled-headers":
      socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      break;
    case "dripped-headers":
      socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      dripping("x");
      break;
    case "slow-body":
      socket.write(
        "POST /auth/v1/signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
      );
      dripping(" ");
      break;
    case "idle-keep-alive":
      socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      break;
    case "idle-h2-session":
      socket.write(Buffer.concat([preface, emptySettings]));
      break;
  }
  return {
    kind,
    startedAt,
    get closedAt() {
      return closedAt;
    },
    received: () => received,
    destroy() {
      clearInterval(drip);
      socket.destroy();
    },
  };
}

/** An HTTP/2 request whose body drips and never ends; closed means the server cancelled the stream. */
async function openSlowStream(port: number): Promise<SlowClient> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  const stream = session.request({ ":method": "POST", ":path": "/auth/v1/signup", "content-type": "application/json" });
  stream.on("error", () => undefined);
  stream.on("response", () => undefined);
  stream.resume();
  const startedAt = performance.now();
  let closedAt: number | undefined;
  stream.write("{");
  const drip = setInterval(() => stream.writable && stream.write(" "), dripMs);
  stream.once("close", () => {
    closedAt = performance.now();
    clearInterval(drip);
  });
  return {
    kind: "slow-h2-body",
    startedAt,
    get closedAt() {
      return closedAt;
    },
    received: () => "",
    destroy() {
      clearInterval(drip);
      session.destroy();
    },
  };
}
