import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SnapshotConnector, snapshotRegistration } from '../../src/connectors/snapshot/connector.js';
import { ConnectorError, type IdentityConnector } from '../../src/connectors/types.js';
import { runSync } from '../../src/services/sync.js';
import { StagedSync } from '../../src/store/staged-sync.js';
import { Store } from '../../src/store/store.js';
import { TINY, TINY_AS_OF, tempDir } from '../helpers/harness.js';
import { connectorContract } from './contract.js';

/** A copy of the tiny snapshot with one bad row in users.csv. */
function brokenSnapshot(): { dir: string; cleanup: () => void } {
  const t = tempDir();
  cpSync(TINY, t.dir, { recursive: true });
  writeFileSync(
    join(t.dir, 'users.csv'),
    'id,email,name,status\nu1,ceo@example.com,Ada Chief,active\nu2,fin.lead@example.com,Fay Lead,retired\n',
  );
  return t;
}

connectorContract('snapshot', async () => {
  const broken = brokenSnapshot();
  const copy = tempDir();
  cpSync(TINY, copy.dir, { recursive: true });
  return {
    connector: new SnapshotConnector(copy.dir),
    registration: { ...snapshotRegistration, capabilities: ['sync', 'remediation'] },
    broken: new SnapshotConnector(broken.dir),
    secrets: [],
    now: new Date(TINY_AS_OF),
    decisionWrites: () => null,
    holds: () => null,
    // An admin exporting the tenant again without one of its direct grants.
    removeAccess: () => {
      const path = join(copy.dir, 'assignments.csv');
      const [header, ...rows] = readFileSync(path, 'utf8').trimEnd().split('\n');
      const i = rows.findIndex((r) => r.endsWith(',direct'));
      const [user, entitlement] = rows[i]!.split(',');
      rows.splice(i, 1);
      writeFileSync(path, `${[header, ...rows].join('\n')}\n`);
      return { user: user!, entitlement: entitlement! };
    },
    close: async () => {
      broken.cleanup();
      copy.cleanup();
    },
  };
});

describe('snapshot connector', () => {
  it('names the file, line and column of a bad row, and stages nothing', async () => {
    const broken = brokenSnapshot();
    const store = Store.open(':memory:');
    const sink = new StagedSync(store.db, 'snapshot');
    try {
      const error = await new SnapshotConnector(broken.dir)
        .sync!.run(sink, { state: null, now: new Date(TINY_AS_OF) })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).kind).toBe('config');
      expect((error as ConnectorError).message).toMatch(/users\.csv:3 \(status\): "retired" is not one of/);
    } finally {
      sink.abort();
      store.close();
      broken.cleanup();
    }
  });

  it('without a folder it has no sync and no write-back, and records removals locally', async () => {
    const c = new SnapshotConnector();
    expect(c.sync).toBeUndefined();
    expect((c as IdentityConnector).writeBack).toBeUndefined();
    const store = Store.open(':memory:');
    await expect(runSync(store, c, { now: new Date(), dormantDays: 90 })).rejects.toThrow(
      /snapshot cannot be synced/,
    );
    store.close();
    const outcome = await c.remediation.remove({
      idempotency_key: 'k',
      user_external_id: 'u1',
      entitlement_external_id: 'e1',
      entitlement_type: 'group',
      entitlement_attributes: {},
    });
    expect(outcome).toEqual({
      status: 'done',
      platform_ref: null,
      detail: 'removed from the local store; listed for attest export remediation',
    });
  });
});
