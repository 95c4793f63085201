// Answers built with a plain header record, and that record, so the request middleware can read
// the request id and traceresponse of such an answer without reading `response.headers`: on
// @hono/node-server's lightweight Response that read turns the record into a web Headers, which
// the server then turns back into a record to write (2-3 % of a gateway request's CPU).
const plainHeaders = new WeakMap<Response, Readonly<Record<string, string>>>();

/**
 * Returns `response`, noting that its headers are exactly `headers` (names in lower case, as a web
 * Headers has them). The caller built `response` from that very record and never changes either
 * afterwards; an answer that is later copied or replaced is simply not found.
 */
export function withPlainHeaders(response: Response, headers: Readonly<Record<string, string>>): Response {
  plainHeaders.set(response, headers);
  return response;
}

/** The header record `response` was built from, when it was noted by withPlainHeaders. */
export function plainHeadersOf(response: Response): Readonly<Record<string, string>> | undefined {
  return plainHeaders.get(response);
}
