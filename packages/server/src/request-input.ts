// Reading a request's JSON body and query against a zod schema; a problem is a 400 naming the field.
import { ErrorCode } from '@aifactory/core';
import type { Context } from 'hono';
import type { z } from 'zod';
import { HttpProblem, parseWith } from './routes/context.ts';

export const readBody = async <T>(c: Context, schema: z.ZodType<T>): Promise<T> => {
  const text = await c.req.text();
  let value: unknown;
  try {
    value = text.length === 0 ? undefined : JSON.parse(text);
  } catch (error) {
    throw new HttpProblem(400, ErrorCode.InputInvalid, `The request body is not valid JSON: ${(error as Error).message}.`);
  }
  if (value === undefined) throw new HttpProblem(400, ErrorCode.InputInvalid, 'The request body is empty; send a JSON object.');
  return parseWith(schema, value, 'body');
};

export const readQuery = <T>(c: Context, schema: z.ZodType<T>): T => parseWith(schema, c.req.query(), 'query');
