import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type AnalysisThresholds, defaultThresholds as t } from '../../src/analysis/thresholds.js';

describe('defaultThresholds', () => {
  it.each([
    { field: 'dormantDays', value: 90 },
    { field: 'peerOutlierMaxPrevalence', value: 0.05 },
    { field: 'peerMinStrongCohort', value: 5 },
    { field: 'wilsonZ', value: 1.96 },
    { field: 'escalateConfidenceFloor', value: 0.6 },
    { field: 'learnedRevokeThreshold', value: 0.5 },
    { field: 'autoApprovePrecision', value: 0.99 },
  ] as Array<{ field: keyof AnalysisThresholds; value: number }>)(
    'sets $field to $value',
    ({ field, value }) => {
      expect(t[field]).toBe(value);
    },
  );

  it('keeps probabilities and shares within 0..1 and in a sensible order', () => {
    const shares = [
      t.peerOutlierMaxPrevalence,
      t.peerWeakBlockPrevalence,
      t.peerSupportedPrevalence,
      t.escalateConfidenceFloor,
      t.learnedRevokeThreshold,
      t.learnedEscalateThreshold,
      t.learnedWeight,
      t.autoApprovePrecision,
      ...Object.values(t.rules),
    ];
    for (const s of shares) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
    expect(t.learnedEscalateThreshold).toBeLessThan(t.learnedRevokeThreshold);
    expect(t.peerOutlierMaxPrevalence).toBeLessThan(t.peerSupportedPrevalence);
    expect(t.peerMinStrongCohort).toBeLessThanOrEqual(t.peerMinWeakCohort);
  });

  it('makes every rule-based revoke confident enough to stand on its own', () => {
    const { orphaned, contractorExpired, dormantPrivileged, neverUsed, moverOutlier, redundant } = t.rules;
    for (const c of [orphaned, contractorExpired, dormantPrivileged, neverUsed, moverOutlier, redundant]) {
      expect(c).toBeGreaterThan(t.escalateConfidenceFloor);
    }
  });

  it('cannot be changed in place', () => {
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.rules)).toBe(true);
  });

  it('documents every field', () => {
    const source = readFileSync(new URL('../../src/analysis/thresholds.ts', import.meta.url), 'utf8');
    const lines = source.split('\n');
    const fields = lines
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => /^ {2}[a-zA-Z]+: [A-Za-z]+;$/.test(line));
    expect(fields.length).toBeGreaterThanOrEqual(Object.keys(t).length + Object.keys(t.rules).length - 1);
    for (const { line, i } of fields) {
      expect(lines[i - 1]?.trim().endsWith('*/'), `${line.trim()} has no JSDoc`).toBe(true);
    }
  });
});
