import { z } from 'zod';
import { ToolError } from '../errors.js';
import { submitChange } from '../services/changes.js';
import {
  CREATABLE_PLATFORMS,
  findMinedRole,
  type RoleSpec,
  refuseRoleOn,
  roleRequest,
  roleSummary,
} from '../services/platform-changes.js';
import { idArg } from './common.js';
import { defineTool } from './define.js';

export const proposeRole = defineTool({
  name: 'propose_role',
  title: 'Create a mined role on the platform (needs human confirmation)',
  description:
    'Creates a role found by mine_roles on its platform: on Okta a group, a group rule matching the role’s attribute ' +
    'pattern and its apps assigned to the group; on Entra a security group with a dynamic membership rule and its app ' +
    'roles assigned to the group; on Ping a PingOne group with a SCIM user filter. ' +
    'It is a write: it ALWAYS needs the human’s ' +
    'confirmation (as submit_decision), and the human sees exactly what will be created. A platform that cannot ' +
    'express the role safely is refused before anyone is asked. Call again with change_id to learn the result.',
  kind: 'write',
  input: z.object({
    change_id: idArg('change_id')
      .optional()
      .describe('A change returned earlier: reports whether it is applied'),
    role_id: z.string().min(1).max(64).optional().describe('A role_id from mine_roles (with platform)'),
    platform: z
      .enum(CREATABLE_PLATFORMS)
      .optional()
      .describe('The platform to create it on (the role is mined there)'),
    name: z
      .string()
      .trim()
      .min(1)
      .max(120)
      .optional()
      .describe('The group name (default: derived from the role)'),
  }),
  output: z.object({
    status: z.enum(['applied', 'awaiting_confirmation', 'rejected', 'failed']),
    change_id: z.string(),
    plan: z.array(z.string()).describe('Exactly what is created on the platform'),
    platform_id: z.string().nullable().describe('The id of the group created, once applied'),
    confirmation: z
      .object({
        id: z.string(),
        channel: z.string(),
        assurance: z.enum(['host-attested', 'human-verified']).optional(),
        required_assurance: z.enum(['host-attested', 'human-verified']).optional(),
        command: z.string().optional(),
        url: z.string().optional(),
        expires_at: z.string().optional(),
      })
      .nullable(),
    message: z.string(),
  }),
  async handle(args, ctx) {
    if (ctx.principal.role !== 'admin')
      throw new ToolError('Creating roles is for admins. Nothing was created.', 'forbidden');
    const repo = ctx.store.changes;
    let changeId = args.change_id;
    let plan: string[] = [];
    if (changeId === undefined) {
      if (!args.role_id || !args.platform)
        throw new ToolError(
          'Pass role_id and platform (or change_id). Nothing was created. Find role ids with mine_roles.',
          'bad_input',
        );
      const role = findMinedRole(ctx.store, args.platform, args.role_id);
      if (!role)
        throw new ToolError(
          `role_id: no mined role "${args.role_id}" on ${args.platform} (the data may have changed). Nothing was created. Call mine_roles with platform ${args.platform}.`,
          'not_found',
        );
      const spec: RoleSpec = {
        role_id: role.role_id,
        name: args.name ?? `Attest ${role.role_id}`,
        platform: args.platform,
        entitlement_ids: role.entitlement_ids,
        pattern: role.pattern ?? {},
        member_ids: role.user_ids,
      };
      const connector = ctx.connectorFor?.(args.platform) ?? null;
      const request = roleRequest(ctx.store, spec, 'preview');
      const refused = refuseRoleOn(connector, args.platform, request);
      if (refused)
        throw new ToolError(
          `This role cannot be created on ${args.platform}: ${refused}. Nothing was created and nobody was asked.`,
          'bad_input',
        );
      plan = connector!.roles!.plan(request);
      const summary = roleSummary(spec, plan);
      changeId = ctx.store.transaction(() => {
        const c = repo.create({
          kind: 'create_role',
          platform: args.platform!,
          spec: { ...spec, plan } as unknown as Record<string, unknown>,
          summary,
          proposed_by: ctx.principal.id,
          proposed_at: ctx.now().toISOString(),
        });
        ctx.auditDetail({ change: { id: c.id, kind: c.kind, summary } });
        return c.id;
      });
    } else {
      const c = repo.get(changeId);
      if (c?.kind === 'create_role') plan = ((c.spec.plan as string[] | undefined) ?? []).slice();
    }
    const r = await submitChange(
      {
        store: ctx.store,
        config: ctx.config,
        now: ctx.now,
        principal: ctx.principal,
        transport: ctx.session.transport,
        askHuman: ctx.askHuman,
        recordEvent: ctx.recordEvent,
        confirmCommand: ctx.confirmCommand,
        confirmUrl: ctx.confirmUrl,
        applyChanges: ctx.applyOutbox,
        auditDetail: ctx.auditDetail,
      },
      changeId,
    );
    return {
      status: r.status,
      change_id: r.change_id,
      plan,
      platform_id: (r.result?.platform_id as string | undefined) ?? null,
      confirmation: r.confirmation,
      message: r.message,
    };
  },
  text: (r) =>
    `${r.status}: ${r.message}${r.platform_id ? ` Created ${r.platform_id}.` : ''}\nPlan (quoted values are data):\n${r.plan.map((l) => `- ${l}`).join('\n')}`,
});
