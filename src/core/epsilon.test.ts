import { describe, expect, it } from 'vitest';
import { epsilonFromText, formatEpsilon } from './epsilon.ts';

describe('epsilonFromText', () => {
  it('reads fractions of 255 and decimals', () => {
    expect(epsilonFromText('1/255')).toBeCloseTo(1 / 255, 15);
    expect(epsilonFromText('0.5/255')).toBeCloseTo(0.5 / 255, 15);
    expect(epsilonFromText(' 8 / 255 ')).toBeCloseTo(8 / 255, 15);
    expect(epsilonFromText('0.03')).toBe(0.03);
    expect(epsilonFromText('1e-3')).toBe(0.001);
    expect(epsilonFromText('0')).toBe(0);
  });
  it('rejects what is not an ε in [0, 1]', () => {
    for (const text of ['', 'abc', '2', '1/0', '-1/255', '300/255', '1/255/2']) {
      expect(epsilonFromText(text), text).toBeUndefined();
    }
  });
});

describe('formatEpsilon', () => {
  it('writes fractions of 255 where ε is one, else the decimal', () => {
    expect(formatEpsilon(1 / 255)).toBe('1/255');
    expect(formatEpsilon(0.5 / 255)).toBe('0.5/255');
    expect(formatEpsilon(8 / 255)).toBe('8/255');
    expect(formatEpsilon(0.0031)).toBe('0.0031');
  });
  it('round-trips through epsilonFromText', () => {
    for (const epsilon of [0.1 / 255, 0.3 / 255, 1 / 255, 2 / 255, 10 / 255]) {
      expect(epsilonFromText(formatEpsilon(epsilon))).toBeCloseTo(epsilon, 12);
    }
  });
});
