// Validates a tool call's arguments against the tool's JSON Schema (ajv) before anything else
// happens to the call. Servers declare draft-07 or 2020-12 schemas; each is compiled by the
// matching ajv dialect, once, on first use. A schema that cannot be compiled validates nothing:
// every call to that tool is refused (fail closed), never let through unchecked.
//
// The dialects and the compiled schemas are the process's, shared by every validator: a worker
// connects to the same servers run after run (a tool host per drive), and each new set of ajv
// instances cost ~60 ms of CPU before its first call (three constructors, then compiling the
// dialect's meta-schema to check the tool's schema against). A compiled schema is found again by
// its text, so one tool's schema never stands in for another's.
import { Ajv } from 'ajv';
import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** The outcome of validating arguments. */
export type ValidationResult = { ok: true } | { ok: false; errors: string[] };

const ajvOptions: Options = {
  allErrors: true,
  // Servers write schemas for their own validators; unknown keywords and formats are theirs to check.
  strict: false,
  validateFormats: false,
  // Never register schemas by `$id`: two tools may reuse one and must not see each other's.
  addUsedSchema: false,
  logger: false,
};

type Dialect = 'draft7' | 'draft2019' | 'draft2020';
type Compiled = { validate: ValidateFunction } | { problem: string };

/** The process's ajv instances, made on first use (most servers use one dialect). */
let dialects: Partial<Record<Dialect, Ajv>> = {};
/** Compiled schemas by dialect and text, across validators. */
const compiledByText = new Map<string, Compiled>();
/**
 * Schemas compiled before the cache starts over. Bounded because ajv keeps every schema it compiled
 * for as long as its instance lives: starting over drops the instances with their schemas.
 */
const compiledLimit = 500;

function dialect(name: Dialect): Ajv {
  return (dialects[name] ??=
    name === 'draft2020' ? new Ajv2020(ajvOptions) : name === 'draft2019' ? new Ajv2019(ajvOptions) : new Ajv(ajvOptions));
}

/** Compiles and caches validators for tool input schemas. */
export class ArgumentValidator {
  readonly #compiled = new Map<string, Compiled>();

  /** Validates `args` against `schema`; `key` identifies the schema in the cache (the tool name). */
  validate(key: string, schema: Record<string, unknown>, args: unknown): ValidationResult {
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      return {
        ok: false,
        errors: [`args: must be an object, got ${args === null ? 'null' : Array.isArray(args) ? 'an array' : typeof args}`],
      };
    }
    let entry = this.#compiled.get(key);
    if (!entry) {
      entry = this.#compile(schema);
      this.#compiled.set(key, entry);
    }
    if ('problem' in entry)
      return { ok: false, errors: [`the tool's input schema cannot be used, so no call is accepted: ${entry.problem}`] };
    if (entry.validate(args)) return { ok: true };
    return { ok: false, errors: (entry.validate.errors ?? []).map(describeError) };
  }

  #compile(schema: Record<string, unknown>): Compiled {
    const { $schema, ...rest } = schema;
    const name: Dialect =
      typeof $schema === 'string' && $schema.includes('2020-12')
        ? 'draft2020'
        : typeof $schema === 'string' && $schema.includes('2019-09')
          ? 'draft2019'
          : 'draft7';
    let text: string;
    try {
      text = `${name} ${JSON.stringify(rest)}`;
    } catch (error) {
      return { problem: error instanceof Error ? error.message : String(error) };
    }
    const known = compiledByText.get(text);
    if (known) return known;
    if (compiledByText.size >= compiledLimit) {
      compiledByText.clear();
      dialects = {};
    }
    let compiled: Compiled;
    try {
      compiled = { validate: dialect(name).compile(rest) };
    } catch (error) {
      compiled = { problem: error instanceof Error ? error.message : String(error) };
    }
    compiledByText.set(text, compiled);
    return compiled;
  }
}

/** `args.items[0].name: must be string` from an ajv error. */
function describeError(error: ErrorObject): string {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = segments.reduce(
    (text, segment) =>
      /^\d+$/.test(segment)
        ? `${text}[${segment}]`
        : /^[A-Za-z_$][\w$]*$/.test(segment)
          ? `${text}.${segment}`
          : `${text}[${JSON.stringify(segment)}]`,
    'args',
  );
  const params = error.params as Record<string, unknown>;
  let detail = '';
  if (error.keyword === 'additionalProperties') detail = ` ('${String(params.additionalProperty)}')`;
  else if (error.keyword === 'enum' && Array.isArray(params.allowedValues))
    detail = `: ${params.allowedValues.map((value) => JSON.stringify(value)).join(', ')}`;
  return `${path}: ${error.message ?? 'is invalid'}${detail}`;
}
