import { describe, expect, it } from 'vitest';
import { fitUsual, usualOf } from '../../src/analysis/usual.js';

const row = (entitlement: string, department: string, title: string) => ({
  features: { entitlement, department, title },
});

describe('usual features', () => {
  const rows = [
    row('crm', 'Sales', 'Rep'),
    row('crm', 'Sales', 'Lead'),
    row('crm', 'Sales', 'Rep'),
    row('crm', 'IT', 'Rep'),
    row('ledger', 'Finance', 'Rep'),
    row('ledger', 'Finance', 'Lead'),
    row('wiki', 'IT', 'Rep'),
  ];
  const fit = fitUsual(rows)!;

  it('says whether a value is the one most often seen with the entitlement', () => {
    expect(usualOf(fit.table, { entitlement: 'crm', department: 'Sales', title: 'Rep' })).toEqual({
      'usual:department': 'yes',
      'usual:title': 'yes',
    });
    expect(usualOf(fit.table, { entitlement: 'crm', department: 'IT', title: 'Lead' })).toEqual({
      'usual:department': 'no',
      'usual:title': 'no',
    });
  });

  it('compares a training row with the other rows only, as a new item is compared with all', () => {
    // The IT row of crm: the other three are Sales.
    expect(fit.perRow[3]!['usual:department']).toBe('no');
    // A Sales row of crm: two of the other three are Sales.
    expect(fit.perRow[0]!['usual:department']).toBe('yes');
    // Each ledger row has one other row, from the same department: enough to say.
    expect(fit.perRow[4]!['usual:department']).toBe('yes');
    // The wiki row has no other row: nothing to compare with.
    expect(fit.perRow[6]!['usual:department']).toBeNull();
  });

  it('knows nothing of an entitlement never seen, and compares with one seen once', () => {
    expect(usualOf(fit.table, { entitlement: 'vpn', department: 'IT', title: 'Rep' })).toEqual({
      'usual:department': null,
      'usual:title': null,
    });
    expect(
      usualOf(fit.table, { entitlement: 'wiki', department: 'IT', title: 'Rep' })['usual:department'],
    ).toBe('yes');
    expect(
      usualOf(fit.table, { entitlement: 'wiki', department: 'HR', title: 'Rep' })['usual:department'],
    ).toBe('no');
  });

  it('uses no labels and needs an entitlement feature', () => {
    expect(fitUsual([{ features: { department: 'IT' } }, { features: { department: 'HR' } }])).toBeNull();
  });
});
