import type { Assurance, ConfirmationPolicy, ConfirmationRule } from '../config.js';
import type { Principal } from '../domain/principal.js';
import type { StateBinding } from './request-state.js';

/** The channels a human can confirm through, and what each proves. */
export const CHANNEL_ASSURANCE = {
  /** The console's own sign-in: a human authenticated apart from the agent's credentials. */
  console: 'human-verified',
  /** The terminal on the server's machine. */
  cli: 'human-verified',
  /** A form the MCP host says it showed to a person. */
  elicitation: 'host-attested',
} as const satisfies Record<string, Assurance>;
export type Channel = keyof typeof CHANNEL_ASSURANCE;

const RANK: Record<Assurance, number> = { 'host-attested': 1, 'human-verified': 2 };

/** True when an answer of assurance `given` is enough for a batch that needs `needed`. */
export function satisfies(given: Assurance, needed: Assurance): boolean {
  return RANK[given] >= RANK[needed];
}

/** What the policy looks at in one item of a batch. */
export interface PolicyItem {
  item_id: string;
  decision: 'approve' | 'revoke' | 'escalate';
  privileged: boolean;
  platform: string;
  risk_score: number;
  sensitivity: string;
}

export interface Requirement {
  level: Assurance;
  /** Why, in words for the agent and the audit log. */
  reasons: string[];
}

function matches(rule: ConfirmationRule, item: PolicyItem): boolean {
  return (
    (rule.decision === undefined || rule.decision.includes(item.decision)) &&
    (rule.privileged === undefined || rule.privileged === item.privileged) &&
    (rule.platform === undefined || (rule.platform as string[]).includes(item.platform)) &&
    (rule.min_risk === undefined || item.risk_score >= rule.min_risk) &&
    (rule.sensitivity === undefined || (rule.sensitivity as string[]).includes(item.sensitivity))
  );
}

function describeRule(rule: ConfirmationRule): string {
  const parts = [
    rule.decision ? `${rule.decision.join('/')} decisions` : 'decisions',
    rule.privileged === true
      ? 'on privileged access'
      : rule.privileged === false
        ? 'on unprivileged access'
        : '',
    rule.platform ? `on ${rule.platform.join('/')}` : '',
    rule.min_risk !== undefined ? `with risk >= ${rule.min_risk}` : '',
    rule.sensitivity ? `of ${rule.sensitivity.join('/')} sensitivity` : '',
  ].filter((p) => p !== '');
  return parts.join(' ');
}

/**
 * The assurance a batch needs: the principal's (or its role's, or the transport's)
 * default, raised by every rule an item of the batch matches. Over HTTP a token that
 * marks an interactive host counts as a local host.
 */
export function requiredAssurance(
  policy: ConfirmationPolicy,
  principal: Principal,
  transport: 'stdio' | 'http' | 'memory',
  items: PolicyItem[],
): Requirement {
  const reasons: string[] = [];
  let level: Assurance;
  const own = policy.principals[principal.id];
  const byRole = policy.roles[principal.role];
  if (own) {
    level = own;
    reasons.push(`the policy for ${principal.id} asks for ${own}`);
  } else if (byRole) {
    level = byRole;
    reasons.push(`the policy for role ${principal.role} asks for ${byRole}`);
  } else if (transport === 'http' && !principal.interactive_host) {
    level = policy.http;
    reasons.push(`over HTTP the policy asks for ${policy.http}`);
  } else {
    level = policy.stdio;
    reasons.push(
      transport === 'http'
        ? `this token's client is marked as an interactive host, so the policy asks for ${policy.stdio}`
        : `for a local host the policy asks for ${policy.stdio}`,
    );
  }
  for (const rule of policy.rules) {
    const hit = items.filter((i) => matches(rule, i));
    if (hit.length === 0 || satisfies(level, rule.require)) continue;
    level = rule.require;
    reasons.push(
      `${describeRule(rule)} need ${rule.require} (${hit.length} item${hit.length === 1 ? '' : 's'}, e.g. ${hit[0]!.item_id})`,
    );
  }
  return { level, reasons };
}

// The human-confirmation port: how the policy layer reaches the human at the client.

/** Asks the human at the client a yes/no question about a batch; resolves to their answer. */
export type AskHuman = (request: {
  message: string;
  fields: Record<string, { title: string; description: string }>;
}) => Promise<{
  action: 'accept' | 'decline' | 'cancel' | 'error' | 'timeout';
  confirmed: boolean;
  detail?: string;
}>;

/**
 * Sends the human at the client to a URL (2025-11-25 URL-mode elicitation); resolves to their
 * answer, which is consent to open the page, not an answer to what the page asks.
 */
export type SendHumanTo = (request: { message: string; url: string; id: string }) => Promise<{
  action: 'accept' | 'decline' | 'cancel' | 'error' | 'timeout';
}>;

/** A flat form of primitive fields, as elicitation takes it. */
export interface FormSchema {
  type: 'object';
  properties: Record<string, Record<string, unknown>>;
  required?: string[];
}

/** One thing a tool asks the human for before it can answer. */
export type HumanInput =
  | { kind: 'form'; message: string; schema: FormSchema }
  | { kind: 'url'; message: string; url: string; id: string };

/**
 * A tool's answer when it needs the human's input first (MCP 2026-07-28 multi-round-trip):
 * the client asks the human and calls the tool again with the same arguments, the answers and
 * the requestState. The state is minted by the pipeline, bound to the principal, the tool and
 * the arguments, with `bind` added (signed, readable by the client: never secrets).
 */
export interface NeedsInput {
  readonly needsInput: true;
  requests: Record<string, HumanInput>;
  /** Facts the retry's requestState carries back; null for a round that needs no state. */
  bind: StateBinding | null;
}

export function needsInput(requests: Record<string, HumanInput>, bind: StateBinding | null): NeedsInput {
  return { needsInput: true, requests, bind };
}

export function isNeedsInput(v: unknown): v is NeedsInput {
  return typeof v === 'object' && v !== null && (v as { needsInput?: unknown }).needsInput === true;
}
