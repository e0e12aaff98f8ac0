import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Rng } from './random.js';

/**
 * A tenant with a known role structure, for role mining tests and benchmarks: a birthright
 * role everyone holds, a role per department, a job role per department and title, and
 * cross-cutting project roles held by a few people of any department. Noise on top: planted
 * grants go missing at random, and people hold stray entitlements. Written as a snapshot of
 * users, entitlements and assignments only (the minimum a snapshot needs), with the truth.
 */

export interface PlantedOptions {
  users: number;
  departments?: number;
  titlesPerDepartment?: number;
  projects?: number;
  /** Chance that one planted grant is missing. */
  missing?: number;
  /** Stray entitlements per person, on average. */
  strays?: number;
  seed?: number;
}

export interface PlantedRole {
  id: string;
  entitlements: string[];
  /** Who was given the role (some miss a grant of it: they hold it only partly). */
  users: string[];
  /** The attribute that decides membership, when one does. */
  pattern: Record<string, string> | null;
}

export interface PlantedTruth {
  roles: PlantedRole[];
  assignments: number;
}

const DEPARTMENTS = [
  'Finance',
  'Sales',
  'Engineering',
  'Support',
  'Legal',
  'Marketing',
  'Operations',
  'People',
  'Security',
  'Procurement',
  'Research',
  'Facilities',
];
const LOCATIONS = ['Berlin', 'Austin', 'Leeds', 'Pune', 'Remote'];

export async function writePlantedTenant(dir: string, options: PlantedOptions): Promise<PlantedTruth> {
  const rng = new Rng(options.seed ?? 7, 1);
  const nDept = Math.min(options.departments ?? 8, DEPARTMENTS.length);
  const nTitles = options.titlesPerDepartment ?? 3;
  const nProjects = options.projects ?? 5;
  const missing = options.missing ?? 0.03;
  const strays = options.strays ?? 0.5;

  const ents: Array<{ id: string; name: string; app: string }> = [];
  const newEnts = (prefix: string, app: string, n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `${prefix}-${i + 1}`;
      ents.push({ id, name: `${app} ${prefix} ${i + 1}`, app });
      out.push(id);
    }
    return out;
  };
  const roles: PlantedRole[] = [];
  const birthright: PlantedRole = {
    id: 'birthright',
    entitlements: newEnts('base', 'Workplace', 3),
    users: [],
    pattern: null,
  };
  roles.push(birthright);
  const deptRoles: PlantedRole[] = [];
  const jobRoles: PlantedRole[][] = [];
  for (let d = 0; d < nDept; d++) {
    const dept = DEPARTMENTS[d]!;
    const r: PlantedRole = {
      id: `dept-${d + 1}`,
      entitlements: newEnts(`d${d + 1}`, `${dept} Suite`, rng.int(4, 6)),
      users: [],
      pattern: { department: dept },
    };
    deptRoles.push(r);
    roles.push(r);
    jobRoles.push([]);
    for (let t = 0; t < nTitles; t++) {
      const j: PlantedRole = {
        id: `job-${d + 1}-${t + 1}`,
        entitlements: newEnts(`d${d + 1}t${t + 1}`, `${dept} Suite`, rng.int(2, 4)),
        users: [],
        pattern: { title: `${dept} Title ${t + 1}` },
      };
      jobRoles[d]!.push(j);
      roles.push(j);
    }
  }
  const projects: PlantedRole[] = [];
  for (let p = 0; p < nProjects; p++) {
    const r: PlantedRole = {
      id: `project-${p + 1}`,
      entitlements: newEnts(`p${p + 1}`, 'Projects', 3),
      users: [],
      pattern: null,
    };
    projects.push(r);
    roles.push(r);
  }
  const strayPool = newEnts('stray', 'Misc', 60);
  const everything = ents.map((e) => e.id);

  const users = createWriteStream(join(dir, 'users.csv'));
  const assignments = createWriteStream(join(dir, 'assignments.csv'));
  users.write('id,name,email,department,title,location\n');
  assignments.write('user_id,entitlement_id\n');
  let count = 0;
  for (let u = 0; u < options.users; u++) {
    const id = `u${u + 1}`;
    const d = rng.int(0, nDept - 1);
    const t = rng.int(0, nTitles - 1);
    const dept = DEPARTMENTS[d]!;
    users.write(
      `${id},Person ${u + 1},p${u + 1}@example.com,${dept},${dept} Title ${t + 1},${rng.pick(LOCATIONS)}\n`,
    );
    const given = [birthright, deptRoles[d]!, jobRoles[d]![t]!];
    for (const p of projects) if (rng.chance(0.06)) given.push(p);
    const held = new Set<string>();
    for (const r of given) {
      r.users.push(id);
      for (const e of r.entitlements) if (!rng.chance(missing)) held.add(e);
    }
    let extra = 0;
    while (rng.chance(strays / (1 + strays)) && extra < 6) {
      held.add(rng.chance(0.7) ? rng.pick(strayPool) : rng.pick(everything));
      extra++;
    }
    for (const e of [...held].sort()) {
      if (!assignments.write(`${id},${e}\n`))
        await new Promise<void>((r) => assignments.once('drain', () => r()));
      count++;
    }
  }
  await Promise.all([users, assignments].map((s) => new Promise<void>((r) => s.end(() => r()))));
  const entFile = createWriteStream(join(dir, 'entitlements.csv'));
  entFile.write('id,name,type,app\n');
  for (const e of ents) entFile.write(`${e.id},${e.name},group,${e.app}\n`);
  await new Promise<void>((r) => entFile.end(() => r()));
  return { roles, assignments: count };
}
