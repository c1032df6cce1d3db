/**
 * JSON renderings for `permify ast` and for tests comparing models: maps become objects/arrays in source
 * order, compiled rule programs are omitted.
 */
import type { Child, Schema } from '../schema/model.js';
import type { JsonValue } from '../data/types.js';

function childToJson(c: Child): JsonValue {
  switch (c.kind) {
    case 'rewrite':
      return {
        kind: c.kind,
        operation: c.operation,
        children: [childToJson(c.children[0]), childToJson(c.children[1])],
      };
    case 'computed-user-set':
      return { kind: c.kind, relation: c.relation };
    case 'tuple-to-user-set':
      return { kind: c.kind, tupleSet: c.tupleSet, computed: c.computed };
    case 'computed-attribute':
      return { kind: c.kind, name: c.name };
    case 'call':
      return { kind: c.kind, ruleName: c.ruleName, arguments: [...c.arguments] };
  }
}

/** A plain JSON value describing the whole compiled schema (deterministic; equal models give equal JSON). */
export function schemaToJson(schema: Schema): JsonValue {
  const entities: JsonValue[] = [];
  for (const e of schema.entities.values()) {
    entities.push({
      name: e.name,
      relations: [...e.relations.values()].map((r) => ({
        name: r.name,
        references: r.references.map((t) => ({ type: t.type, relation: t.relation })),
      })),
      attributes: [...e.attributes.values()].map((a) => ({ name: a.name, type: a.type })),
      permissions: [...e.permissions.values()].map((p) => ({
        name: p.name,
        isAction: p.isAction,
        child: childToJson(p.child),
      })),
      references: Object.fromEntries(e.references),
      memberOrder: [...e.memberOrder],
    });
  }
  const rules: JsonValue[] = [...schema.rules.values()].map((r) => ({
    name: r.name,
    parameters: [...r.parameters].map(([name, type]) => ({ name, type })),
    expression: r.expression,
  }));
  return { entities, rules, references: [...schema.references].map(([name, kind]) => ({ name, kind })) };
}
