import type http from "node:http";
import type http2 from "node:http2";
import type { universalResponseToNodeResponse } from "@connectrpc/connect-node";

/** A request from the `http` or the `http2` module. */
export type NodeServerRequest = http.IncomingMessage | http2.Http2ServerRequest;

/** A response of the `http` or the `http2` module, as connect-node accepts it. */
export type NodeServerResponse = Parameters<typeof universalResponseToNodeResponse>[1];

/** A request listener usable by both `http` and `http2` servers. */
export type NodeHandlerFn = (req: NodeServerRequest, res: NodeServerResponse) => void;
