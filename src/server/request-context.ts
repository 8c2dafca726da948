import { createContextKey } from "@connectrpc/connect";

/** The peer address of the connection a call arrived on (for rate limits and logs). */
export const clientAddressKey = createContextKey<string>("unknown", { description: "client address" });
