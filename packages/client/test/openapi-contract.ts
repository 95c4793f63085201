// The client's types against the server's OpenAPI document (src/generated/openapi.ts, generated
// from GET /v1/openapi.json and held equal to it by packages/server/test/api-contract.test.ts).
// Type-level only: `pnpm typecheck` fails when the client's own types drift from the contract.
import type { Approval, RunEvent, RunPage, RunSummary, UsageReport } from '../src/index.ts';
import type { components, operations } from '../src/generated/openapi.ts';

type Schemas = components['schemas'];
/** True when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile unless T is true. */
type Holds<T extends true> = T;

type StreamNotice = Extract<RunEvent, { type: 'run.status' | 'server.closing' }>;

// JSON Schema cannot require a key whose value may be anything, so openapi-typescript makes every
// `unknown` key optional; both sides are compared with such keys required, the rest exactly.
type UnknownKeys<T> = { [K in keyof T]-?: unknown extends T[K] ? K : never }[keyof T];
type Flat<T> = { [K in keyof T]: T[K] };
type Normal<T> = T extends readonly (infer E)[]
  ? Normal<E>[]
  : T extends object
    ? Flat<{ [K in keyof T as K extends UnknownKeys<T> ? never : K]: Normal<T[K]> } & { [K in UnknownKeys<T>]-?: unknown }>
    : T;

export type Contract = [
  // Streamed events: exactly the documented RunEvent and StreamNotice, field for field.
  Holds<Equal<Normal<Exclude<RunEvent, StreamNotice>>, Normal<Schemas['RunEvent']>>>,
  Holds<Equal<StreamNotice, Schemas['StreamNotice']>>,
  // Listing and usage: the client reads exactly what the server answers.
  Holds<Equal<RunSummary, Schemas['RunSummary']>>,
  Holds<Equal<RunPage, operations['listRuns']['responses'][200]['content']['application/json']>>,
  Holds<Equal<UsageReport['total'], Schemas['UsageReport']['total']>>,
  Holds<Equal<UsageReport['by'], Schemas['UsageReport']['by']>>,
  Holds<Equal<UsageReport['rows'][number], Schemas['UsageRow']>>,
  // Approvals: every field the client reads is one the server answers, with that type.
  Holds<Normal<Schemas['Approval']> extends Normal<Approval> ? true : false>,
  Holds<Equal<Approval['status'], Schemas['Approval']['status']>>,
];
