import type { AuditEntry } from '../../src/store/audit.js';

/** A minimal audit entry for tests of the log itself; `over` replaces any field. */
export const auditEntry = (over: Partial<AuditEntry> = {}): AuditEntry => ({
  at: '2026-11-28T10:00:00.000Z',
  principal: 'p',
  client_name: null,
  client_version: null,
  session_id: null,
  transport: null,
  tool: 't',
  kind: 'read',
  arguments: {},
  outcome: 'ok',
  error: null,
  duration_ms: 0,
  details: null,
  ...over,
});
