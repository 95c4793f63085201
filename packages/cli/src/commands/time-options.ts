// Time options the commands share: an ISO time, or a duration ago (30m, 24h, 7d, 2w).
import { ErrorCode, UserError } from '@aifactory/core';

const durationUnits: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Reads `value` as an ISO time or a duration before `now`; `option` names the flag in errors. */
export function parseTime(value: string, option: string, now: Date): Date {
  const duration = /^(\d+)([smhdw])$/.exec(value.trim());
  if (duration) return new Date(now.getTime() - Number(duration[1]) * durationUnits[duration[2]!]!);
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()))
    throw new UserError(
      ErrorCode.InputInvalid,
      `${option} '${value}' is not a time; use an ISO time (2026-11-23T07:00:00Z) or a duration ago (30m, 24h, 7d).`,
    );
  return parsed;
}
