// What the shared request checks (authentication, its challenge, the client's address) read of a
// request and write to its answer. Hono's Context has these members, so the API's routes pass it
// as it is; the gateway's route in front of Hono (gateway/gateway-fast-route.ts) passes its own.

/** A request as the shared checks see it, with the answer headers they may set. */
export interface RequestView {
  req: {
    /** A request header's value (several joined as a web Headers joins them), or undefined. */
    header(name: string): string | undefined;
    readonly method: string;
    /** The URL's path. */
    readonly path: string;
    /** The whole URL. */
    readonly url: string;
  };
  /** Sets a header on the answer. */
  header(name: string, value: string): void;
  /** The server's bindings (@hono/node-server's `{ incoming, outgoing }`); absent in-process. */
  env: unknown;
}
