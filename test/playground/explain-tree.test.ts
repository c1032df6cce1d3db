/**
 * The explain view's model against a sample Explain response written to the contract (docs/explain.md):
 * every node kind gets its title, outcome and detail lines (tuples, attributes, rule evaluation, missing
 * leaves, notes), and the tree keeps its shape and order.
 */
import { describe, expect, it } from 'vitest';
import { describeNode, explainText, type ExplainResponse } from '../../playground/src/explain-model.js';
import { expandText } from '../../playground/src/expand-model.js';

const doc1 = { type: 'document', id: '1' };

const SAMPLE: ExplainResponse = {
  can: 'CHECK_RESULT_DENIED',
  metadata: { snap_token: 'AgAAAAAAAAA=', schema_version: 'cs7abc', check_count: 6, depth: 50 },
  root: {
    kind: 'EXPLAIN_NODE_KIND_PERMISSION',
    entity: doc1,
    name: 'view',
    expression: '(viewer or parent.view) and not banned and is_open(open)',
    outcome: 'EXPLAIN_OUTCOME_DENIED',
    cached: false,
    tuples: [],
    attributes: [],
    missing: [],
    note: '',
    children: [
      {
        kind: 'EXPLAIN_NODE_KIND_INTERSECTION',
        entity: doc1,
        expression: '(viewer or parent.view) and not banned and is_open(open)',
        outcome: 'EXPLAIN_OUTCOME_DENIED',
        children: [
          {
            kind: 'EXPLAIN_NODE_KIND_UNION',
            entity: doc1,
            expression: 'viewer or parent.view',
            outcome: 'EXPLAIN_OUTCOME_ALLOWED',
            children: [
              {
                kind: 'EXPLAIN_NODE_KIND_RELATION',
                entity: doc1,
                name: 'viewer',
                outcome: 'EXPLAIN_OUTCOME_ALLOWED',
                tuples: [
                  {
                    tuple: {
                      entity: doc1,
                      relation: 'viewer',
                      subject: { type: 'group', id: 'eng', relation: 'member' },
                    },
                    contextual: false,
                  },
                ],
                children: [
                  {
                    kind: 'EXPLAIN_NODE_KIND_SUBJECT',
                    entity: { type: 'group', id: 'eng' },
                    name: 'member',
                    expression: 'group:eng#member@user:x',
                    outcome: 'EXPLAIN_OUTCOME_ALLOWED',
                    cached: true,
                    tuples: [
                      {
                        tuple: {
                          entity: { type: 'group', id: 'eng' },
                          relation: 'member',
                          subject: { type: 'user', id: 'x', relation: '' },
                        },
                        contextual: true,
                      },
                    ],
                  },
                ],
              },
              {
                kind: 'EXPLAIN_NODE_KIND_WALK',
                entity: doc1,
                name: 'parent',
                expression: 'parent.view',
                outcome: 'EXPLAIN_OUTCOME_SKIPPED',
              },
            ],
          },
          {
            kind: 'EXPLAIN_NODE_KIND_EXCLUSION',
            entity: doc1,
            expression: 'not banned',
            outcome: 'EXPLAIN_OUTCOME_DENIED',
            children: [
              {
                kind: 'EXPLAIN_NODE_KIND_RELATION',
                entity: doc1,
                name: 'banned',
                outcome: 'EXPLAIN_OUTCOME_ALLOWED',
                tuples: [
                  { tuple: { entity: doc1, relation: 'banned', subject: { type: 'user', id: 'x', relation: '' } } },
                ],
              },
            ],
          },
          {
            kind: 'EXPLAIN_NODE_KIND_RULE_CALL',
            entity: doc1,
            name: 'is_open',
            expression: 'is_open(open)',
            outcome: 'EXPLAIN_OUTCOME_DENIED',
            attributes: [
              {
                entity: doc1,
                attribute: 'open',
                value: { '@type': 'type.googleapis.com/base.v1.BooleanValue' },
                contextual: false,
              },
            ],
            rule: { name: 'is_open', arguments: { open: false }, context_data: { hour: 3 }, result: false, error: '' },
            missing: ['document:1$open|boolean:true'],
          },
          {
            kind: 'EXPLAIN_NODE_KIND_ATTRIBUTE',
            entity: doc1,
            name: 'archived',
            outcome: 'EXPLAIN_OUTCOME_DEPTH_EXHAUSTED',
            attributes: [{ entity: doc1, attribute: 'archived', value: null }],
            note: 'depth exhausted at document:1#view -> folder:2#view',
          },
        ],
      },
    ],
  },
};

describe('explain tree view model', () => {
  it('renders the sample response as an indented tree with every detail', () => {
    expect(explainText(SAMPLE.root!)).toEqual([
      '[denied] permission document:1#view = (viewer or parent.view) and not banned and is_open(open)',
      '  [denied] and (viewer or parent.view) and not banned and is_open(open)',
      '    [allowed] or viewer or parent.view',
      '      [allowed] relation document:1#viewer',
      '          tuple document:1#viewer@group:eng#member',
      '        [allowed] subject group:eng#member@user:x (cached)',
      '            tuple group:eng#member@user:x (contextual)',
      '      [skipped] walk document:1 parent.view',
      '    [denied] not not banned',
      '      [allowed] relation document:1#banned',
      '          tuple document:1#banned@user:x',
      '    [denied] rule is_open(open)',
      '        attribute document:1$open = false',
      '        rule is_open: arguments {"open":false}, context data {"hour":3} -> false',
      '        missing document:1$open|boolean:true',
      '    [depth exhausted] attribute document:1$archived',
      '        attribute document:1$archived = (no value: default)',
      '        note: depth exhausted at document:1#view -> folder:2#view',
    ]);
  });

  it('classifies outcomes for the view and tolerates zero values left out of the JSON', () => {
    expect(
      describeNode({
        outcome: 'EXPLAIN_OUTCOME_CYCLE',
        kind: 'EXPLAIN_NODE_KIND_PERMISSION',
        entity: doc1,
        name: 'view',
        note: 'document:1#view -> document:1#view',
      }),
    ).toEqual({
      kind: 'permission',
      title: 'document:1#view',
      outcome: 'cycle',
      outcomeClass: 'cycle',
      cached: false,
      details: ['note: document:1#view -> document:1#view'],
    });
    expect(describeNode({})).toMatchObject({ kind: 'node', outcome: '?', outcomeClass: 'unknown', details: [] });
    expect(
      describeNode({
        kind: 'EXPLAIN_NODE_KIND_RULE_CALL',
        rule: { name: 'r', error: 'no such key: x' },
        outcome: 'EXPLAIN_OUTCOME_ERROR',
      }).details,
    ).toEqual(['rule r: arguments {}, context data {} -> false', 'rule error: no such key: x']);
  });
});

describe('expand tree view model', () => {
  it('renders operations, subject leaves, attribute values and rule calls', () => {
    const doc = { type: 'doc', id: '1' };
    expect(
      expandText({
        entity: doc,
        permission: 'view',
        expand: {
          operation: 'OPERATION_UNION',
          children: [
            {
              entity: doc,
              permission: 'view',
              expand: {
                operation: 'OPERATION_EXCLUSION',
                children: [
                  {
                    entity: doc,
                    permission: 'owner',
                    leaf: {
                      subjects: {
                        subjects: [
                          { type: 'user', id: 'a', relation: '' },
                          { type: 'group', id: 'g', relation: 'member' },
                        ],
                      },
                    },
                  },
                  { entity: doc, permission: 'banned', leaf: { subjects: { subjects: [] } } },
                ],
              },
            },
            {
              entity: doc,
              permission: 'public',
              leaf: { value: { '@type': 'type.googleapis.com/base.v1.BooleanValue', data: true } },
            },
            {
              entity: doc,
              permission: 'gt_one',
              leaf: { values: { values: { level: { '@type': 'type.googleapis.com/base.v1.IntegerValue' } } } },
            },
          ],
        },
      }),
    ).toEqual([
      'doc:1#view or',
      '  doc:1#view not',
      '    doc:1#owner -> user:a, group:g#member',
      '    doc:1#banned -> (no subjects)',
      '  doc:1#public = true',
      '  doc:1#gt_one(level=0)',
    ]);
  });
});
