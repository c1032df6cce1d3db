/**
 * Printers of the compiled model: canonical schema text ({@link printSchema}) and per-statement definitions
 * ({@link printDefinitions}, spec §6) as stored by schema stores and recompiled by the engine.
 */
import type { Child, EntityDefinition, RuleDefinition, Schema } from '../schema/model.js';

const indent = '    ';

function leaf(c: Exclude<Child, { kind: 'rewrite' }>): string {
  switch (c.kind) {
    case 'computed-user-set':
      return c.relation;
    case 'tuple-to-user-set':
      return `${c.tupleSet}.${c.computed}`;
    case 'computed-attribute':
      return c.name;
    case 'call':
      return `${c.ruleName}(${c.arguments.join(', ')})`;
  }
}

const operatorWord = { union: 'or', intersection: 'and', exclusion: 'not' } as const;

/**
 * Renders an expression. Canonical form omits parentheses the left-associative single-level grammar does not
 * need (left operands); `full` wraps every rewrite in parentheses. Iterative over the left spine.
 */
export function printChild(child: Child, full: boolean): string {
  const spine: Extract<Child, { kind: 'rewrite' }>[] = [];
  let cur = child;
  while (cur.kind === 'rewrite') {
    spine.push(cur);
    cur = cur.children[0];
  }
  let text = leaf(cur);
  for (let i = spine.length - 1; i >= 0; i--) {
    const node = spine[i];
    if (node === undefined) continue;
    const right = node.children[1];
    const r =
      right.kind === 'rewrite' ? (full ? printChild(right, true) : `(${printChild(right, false)})`) : leaf(right);
    text = `${text} ${operatorWord[node.operation]} ${r}`;
    if (full) text = `(${text})`;
  }
  return text;
}

function printEntity(e: EntityDefinition, full: boolean): string {
  const lines: string[] = [];
  for (const name of e.memberOrder) {
    const kind = e.references.get(name);
    if (kind === 'relation') {
      const r = e.relations.get(name);
      if (r === undefined) continue;
      const types = r.references.map((t) => (t.relation === '' ? `@${t.type}` : `@${t.type}#${t.relation}`));
      lines.push(`${indent}relation ${name} ${types.join(' ')}`);
    } else if (kind === 'attribute') {
      const a = e.attributes.get(name);
      if (a !== undefined) lines.push(`${indent}attribute ${name} ${a.type}`);
    } else if (kind === 'permission') {
      const p = e.permissions.get(name);
      if (p !== undefined) {
        lines.push(`${indent}${p.isAction ? 'action' : 'permission'} ${name} = ${printChild(p.child, full)}`);
      }
    }
  }
  if (lines.length === 0) return `entity ${e.name} {}`;
  return `entity ${e.name} {\n${lines.join('\n')}\n}`;
}

function printRule(r: RuleDefinition): string {
  const params = [...r.parameters].map(([n, t]) => `${n} ${t}`).join(', ');
  return `rule ${r.name}(${params}) {\n${indent}${r.expression}\n}`;
}

/**
 * Canonical schema text: statements in source order separated by a blank line, 4-space indentation, minimal
 * parentheses. `compileSchema(printSchema(s))` yields a model equal to `s`.
 */
export function printSchema(schema: Schema): string {
  const parts: string[] = [];
  for (const [name, kind] of schema.references) {
    if (kind === 'entity') {
      const e = schema.entities.get(name);
      if (e !== undefined) parts.push(printEntity(e, false));
    } else {
      const r = schema.rules.get(name);
      if (r !== undefined) parts.push(printRule(r));
    }
  }
  return parts.length === 0 ? '' : `${parts.join('\n\n')}\n`;
}

/** One stored definition: a top-level statement rendered on its own. */
export interface SchemaDefinitionRecord {
  readonly name: string;
  readonly definition: string;
}

/**
 * One record per entity and rule in source order, each a normalised rendering with fully parenthesised
 * expressions. Joining the definitions with `\n` and compiling without reference validation gives back an
 * equal model.
 */
export function printDefinitions(schema: Schema): SchemaDefinitionRecord[] {
  const out: SchemaDefinitionRecord[] = [];
  for (const [name, kind] of schema.references) {
    if (kind === 'entity') {
      const e = schema.entities.get(name);
      if (e !== undefined) out.push({ name, definition: printEntity(e, true) });
    } else {
      const r = schema.rules.get(name);
      if (r !== undefined) out.push({ name, definition: printRule(r) });
    }
  }
  return out;
}
