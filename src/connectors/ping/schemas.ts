import { z } from 'zod';

/**
 * The shapes Attest reads from Ping, as zod schemas: every field it uses is checked, and
 * fields it does not use pass through (loose objects), so an added field changes nothing
 * and a removed or retyped one fails the sync with its path.
 */

const id = z.string().min(1);
const str = z.string().nullish();
const ref = z.looseObject({ id });

// PingOne Platform API (reference: PingOne "SSO and Base" OpenAPI spec).

/** A collection page: `_embedded.<type>`, and `_links.next.href` while more pages exist. */
export const p1Page = z.looseObject({
  _links: z.looseObject({ next: z.looseObject({ href: z.string() }).nullish() }).nullish(),
  _embedded: z.record(z.string(), z.unknown()).nullish(),
  count: z.number().nullish(),
  size: z.number().nullish(),
});

export const p1User = z.looseObject({
  id,
  username: str,
  email: str,
  name: z.looseObject({ given: str, family: str, formatted: str }).nullish(),
  enabled: z.boolean().nullish(),
  population: ref.nullish(),
  account: z.looseObject({ status: str, canAuthenticate: z.boolean().nullish() }).nullish(),
  lifecycle: z.looseObject({ status: str }).nullish(),
  lastSignOn: z.looseObject({ at: str }).nullish(),
  createdAt: str,
  identityProvider: z.looseObject({ type: str }).nullish(),
  externalId: str,
});
export type P1User = z.infer<typeof p1User>;

export const p1Population = z.looseObject({ id, name: z.string() });

export const p1Group = z.looseObject({
  id,
  name: z.string(),
  displayName: str,
  description: str,
  population: ref.nullish(),
  /** A SCIM filter: the group is dynamic. */
  userFilter: str,
  /** GATEWAY or IDP: the group is external, managed through its source. */
  sourceType: str,
  sourceId: str,
  externalId: str,
});
export type P1Group = z.infer<typeof p1Group>;

/** An item of `…/users/{id}/memberOfGroups`: DIRECT or INDIRECT (through a nested group). */
export const p1Membership = z.looseObject({ id, name: str, type: str });

/** An item of `…/groups/{id}/memberOfGroups`: a group the group is nested in. */
export const p1Nesting = z.looseObject({ id, type: str });

export const p1RoleAssignment = z.looseObject({
  id,
  role: ref,
  scope: z.looseObject({ id, type: z.string() }),
  readOnly: z.boolean().nullish(),
});
export type P1RoleAssignment = z.infer<typeof p1RoleAssignment>;

export const p1Role = z.looseObject({ id, name: z.string(), description: str });

/** A PingOne Authorize application role. */
export const p1AppRole = z.looseObject({ id, name: z.string(), description: str });

/**
 * An item of `…/applicationRoles/{id}/users?expand=user`. The docs promise `_embedded.user`
 * with the expansion; `user` and `subject` are read too, in case the item carries the user directly.
 */
export const p1AppRoleUser = z
  .looseObject({
    _embedded: z.looseObject({ user: ref.nullish() }).nullish(),
    user: ref.nullish(),
    subject: ref.nullish(),
  })
  .refine((x) => x._embedded?.user?.id ?? x.user?.id ?? x.subject?.id, {
    message: 'no user id (_embedded.user.id)',
  });

export const p1Application = z.looseObject({
  id,
  name: z.string(),
  enabled: z.boolean().nullish(),
  accessControl: z
    .looseObject({
      role: z.looseObject({ type: str }).nullish(),
      group: z.looseObject({ type: z.string(), groups: z.array(ref) }).nullish(),
    })
    .nullish(),
});
export type P1Application = z.infer<typeof p1Application>;

export const p1Activity = z.looseObject({
  id,
  recordedAt: z.string(),
  action: z.looseObject({ type: z.string() }),
  actors: z
    .looseObject({
      user: z.looseObject({ id: str, name: str }).nullish(),
      client: z.looseObject({ id: str, name: str }).nullish(),
    })
    .nullish(),
  result: z.looseObject({ status: str }).nullish(),
});
export type P1Activity = z.infer<typeof p1Activity>;

/** The standard OAuth token response (both surfaces). */
export const tokenResponse = z.looseObject({
  access_token: z.string().min(1),
  token_type: str,
  expires_in: z.coerce.number().positive().nullish(),
});

// Advanced Identity Cloud, Identity Governance (reference: the AIC admin UI's governance API code).

/** A page of `/governance/admin/certification` and of item searches. */
export const aicPage = z.looseObject({ result: z.array(z.unknown()), totalCount: z.number().nullish() });

export const aicCertification = z.looseObject({
  id,
  name: z.string(),
  status: z.string(),
  certificationType: str,
  deadline: str,
  startDate: str,
  createdDate: str,
  description: str,
  allowExceptions: z.boolean().nullish(),
  exceptionDuration: z.number().nullish(),
});
export type AicCertification = z.infer<typeof aicCertification>;

const aicUser = z.looseObject({ id, userName: str, mail: str, givenName: str, sn: str });

export const aicItem = z.looseObject({
  id,
  user: aicUser,
  application: z.looseObject({ id: str, name: str }).nullish(),
  entitlement: z.looseObject({ id: str, displayName: str }).nullish(),
  role: z.looseObject({ id: str, name: str }).nullish(),
  descriptor: z
    .looseObject({
      idx: z.record(z.string(), z.looseObject({ displayName: str }).nullish()).nullish(),
    })
    .nullish(),
  decision: z
    .looseObject({
      certification: z
        .looseObject({
          decision: str,
          decisionDate: str,
          decisionBy: z.looseObject({ id: str, userName: str, mail: str }).nullish(),
          status: str,
          comments: z.array(z.unknown()).nullish(),
        })
        .nullish(),
    })
    .nullish(),
});
export type AicItem = z.infer<typeof aicItem>;
