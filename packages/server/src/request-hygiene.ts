// Input a database or a log cannot take is refused at the door with 400, never met later as a
// 500: NUL and other C0 control characters in the path or query, a JSON body carrying a NUL
// (Postgres text cannot hold one), and run or approval ids outside the id alphabet.
import { ErrorCode } from '@aifactory/core';
import type { MiddlewareHandler } from 'hono';

/** Run and approval ids: letters, digits, `_ . : -`, at most 200 characters. */
export const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;

// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const controlCharacter = /[\u0000-\u001f\u007f]/;
// A JSON `\u0000` escape not itself escaped (preceded by an even number of backslashes), or a raw NUL.
// eslint-disable-next-line no-control-regex -- a raw NUL is one of the two forms looked for
const jsonNul = /(?:^|[^\\])(?:\\\\)*\\u0000|\u0000/i;
const idRoute = /^\/v1\/(runs|approvals)\/([^/]+)/;

/** Whether a JSON text carries a NUL (raw, or as an unescaped `\\u0000`), which Postgres text cannot hold. */
export function hasJsonNul(text: string): boolean {
  return jsonNul.test(text);
}

/** Hono middleware: 400 for control characters in the URL, malformed ids and NULs in JSON bodies under `/v1`. */
export function requestHygiene(): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    let decodedPath: string;
    let decodedQuery: string;
    try {
      decodedPath = decodeURIComponent(url.pathname);
      decodedQuery = decodeURIComponent(url.search.replace(/\+/g, ' '));
    } catch {
      return refuse(c, 'The request URL has a malformed percent-encoding.', 'url');
    }
    if (controlCharacter.test(decodedPath)) return refuse(c, 'The request path contains a control character (such as NUL).', 'path');
    if (controlCharacter.test(decodedQuery)) return refuse(c, 'The query string contains a control character (such as NUL).', 'query');
    const idMatch = idRoute.exec(decodedPath);
    if (idMatch && !idPattern.test(idMatch[2]!)) {
      const what = idMatch[1] === 'runs' ? 'run' : 'approval';
      return refuse(
        c,
        `${JSON.stringify(idMatch[2]!.slice(0, 80))} is not a ${what} id; ids are letters, digits, '_', '.', ':' and '-' (e.g. ${what === 'run' ? 'run_2f1c…' : 'apr_9a0b…'}).`,
        'params.id',
      );
    }
    if (c.req.path.startsWith('/v1/') && (c.req.method === 'POST' || c.req.method === 'PUT' || c.req.method === 'PATCH')) {
      // Hono keeps the text it reads here for the route's own read.
      const refused = bodyRefusal(await c.req.text());
      if (refused) return c.json(refused, 400);
    }
    return next();
  };
}

/** The 400 answer's body. */
export interface HygieneRefusal {
  error: { code: string; message: string; path: string };
}

/** The 400 answer's body for a JSON body refused at the door (a NUL), or undefined (the middleware's, and the run start's route in front of Hono). */
export function bodyRefusal(text: string): HygieneRefusal | undefined {
  return hasJsonNul(text) ? refusal('The request body contains a NUL character (\\u0000), which no field accepts.', 'body') : undefined;
}

function refusal(message: string, path: string): HygieneRefusal {
  return { error: { code: ErrorCode.InputInvalid, message, path } };
}

function refuse(c: Parameters<MiddlewareHandler>[0], message: string, path: string) {
  return c.json(refusal(message, path), 400);
}
