import { z } from 'zod';

/** Platforms a record can come from. `snapshot` is the CSV import, the embedded default. */
export const platformSchema = z.enum(['snapshot', 'okta', 'entra', 'ping']);
export type Platform = z.infer<typeof platformSchema>;

export const userStatusSchema = z.enum(['active', 'suspended', 'deprovisioned']);
export const employeeTypeSchema = z.enum(['employee', 'contractor', 'service']);
export const entitlementTypeSchema = z.enum(['group', 'app', 'role']);
export const sensitivitySchema = z.enum(['low', 'medium', 'high', 'critical']);
export const severitySchema = z.enum(['low', 'medium', 'high', 'critical']);
export const assignmentSourceSchema = z.enum(['direct', 'group', 'rule']);
export const campaignStatusSchema = z.enum(['active', 'closed']);
export const itemStatusSchema = z.enum(['pending', 'proposed', 'decided']);
export const decisionValueSchema = z.enum(['approve', 'revoke', 'escalate']);
export const pastDecisionValueSchema = z.enum(['approve', 'revoke']);
export const riskLevelSchema = z.enum(['low', 'medium', 'high', 'critical']);

export type UserStatus = z.infer<typeof userStatusSchema>;
export type EmployeeType = z.infer<typeof employeeTypeSchema>;
export type EntitlementType = z.infer<typeof entitlementTypeSchema>;
export type Sensitivity = z.infer<typeof sensitivitySchema>;
export type Severity = z.infer<typeof severitySchema>;
export type AssignmentSource = z.infer<typeof assignmentSourceSchema>;
export type CampaignStatus = z.infer<typeof campaignStatusSchema>;
export type ItemStatus = z.infer<typeof itemStatusSchema>;
export type DecisionValue = z.infer<typeof decisionValueSchema>;
export type RiskLevel = z.infer<typeof riskLevelSchema>;

/** The columns of users.csv in the snapshot format, in order; anything else is an extra attribute. */
export const userSnapshotColumns = [
  'id',
  'email',
  'name',
  'department',
  'title',
  'manager_id',
  'location',
  'status',
  'employee_type',
  'hired_at',
  'terminated_at',
  'contract_end',
] as const;

/** The columns of entitlements.csv in the snapshot format, in order. */
export const entitlementSnapshotColumns = [
  'id',
  'name',
  'type',
  'app',
  'privileged',
  'sensitivity',
  'owner_id',
  'description',
] as const;

/** Columns of entitlements.csv that are not columns of the entitlements table. */
export const entitlementSnapshotExtraColumns = ['includes'] as const;

/** Stable signal codes (see the tool contract). */
export const signalCodes = [
  'dormant',
  'never_used',
  'mover',
  'peer_outlier',
  'redundant',
  'privileged',
  'sod_conflict',
  'orphaned',
  'contractor_expired',
  'use_after_end',
  'self_review',
] as const;
export const signalCodeSchema = z.enum(signalCodes);
export type SignalCode = z.infer<typeof signalCodeSchema>;

export const signalSchema = z.object({
  code: signalCodeSchema,
  detail: z.string(),
});
export type Signal = z.infer<typeof signalSchema>;

export const evidenceSchema = z.object({
  kind: z.string().describe('What the data point is, e.g. last_use, peer_prevalence, hr_change'),
  value: z.union([z.string(), z.number(), z.boolean(), z.null()]),
  source: z
    .string()
    .describe('Where it came from: activity, hr_changes, assignments, peers, decisions, sod_rules'),
  at: z.string().nullable().describe('When the data point was observed (ISO 8601), if known'),
});
export type Evidence = z.infer<typeof evidenceSchema>;

export const recommendationSchema = z.object({
  decision: decisionValueSchema,
  confidence: z.number().min(0).max(1),
  rationale: z.string(),
  evidence: z.array(evidenceSchema).optional(),
});
export type Recommendation = z.infer<typeof recommendationSchema>;

export const riskSchema = z.object({
  score: z.number().int().min(0).max(100),
  level: riskLevelSchema,
  signals: z.array(signalSchema),
});
export type Risk = z.infer<typeof riskSchema>;

/** A user as stored. */
export interface User {
  id: string;
  platform: Platform;
  external_id: string;
  email: string | null;
  name: string | null;
  department: string | null;
  title: string | null;
  manager_id: string | null;
  location: string | null;
  status: UserStatus;
  employee_type: EmployeeType;
  hired_at: string | null;
  terminated_at: string | null;
  contract_end: string | null;
  last_sign_in: string | null;
  attributes: Record<string, string>;
}

/** An entitlement (group, app assignment or role) as stored. */
export interface Entitlement {
  id: string;
  platform: Platform;
  external_id: string;
  name: string;
  type: EntitlementType;
  app: string | null;
  privileged: boolean;
  sensitivity: Sensitivity;
  owner_id: string | null;
  description: string | null;
  attributes: Record<string, string>;
}

export interface Assignment {
  user_id: string;
  entitlement_id: string;
  granted_at: string | null;
  source: AssignmentSource;
  /** For an inherited assignment: the entitlement it comes through. */
  via: string | null;
}

export interface AppUsage {
  app: string;
  first_used: string | null;
  last_used: string | null;
  sign_ins: number;
  failed: number;
}

export interface HrChange {
  user_id: string;
  field: string;
  from: string | null;
  to: string | null;
  at: string;
}

export interface SodRule {
  id: string;
  name: string;
  severity: Severity;
  left: string[];
  right: string[];
}

export interface Campaign {
  id: string;
  platform: Platform;
  external_id: string;
  name: string;
  status: CampaignStatus;
  created_at: string;
  due_at: string | null;
}

export interface PastDecision {
  user_id: string;
  entitlement_id: string;
  decision: 'approve' | 'revoke';
  decided_at: string | null;
  reviewer_id: string | null;
  campaign_id: string | null;
}

export const userSummarySchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  department: z.string().nullable(),
  title: z.string().nullable(),
  manager_id: z.string().nullable(),
  status: userStatusSchema,
  employee_type: employeeTypeSchema,
});
export type UserSummary = z.infer<typeof userSummarySchema>;

export const entitlementSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  type: entitlementTypeSchema,
  app: z.string().nullable(),
  privileged: z.boolean(),
  sensitivity: sensitivitySchema,
});
export type EntitlementSummary = z.infer<typeof entitlementSummarySchema>;

export const proposalSummarySchema = z.object({
  proposal_id: z.string(),
  decision: decisionValueSchema,
  rationale: z.string(),
  proposed_by: z.string(),
  proposed_at: z.string(),
});

export const decisionSummarySchema = z.object({
  decision: decisionValueSchema,
  decided_by: z
    .string()
    .describe(
      'The human who confirmed the decision (or the platform reviewer; policy:<class> for an automatic one)',
    ),
  decided_at: z.string(),
  proposed_by: z.string().nullable().describe('Who drafted it (propose_decision)'),
  submitted_by: z.string().nullable().describe('Who submitted the batch (submit_decision)'),
  confirmation: z
    .object({
      id: z.string(),
      channel: z.string(),
      confirmed_by: z.string(),
      confirmed_at: z.string(),
      assurance: z
        .enum(['host-attested', 'human-verified', 'policy'])
        .nullable()
        .describe(
          'host-attested: a form the MCP host showed; human-verified: the terminal or the console; policy: no human, a policy class whose backtest cleared its bar',
        ),
    })
    .nullable(),
});

export const campaignItemSchema = z.object({
  item_id: z.string(),
  campaign_id: z.string(),
  status: itemStatusSchema,
  reviewer_id: z.string().nullable(),
  user: userSummarySchema,
  entitlement: entitlementSummarySchema,
  risk: riskSchema,
  recommendation: recommendationSchema.nullable(),
  proposal: proposalSummarySchema.nullable(),
  decision: decisionSummarySchema.nullable(),
  escalation: z
    .object({
      from_reviewer: z.string().nullable(),
      to_reviewer: z.string().nullable(),
      note: z.string(),
      escalated_by: z.string(),
      escalated_at: z.string(),
    })
    .nullable()
    .optional()
    .describe(
      "An open escalation: the item waits for the second-level reviewer, with the first reviewer's note",
    ),
});
export type CampaignItem = z.infer<typeof campaignItemSchema>;

export const campaignSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  platform: platformSchema,
  status: campaignStatusSchema,
  created_at: z.string(),
  due_at: z.string().nullable(),
  /** The platform's own id of this campaign when Attest created it there too (Okta campaign, Entra definition, AIC certification). */
  platform_campaign_id: z.string().nullable().optional(),
  counts: z.object({
    total: z.number().int(),
    pending: z.number().int(),
    proposed: z.number().int(),
    decided: z.number().int(),
  }),
});
export type CampaignSummary = z.infer<typeof campaignSummarySchema>;

export const sodConflictSchema = z.object({
  rule_id: z.string(),
  rule_name: z.string(),
  severity: severitySchema,
  user_id: z.string(),
  entitlement_ids: z.array(z.string()),
});
export type SodConflict = z.infer<typeof sodConflictSchema>;
