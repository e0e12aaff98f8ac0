import type { SyncSink } from '../../domain/sync.js';
import {
  type ApplyOutcome,
  type ConnectorCapabilities,
  ConnectorError,
  type DecisionToApply,
  type IdentityConnector,
  type RemediationRequest,
  type SyncOptions,
  type SyncOutcome,
} from '../types.js';
import { readSnapshot } from './csv-import.js';

const MAX_LISTED = 5;

/**
 * A CSV tenant snapshot (see the snapshot format) as a platform. Decisions and
 * removals have no platform to go to: the caller records them in the store and
 * `attest export` lists the removals for someone to carry out.
 */
export class SnapshotConnector implements IdentityConnector {
  readonly platform = 'snapshot' as const;
  readonly capabilities: ConnectorCapabilities = {
    writeBack: false,
    // The "platform" is the local store: remediate() answers done and the caller removes the assignment.
    remediate: true,
    campaignRemediates: false,
    scopes: { sync: [], writeBack: [], remediate: [] },
  };

  /** `dir` is the snapshot folder to sync; without it the connector only applies decisions locally. */
  constructor(private readonly dir: string | null = null) {}

  async sync(sink: SyncSink, options: SyncOptions): Promise<SyncOutcome> {
    if (this.dir === null)
      throw new ConnectorError('No snapshot folder was given: use attest import DIR.', 'config');
    const report = await readSnapshot(this.dir, sink, {
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

  async applyDecision(decision: DecisionToApply): Promise<ApplyOutcome> {
    return { status: 'done', platform_ref: `snapshot:${decision.idempotency_key}` };
  }

  async remediate(_request: RemediationRequest): Promise<ApplyOutcome> {
    return {
      status: 'done',
      platform_ref: null,
      detail: 'removed from the local store; listed for attest export remediation',
    };
  }
}
