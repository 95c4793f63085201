// The one JSON Schema compiler of the harness. A suite's cases often repeat a schema, and each case
// parsed from YAML is its own object, which Ajv's cache (keyed by object) does not recognise; so
// compiled validators are kept by the schema's canonical JSON: a suite compiles each distinct
// schema once, when it loads, and its cases reuse the validator.
import { canonicalJson } from '@aifactory/core';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

let compiler: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

/** The compiled validator of a JSON Schema (2020-12); throws when the schema does not compile. */
export function schemaValidator(schema: Record<string, unknown>): ValidateFunction {
  const key = canonicalJson(schema);
  let validate = validators.get(key);
  if (!validate) {
    validate = (compiler ??= new Ajv2020({ strict: false, allErrors: false })).compile(schema);
    validators.set(key, validate);
  }
  return validate;
}
