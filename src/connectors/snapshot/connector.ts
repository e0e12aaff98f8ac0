import type { SyncSink } from '../../domain/sync.js';
import {
  type ApplyOutcome,
  ConnectorError,
  type ConnectorRegistration,
  type IdentityConnector,
  type RemediationCapability,
  type SyncCapability,
  type SyncOptions,
  type SyncOutcome,
} from '../types.js';
import { readSnapshot } from './csv-import.js';

const MAX_LISTED = 5;

/**
 * A CSV tenant snapshot (see the snapshot format) as a platform. Decisions have no
 * platform review to go to (no write-back: the store records them), and a removal is
 * local: the caller removes the assignment and `attest export remediation` lists it for
 * someone to carry out.
 */
export class SnapshotConnector implements IdentityConnector {
  readonly platform = 'snapshot' as const;
  /** Present only when there is a folder to read. */
  readonly sync?: SyncCapability;
  readonly remediation: RemediationCapability = {
    permissions: [],
    remove: async (): Promise<ApplyOutcome> => ({
      status: 'done',
      platform_ref: null,
      detail: 'removed from the local store; listed for attest export remediation',
    }),
  };

  /** `dir` is the snapshot folder to sync; without it the connector only records removals locally. */
  constructor(private readonly dir: string | null = null) {
    if (dir !== null) this.sync = { permissions: [], run: (sink, options) => this.read(sink, options) };
  }

  private async read(sink: SyncSink, options: SyncOptions): Promise<SyncOutcome> {
    const report = await readSnapshot(this.dir!, sink, {
      onProgress: (done, total, file) => options.onProgress?.({ phase: `read ${file}`, done, total }),
    });
    if (report.totalIssues > 0) {
      const listed = report.issues
        .slice(0, MAX_LISTED)
        .map(
          (i) => `${i.file}${i.line > 0 ? `:${i.line}` : ''}${i.column ? ` (${i.column})` : ''}: ${i.reason}`,
        );
      const more = report.totalIssues - listed.length;
      throw new ConnectorError(
        `The snapshot has ${report.totalIssues} problem(s); nothing was loaded. ${listed.join('; ')}` +
          (more > 0 ? `; and ${more} more.` : '.'),
        'config',
      );
    }
    return { state: {}, fullAssignments: true, warnings: [], requests: 0 };
  }
}

/** Snapshot items need no settings: a folder is imported with `attest import DIR`. */
export const snapshotRegistration: ConnectorRegistration<Record<string, never>> = {
  name: 'snapshot',
  title: 'CSV snapshot',
  capabilities: ['remediation'],
  settings: {
    variables: [],
    read: () => ({}),
    secrets: () => [],
    missing: 'nothing: load a folder with attest import DIR',
  },
  create: () => new SnapshotConnector(),
};
