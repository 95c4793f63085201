// Webhook signatures, Stripe-style: `X-Aifactory-Signature: t=<unix seconds>,v1=<hex>` where v1 is
// HMAC-SHA256(secret, `${t}.${raw body}`). The timestamp inside the signed text lets receivers
// refuse replays of an old delivery.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries the signature. */
export const signatureHeader = 'X-Aifactory-Signature';

/** The header that carries the notification id, for receivers to drop duplicates. */
export const deliveryHeader = 'X-Aifactory-Delivery';

/** Signs a webhook body; returns the header value. */
export function signWebhook(options: { secret: string; body: string | Uint8Array; timestamp?: number }): string {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return `t=${timestamp},v1=${hmac(options.secret, timestamp, options.body)}`;
}

/** Whether a received webhook is authentic and fresh. */
export type WebhookVerification = { valid: true; timestamp: number } | { valid: false; reason: string };

/** Options of verifyWebhookSignature. */
export interface VerifyWebhookOptions {
  /** The shared secret the sender signs with. */
  secret: string;
  /** The X-Aifactory-Signature header as received (null or undefined when missing). */
  header: string | null | undefined;
  /** The raw request body, exactly as received (not re-serialised JSON). */
  body: string | Uint8Array;
  /** How old (or how far in the future) a signature may be, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Current time in milliseconds (tests). */
  now?: number;
}

/** Verifies a webhook signature in constant time; for receivers of aifactory notifications. */
export function verifyWebhookSignature(options: VerifyWebhookOptions): WebhookVerification {
  if (!options.secret) return { valid: false, reason: 'no secret to verify with' };
  if (!options.header) return { valid: false, reason: `missing ${signatureHeader} header` };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of options.header.split(',')) {
    const separator = part.indexOf('=');
    if (separator < 0) continue;
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't' && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase());
  }
  if (timestamp === undefined) return { valid: false, reason: 'signature header has no timestamp (t=)' };
  if (signatures.length === 0) return { valid: false, reason: 'signature header has no v1 signature' };
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - timestamp) > tolerance)
    return { valid: false, reason: `signature timestamp is ${nowSeconds - timestamp}s away from now (tolerance ${tolerance}s)` };
  const expected = Buffer.from(hmac(options.secret, timestamp, options.body), 'hex');
  // Several v1 values may be present while a secret is rotated; any match is enough.
  const matches = signatures.some((signature) => timingSafeEqual(Buffer.from(signature, 'hex'), expected));
  return matches ? { valid: true, timestamp } : { valid: false, reason: 'signature does not match the body' };
}

function hmac(secret: string, timestamp: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}
