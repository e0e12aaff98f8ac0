import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SnapshotConnector } from '../../src/connectors/snapshot/connector.js';
import { ConnectorError } from '../../src/connectors/types.js';
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
  return {
    connector: new SnapshotConnector(TINY),
    broken: new SnapshotConnector(broken.dir),
    secrets: [],
    now: new Date(TINY_AS_OF),
    decisionWrites: () => null,
    holds: () => null,
    close: async () => broken.cleanup(),
  };
});

describe('snapshot connector', () => {
  it('names the file, line and column of a bad row, and stages nothing', async () => {
    const broken = brokenSnapshot();
    const store = Store.open(':memory:');
    const sink = new StagedSync(store.db, 'snapshot');
    try {
      const error = await new SnapshotConnector(broken.dir)
        .sync(sink, { state: null, now: new Date(TINY_AS_OF) })
        .catch((e) => e);
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).kind).toBe('config');
      expect((error as ConnectorError).message).toMatch(/users\.csv:3 \(status\): "retired" is not one of/);
    } finally {
      sink.abort();
      store.close();
      broken.cleanup();
    }
  });

  it('without a folder it only applies decisions locally', async () => {
    const c = new SnapshotConnector();
    const store = Store.open(':memory:');
    const sink = new StagedSync(store.db, 'snapshot');
    await expect(c.sync(sink, { state: null, now: new Date() })).rejects.toThrow(/No snapshot folder/);
    sink.abort();
    store.close();
    const outcome = await c.remediate({
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
