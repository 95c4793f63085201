// PII masking applied to document text before it is chunked, embedded or stored, so masked
// values never reach the index, the store or a trace. Patterns favour precision: card numbers
// must pass the Luhn check and IBANs the mod-97 check, and phone numbers need 9 to 15 digits.

/** Kinds of personal data the masker recognises. */
export type PiiKind = 'email' | 'phone' | 'card' | 'iban' | 'ssn' | 'ip';

/** All kinds, in the order they are applied (most specific first). */
export const piiKinds: readonly PiiKind[] = ['email', 'iban', 'card', 'ssn', 'ip', 'phone'];

/** Which kinds to mask; `true` means all. */
export type PiiMaskingOptions = boolean | { kinds?: PiiKind[] };

/** Masked text and how many values of each kind were replaced. */
export interface MaskResult {
  text: string;
  counts: Partial<Record<PiiKind, number>>;
}

interface Detector {
  pattern: RegExp;
  valid?: (match: string) => boolean;
}

const detectors: Record<PiiKind, Detector> = {
  email: { pattern: /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}/gu },
  iban: { pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g, valid: ibanChecksumValid },
  card: { pattern: /(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)/g, valid: luhnValid },
  ssn: { pattern: /(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)/g },
  ip: { pattern: /(?<!\d|\d\.)(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\d|\.\d)/g },
  phone: {
    pattern: /(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)/g,
    valid: (match) => {
      const digits = match.replace(/\D/g, '').length;
      // ISO dates and plain long numbers (order ids) are not phone numbers.
      return digits >= 9 && digits <= 15 && !/^\d{4}-\d{2}-\d{2}$/.test(match) && /[ .()+-]/.test(match);
    },
  },
};

// Every kind, built once: the gateway masks each text of each request with all of them.
const allKinds: ReadonlySet<PiiKind> = new Set(piiKinds);

/** Replaces personal data with `[EMAIL]`, `[PHONE]`, `[CARD]`, `[IBAN]`, `[SSN]`, `[IP]`. */
export function maskPii(text: string, options: PiiMaskingOptions = true): MaskResult {
  if (options === false) return { text, counts: {} };
  const wanted = options === true ? allKinds : new Set(options.kinds ?? piiKinds);
  const counts: Partial<Record<PiiKind, number>> = {};
  let masked = text;
  for (const kind of piiKinds) {
    if (!wanted.has(kind)) continue;
    const detector = detectors[kind];
    masked = masked.replace(detector.pattern, (match) => {
      if (detector.valid && !detector.valid(match)) return match;
      counts[kind] = (counts[kind] ?? 0) + 1;
      return `[${kind.toUpperCase()}]`;
    });
  }
  return { text: masked, counts };
}

function luhnValid(match: string): boolean {
  const digits = match.replace(/\D/g, '');
  let sum = 0;
  for (let position = 0; position < digits.length; position++) {
    let digit = Number(digits[digits.length - 1 - position]);
    if (position % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

function ibanChecksumValid(match: string): boolean {
  const compact = match.replace(/ /g, '');
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const character of rearranged) {
    const value = character >= 'A' && character <= 'Z' ? String(character.charCodeAt(0) - 55) : character;
    for (const digit of value) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}
