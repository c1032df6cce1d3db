/**
 * A deterministic, Google-Docs-like dataset for benchmarks: organizations, nested groups (chains up to depth 4),
 * folders nested through `parent` (chains up to depth 5) and documents, plus a `public` boolean attribute on a
 * small share of documents.
 *
 * The same `{ tuples, seed }` always yields the same data in the same order (a seeded mulberry32 PRNG; no
 * `Math.random`). Exactly `tuples` distinct tuples are returned: the structural tuples are emitted first
 * (organizations, groups, folders, documents, in that order; truncated when the budget is small) and the rest of
 * the budget is filled with extra viewer/editor grants on documents and folders.
 *
 * The signature of {@link generateGoogleDocsDataset} is a contract for the other benchmarks; keep it stable.
 */
import type { Attribute, Entity, Subject, Tuple } from '../../src/data/types.js';

/** The schema of the dataset (Permify schema language). */
export const googleDocsSchema = `entity user {}

entity organization {
    relation admin @user
    relation member @user
    permission manage = admin
}

entity group {
    relation organization @organization
    relation manager @user
    relation member @user @group#member
    permission manage = manager or organization.admin
}

entity folder {
    relation organization @organization
    relation parent @folder
    relation owner @user
    relation editor @user @group#member
    relation viewer @user @group#member
    permission edit = owner or editor or parent.edit or organization.admin
    permission view = viewer or edit or parent.view
}

entity document {
    relation organization @organization
    relation parent @folder
    relation owner @user
    relation editor @user @group#member
    relation viewer @user @group#member @organization#member
    attribute public boolean
    permission edit = owner or editor or parent.edit or organization.admin
    permission view = viewer or edit or parent.view or public
    permission delete = owner or organization.admin
}
`;

export interface GoogleDocsOptions {
  /** Exact number of distinct tuples to produce (≥ 0). */
  readonly tuples: number;
  /** PRNG seed; default 42. */
  readonly seed?: number;
  /** Number of sample checks to draw; default 1000. */
  readonly sampleChecks?: number;
}

/** One check the benchmarks can issue (shape of the engine's BulkCheckItem). */
export interface GoogleDocsCheck {
  readonly entity: Entity;
  readonly permission: string;
  readonly subject: Subject;
}

export interface GoogleDocsDataset {
  readonly schema: string;
  readonly tuples: Tuple[];
  readonly attributes: Attribute[];
  /** Sample checks over documents and folders (mixed permissions, random users). */
  readonly sampleChecks: GoogleDocsCheck[];
  /** Ids (without type) of every generated entity, by type. */
  readonly users: string[];
  readonly organizations: string[];
  readonly groups: string[];
  readonly folders: string[];
  readonly documents: string[];
}

/** mulberry32: tiny, fast, good enough for test data; deterministic across platforms. */
export function createPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GROUP_CHAIN_DEPTH = 4;
const FOLDER_CHAIN_DEPTH = 5;

/**
 * Generates the dataset. Entity counts scale with `tuples` (about 1 user per 20 tuples, 1 organization per
 * 20 000, 1 group per 200, 1 folder per 40, 1 document per 8).
 */
export function generateGoogleDocsDataset(options: GoogleDocsOptions): GoogleDocsDataset {
  const budget = Math.max(0, Math.floor(options.tuples));
  const random = createPrng(options.seed ?? 42);
  const pick = (n: number): number => Math.floor(random() * n);

  const userCount = Math.max(10, Math.floor(budget / 20));
  const orgCount = Math.max(1, Math.floor(budget / 20_000));
  const groupCount = Math.max(GROUP_CHAIN_DEPTH, Math.floor(budget / 200));
  const folderCount = Math.max(FOLDER_CHAIN_DEPTH, Math.floor(budget / 40));
  const documentCount = Math.max(2, Math.floor(budget / 8));

  const users = ids('u', userCount);
  const organizations = ids('o', orgCount);
  const groups = ids('g', groupCount);
  const folders = ids('f', folderCount);
  const documents = ids('d', documentCount);

  const tuples: Tuple[] = [];
  const seen = new Set<string>();
  const add = (type: string, id: string, relation: string, subject: Subject): boolean => {
    if (tuples.length >= budget) return false;
    const key = `${type}:${id}#${relation}@${subject.type}:${subject.id}#${subject.relation}`;
    if (seen.has(key)) return true;
    seen.add(key);
    tuples.push({ entity: { type, id }, relation, subject });
    return true;
  };
  const user = (i: number): Subject => ({ type: 'user', id: users[i] as string, relation: '' });
  const randomUser = (): Subject => user(pick(userCount));
  const groupMembers = (g: number): Subject => ({ type: 'group', id: groups[g] as string, relation: 'member' });
  const orgOf = (i: number): number => i % orgCount;

  // Organizations: two admins each; every user is a member of one organization.
  for (let o = 0; o < orgCount; o++) {
    add('organization', organizations[o] as string, 'admin', randomUser());
    add('organization', organizations[o] as string, 'admin', randomUser());
  }
  for (let u = 0; u < userCount; u++) {
    add('organization', organizations[u % orgCount] as string, 'member', user(u));
  }

  // Groups: chains of GROUP_CHAIN_DEPTH, where group k+1 is a member-set of group k (nesting depth 4).
  for (let g = 0; g < groupCount; g++) {
    const id = groups[g] as string;
    add('group', id, 'organization', { type: 'organization', id: organizations[orgOf(g)] as string, relation: '' });
    add('group', id, 'manager', randomUser());
    for (let k = 0; k < 6; k++) add('group', id, 'member', randomUser());
    if (g % GROUP_CHAIN_DEPTH !== GROUP_CHAIN_DEPTH - 1 && g + 1 < groupCount) {
      add('group', id, 'member', groupMembers(g + 1));
    }
  }

  // Folders: chains of FOLDER_CHAIN_DEPTH through `parent` (recursion depth 5); roots belong to an organization.
  for (let f = 0; f < folderCount; f++) {
    const id = folders[f] as string;
    const level = f % FOLDER_CHAIN_DEPTH;
    if (level === 0) {
      add('folder', id, 'organization', { type: 'organization', id: organizations[orgOf(f)] as string, relation: '' });
    } else {
      add('folder', id, 'parent', { type: 'folder', id: folders[f - 1] as string, relation: '' });
    }
    add('folder', id, 'owner', randomUser());
    add('folder', id, 'editor', randomUser());
    add('folder', id, 'viewer', groupMembers(pick(groupCount)));
  }

  // Documents: in a folder (preferably a deep one), owned by a user, shared with a user and a group.
  for (let d = 0; d < documentCount; d++) {
    const id = documents[d] as string;
    add('document', id, 'parent', { type: 'folder', id: folders[pick(folderCount)] as string, relation: '' });
    add('document', id, 'owner', randomUser());
    add('document', id, 'viewer', randomUser());
    add('document', id, 'editor', groupMembers(pick(groupCount)));
    if (d % 50 === 0) {
      add('document', id, 'viewer', {
        type: 'organization',
        id: organizations[pick(orgCount)] as string,
        relation: 'member',
      });
    }
  }

  // Fill the rest of the budget with extra grants. Bounded attempts guard against a tiny id space.
  let attempts = 0;
  while (tuples.length < budget && attempts < budget * 20 + 1000) {
    attempts++;
    const r = random();
    if (r < 0.7) {
      add('document', documents[pick(documentCount)] as string, r < 0.5 ? 'viewer' : 'editor', randomUser());
    } else if (r < 0.85) {
      add('folder', folders[pick(folderCount)] as string, 'viewer', randomUser());
    } else {
      add('group', groups[pick(groupCount)] as string, 'member', randomUser());
    }
  }
  seen.clear();

  const attributes: Attribute[] = [];
  for (let d = 0; d < documentCount; d += 20) {
    attributes.push({
      entity: { type: 'document', id: documents[d] as string },
      attribute: 'public',
      value: { type: 'boolean', value: d % 40 === 0 },
    });
  }

  const sampleChecks: GoogleDocsCheck[] = [];
  const checkCount = options.sampleChecks ?? 1000;
  const documentPermissions = ['view', 'edit', 'delete', 'viewer'];
  const folderPermissions = ['view', 'edit'];
  for (let i = 0; i < checkCount; i++) {
    const onDocument = random() < 0.8;
    sampleChecks.push(
      onDocument
        ? {
            entity: { type: 'document', id: documents[pick(documentCount)] as string },
            permission: documentPermissions[pick(documentPermissions.length)] as string,
            subject: randomUser(),
          }
        : {
            entity: { type: 'folder', id: folders[pick(folderCount)] as string },
            permission: folderPermissions[pick(folderPermissions.length)] as string,
            subject: randomUser(),
          },
    );
  }

  return {
    schema: googleDocsSchema,
    tuples,
    attributes,
    sampleChecks,
    users,
    organizations,
    groups,
    folders,
    documents,
  };
}

function ids(prefix: string, n: number): string[] {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = `${prefix}${i}`;
  return out;
}
