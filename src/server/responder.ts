/**
 * How one HTTP request is answered, chosen before anything is awaited: the request handler picks
 * the responder of a path synchronously (health, metrics, docs, REST paths, routes such as
 * `/rest/v1`), so that a request costs no promise per route it is not for. It may answer at once
 * or resolve once it has; a rejection is an error outside the RPC error model.
 */
export type Responder = () => void | Promise<void>;
