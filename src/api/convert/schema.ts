/**
 * The compiled schema model (src/schema/model.ts) as the wire `SchemaDefinition` of Schema/Read, and the
 * engine's Expand tree as the wire `Expand`.
 */
import { create } from '@bufbuild/protobuf';
import type { ExpandNode } from '../../engine/types.js';
import type { AttributeType, Child, Schema } from '../../schema/model.js';
import * as pb from '../gen/base/v1/base_pb.js';
import { attributeValueToAny } from './attribute-value.js';
import { ruleExpressionToCheckedExpr } from './checked-expr.js';
import { entityToProto, subjectToProto } from './data.js';

const attributeTypes: Readonly<Record<AttributeType, pb.AttributeType>> = {
  boolean: pb.AttributeType.BOOLEAN,
  'boolean[]': pb.AttributeType.BOOLEAN_ARRAY,
  string: pb.AttributeType.STRING,
  'string[]': pb.AttributeType.STRING_ARRAY,
  integer: pb.AttributeType.INTEGER,
  'integer[]': pb.AttributeType.INTEGER_ARRAY,
  double: pb.AttributeType.DOUBLE,
  'double[]': pb.AttributeType.DOUBLE_ARRAY,
};

const rewriteOperations = {
  union: pb.Rewrite_Operation.UNION,
  intersection: pb.Rewrite_Operation.INTERSECTION,
  exclusion: pb.Rewrite_Operation.EXCLUSION,
} as const;

const expandOperations = {
  union: pb.ExpandTreeNode_Operation.UNION,
  intersection: pb.ExpandTreeNode_Operation.INTERSECTION,
  exclusion: pb.ExpandTreeNode_Operation.EXCLUSION,
} as const;

function computedAttribute(name: string): pb.Argument {
  return create(pb.ArgumentSchema, {
    type: { case: 'computedAttribute', value: create(pb.ComputedAttributeSchema, { name }) },
  });
}

function childToProto(c: Child): pb.Child {
  const leaf = (type: pb.Leaf['type']): pb.Child =>
    create(pb.ChildSchema, { type: { case: 'leaf', value: create(pb.LeafSchema, { type }) } });
  switch (c.kind) {
    case 'rewrite':
      return create(pb.ChildSchema, {
        type: {
          case: 'rewrite',
          value: create(pb.RewriteSchema, {
            rewriteOperation: rewriteOperations[c.operation],
            children: c.children.map(childToProto),
          }),
        },
      });
    case 'computed-user-set':
      return leaf({ case: 'computedUserSet', value: create(pb.ComputedUserSetSchema, { relation: c.relation }) });
    case 'tuple-to-user-set':
      return leaf({
        case: 'tupleToUserSet',
        value: create(pb.TupleToUserSetSchema, {
          tupleSet: create(pb.TupleSetSchema, { relation: c.tupleSet }),
          computed: create(pb.ComputedUserSetSchema, { relation: c.computed }),
        }),
      });
    case 'computed-attribute':
      return leaf({ case: 'computedAttribute', value: create(pb.ComputedAttributeSchema, { name: c.name }) });
    case 'call':
      return leaf({
        case: 'call',
        value: create(pb.CallSchema, { ruleName: c.ruleName, arguments: c.arguments.map(computedAttribute) }),
      });
  }
}

/** The wire form of a compiled schema (maps keyed by name). */
export function schemaToProto(schema: Schema): pb.SchemaDefinition {
  const out = create(pb.SchemaDefinitionSchema, {});
  for (const [name, kind] of schema.references) {
    out.references[name] =
      kind === 'entity' ? pb.SchemaDefinition_Reference.ENTITY : pb.SchemaDefinition_Reference.RULE;
  }
  for (const [name, e] of schema.entities) {
    const def = create(pb.EntityDefinitionSchema, { name });
    for (const [rn, r] of e.relations) {
      def.relations[rn] = create(pb.RelationDefinitionSchema, {
        name: rn,
        relationReferences: r.references.map((ref) =>
          create(pb.RelationReferenceSchema, { type: ref.type, relation: ref.relation }),
        ),
      });
    }
    for (const [pn, p] of e.permissions) {
      def.permissions[pn] = create(pb.PermissionDefinitionSchema, { name: pn, child: childToProto(p.child) });
    }
    for (const [an, a] of e.attributes) {
      def.attributes[an] = create(pb.AttributeDefinitionSchema, { name: an, type: attributeTypes[a.type] });
    }
    for (const [mn, kind] of e.references) {
      def.references[mn] =
        kind === 'relation'
          ? pb.EntityDefinition_Reference.RELATION
          : kind === 'permission'
            ? pb.EntityDefinition_Reference.PERMISSION
            : pb.EntityDefinition_Reference.ATTRIBUTE;
    }
    out.entityDefinitions[name] = def;
  }
  for (const [name, r] of schema.rules) {
    const def = create(pb.RuleDefinitionSchema, { name, expression: ruleExpressionToCheckedExpr(r.expression) });
    for (const [param, type] of r.parameters) def.arguments[param] = attributeTypes[type];
    out.ruleDefinitions[name] = def;
  }
  return out;
}

/** The wire form of an Expand tree. */
export function expandToProto(node: ExpandNode): pb.Expand {
  const out = create(pb.ExpandSchema, {
    entity: entityToProto(node.entity),
    permission: node.permission,
    arguments: node.arguments.map(computedAttribute),
  });
  if (node.expand) {
    out.node = {
      case: 'expand',
      value: create(pb.ExpandTreeNodeSchema, {
        operation: expandOperations[node.expand.operation],
        children: node.expand.children.map(expandToProto),
      }),
    };
  } else if (node.leaf) {
    const l = node.leaf;
    const leaf = create(pb.ExpandLeafSchema, {});
    if (l.kind === 'subjects') {
      leaf.type = { case: 'subjects', value: create(pb.SubjectsSchema, { subjects: l.subjects.map(subjectToProto) }) };
    } else if (l.kind === 'value') {
      leaf.type = { case: 'value', value: attributeValueToAny(l.value) };
    } else {
      const values = create(pb.ValuesSchema, {});
      for (const [k, v] of l.values) values.values[k] = attributeValueToAny(v);
      leaf.type = { case: 'values', value: values };
    }
    out.node = { case: 'leaf', value: leaf };
  }
  return out;
}
