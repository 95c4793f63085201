import { describe, expect, it } from 'vitest';
import { maskPii } from '../src/index.ts';

describe('maskPii', () => {
  it('masks emails, phone numbers, Luhn-valid cards, valid IBANs, SSNs and IP addresses', () => {
    const { text, counts } = maskPii(
      'Write to ana.silva+hr@example.co.uk, call +351 912 345 678 or (030) 1234-5678. Card 4111-1111-1111-1111, IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789, host 10.1.2.3.',
    );
    expect(text).toBe('Write to [EMAIL], call [PHONE] or [PHONE]. Card [CARD], IBAN [IBAN], SSN [SSN], host [IP].');
    expect(counts).toEqual({ email: 1, phone: 2, card: 1, iban: 1, ssn: 1, ip: 1 });
  });

  it('leaves look-alikes alone: dates, order numbers, versions, cards failing Luhn, IBANs failing mod-97', () => {
    const input = 'On 2026-11-23 order 1234567890123 shipped (v1.2.3). Card 4111 1111 1111 1112. IBAN DE00 3704 0044 0532 0130 00.';
    expect(maskPii(input)).toEqual({ text: input, counts: {} });
  });

  it('masks only the kinds asked for', () => {
    expect(maskPii('a@b.io +44 20 7946 0958', { kinds: ['email'] }).text).toBe('[EMAIL] +44 20 7946 0958');
    expect(maskPii('a@b.io', false).text).toBe('a@b.io');
  });
});
