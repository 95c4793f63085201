import { maskPii } from '@aifactory/knowledge/pii-masking';
import { describe, expect, it } from 'vitest';
import { PiiScanner } from '../src/gateway/pii-scan.ts';

describe('PiiScanner', () => {
  it('answers exactly as maskPii does, for clean texts seen again and for texts with personal data', () => {
    const scanner = new PiiScanner();
    const texts = ['Where is my order A-1042?', 'Mail me at jane.doe@example.com or call +44 20 7946 0958.', 'Card 4111 1111 1111 1111'];
    for (let round = 0; round < 3; round++) for (const text of texts) expect(scanner.mask(text)).toEqual(maskPii(text));
  });

  it('remembers only texts found clean, never one with personal data', () => {
    const scanner = new PiiScanner();
    scanner.mask('You are the checkout assistant.');
    scanner.mask('My e-mail is jane.doe@example.com.');
    expect(scanner.size).toBe(1);
  });

  it('keeps at most its budget of characters, forgetting the oldest texts first', () => {
    const scanner = new PiiScanner(100);
    for (let index = 0; index < 10; index++) scanner.mask(`${'a'.repeat(38)} ${index}`);
    expect(scanner.size).toBe(2);
    expect(scanner.mask(`${'a'.repeat(38)} 9`)).toEqual({ text: `${'a'.repeat(38)} 9`, counts: {} });
  });
});
