/**
 * An expected failure the model can act on. The message says what happened, what
 * did not happen and what to do next. Anything else thrown by a handler is a bug:
 * the policy layer logs it and answers "Internal error (ref …)".
 */
export class ToolError extends Error {
  override name = 'ToolError';
  constructor(
    message: string,
    /** Machine-readable reason, recorded in the audit log as the outcome detail. */
    readonly code:
      | 'bad_input'
      | 'not_found'
      | 'forbidden'
      | 'read_only'
      | 'conflict'
      | 'unconfirmed'
      | 'expired'
      | 'upstream'
      /** Not served by this store's backend yet (a tool on PostgreSQL). */
      | 'unavailable' = 'bad_input',
  ) {
    super(message);
  }
}
