import { describe, expect, it } from 'vitest';
import { PermifyError } from '../errors.js';
import {
  attributeToString,
  parseAttribute,
  parseEntity,
  parseGoFloat,
  parseRelationReference,
  parseSubject,
  parseTuple,
  tupleToString,
} from './notation.js';

function errorOf(f: () => unknown): PermifyError {
  try {
    f();
  } catch (e) {
    if (e instanceof PermifyError) return e;
    throw e;
  }
  throw new Error('expected a PermifyError');
}

describe('tuple notation', () => {
  it('parses entity, relation and subject with or without a subject relation', () => {
    expect(parseTuple('document:1#viewer@user:1')).toEqual({
      entity: { type: 'document', id: '1' },
      relation: 'viewer',
      subject: { type: 'user', id: '1', relation: '' },
    });
    expect(parseTuple('  document:1#viewer@group:eng#member ').subject).toEqual({
      type: 'group',
      id: 'eng',
      relation: 'member',
    });
    expect(parseTuple('project:1#company@company:c1#...').subject.relation).toBe('...');
  });

  it('ignores further # parts and allows a missing object relation', () => {
    expect(parseTuple('document:1#viewer#x@user:1#a#b')).toEqual({
      entity: { type: 'document', id: '1' },
      relation: 'viewer',
      subject: { type: 'user', id: '1', relation: 'a' },
    });
    expect(parseTuple('document:1@user:1').relation).toBe('');
  });

  it.each([
    ['document:1#viewer', 'invalid tuple'],
    ['document:1#viewer@user:a@b', 'invalid tuple'],
    ['document#viewer@user:1', 'invalid entity'],
    ['document:1:2#viewer@user:1', 'invalid entity'],
    [':1#viewer@user:1', 'invalid entity'],
    ['document:1#viewer@user:', 'invalid entity'],
  ])('rejects %s with %s', (text, message) => {
    const e = errorOf(() => parseTuple(text));
    expect(e.code).toBe('ERROR_CODE_INTERNAL');
    expect(e.message).toContain(message);
  });

  it('renders and round-trips', () => {
    for (const text of ['document:1#viewer@user:1', 'document:1#viewer@group:eng#member']) {
      expect(tupleToString(parseTuple(text))).toBe(text);
    }
  });

  it('parses entities, subjects and relation references', () => {
    expect(parseEntity('user:1')).toEqual({ type: 'user', id: '1' });
    expect(parseSubject('group:1#member')).toEqual({ type: 'group', id: '1', relation: 'member' });
    expect(parseRelationReference('group#member')).toEqual({ type: 'group', relation: 'member' });
    expect(parseRelationReference('user')).toEqual({ type: 'user', relation: '' });
    expect(errorOf(() => parseEntity('user')).message).toContain('invalid entity');
  });
});

describe('attribute notation', () => {
  it('parses every value type', () => {
    expect(parseAttribute('wallet:w1$tries|integer:3').value).toEqual({ type: 'integer', value: 3 });
    expect(parseAttribute('wallet:w1$funds|double:4000.5').value).toEqual({ type: 'double', value: 4000.5 });
    expect(parseAttribute('photo:x1$locked|boolean:true').value).toEqual({ type: 'boolean', value: true });
    expect(parseAttribute('photo:x1$name|string:a b').value).toEqual({ type: 'string', value: 'a b' });
    expect(parseAttribute('office:o1$subnets|string[]:10.1.0.5,,b').value).toEqual({
      type: 'string[]',
      value: ['10.1.0.5', '', 'b'],
    });
    expect(parseAttribute('document:1$levels|integer[]:1,-2,+3').value).toEqual({
      type: 'integer[]',
      value: [1, -2, 3],
    });
    expect(parseAttribute('document:1$flags|boolean[]:t,F,1,0').value).toEqual({
      type: 'boolean[]',
      value: [true, false, true, false],
    });
    expect(parseAttribute('document:1$ws|double[]:1e3,-inf,.5').value).toEqual({
      type: 'double[]',
      value: [1000, -Infinity, 0.5],
    });
  });

  it('accepts exactly the Go boolean spellings', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
      expect(parseAttribute(`a:1$b|boolean:${t}`).value.value).toBe(true);
    }
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) {
      expect(parseAttribute(`a:1$b|boolean:${f}`).value.value).toBe(false);
    }
    expect(errorOf(() => parseAttribute('a:1$b|boolean:yes')).message).toContain('failed to parse boolean');
    expect(errorOf(() => parseAttribute('a:1$b|boolean:tRUE')).message).toContain('failed to parse boolean');
  });

  it('enforces the int32 range and decimal syntax', () => {
    expect(parseAttribute('a:1$b|integer:2147483647').value.value).toBe(2147483647);
    expect(parseAttribute('a:1$b|integer:-2147483648').value.value).toBe(-2147483648);
    for (const bad of ['2147483648', '-2147483649', '1.5', '0x10', '1_000', ' 1', '']) {
      expect(() => parseAttribute(`a:1$b|integer:${bad}`)).toThrow(PermifyError);
    }
    expect(errorOf(() => parseAttribute('a:1$b|integer:2147483648')).message).toContain('failed to parse integer');
  });

  it('follows Go float syntax', () => {
    expect(parseGoFloat('3')).toBe(3);
    expect(parseGoFloat('-2.5')).toBe(-2.5);
    expect(parseGoFloat('1E-2')).toBe(0.01);
    expect(parseGoFloat('5.')).toBe(5);
    expect(parseGoFloat('+Inf')).toBe(Infinity);
    expect(parseGoFloat('-infinity')).toBe(-Infinity);
    expect(Number.isNaN(parseGoFloat('NaN'))).toBe(true);
    expect(Number.isNaN(parseGoFloat('nan'))).toBe(true);
    expect(parseGoFloat('0x1.8p1')).toBe(3);
    expect(parseGoFloat('-0x10p-4')).toBe(-1);
    for (const bad of ['', 'abc', '1e', '--1', '+nan', '1e400', 'Infinityx', '0x1.8']) {
      expect(errorOf(() => parseGoFloat(bad)).message).toContain('failed to parse double');
    }
  });

  it.each([
    ['a:1$b', 'invalid attribute'],
    ['a:1$b|', 'invalid attribute'],
    ['a:1$b|integer:1|x', 'invalid attribute'],
    ['a:1|integer:1', 'invalid entity'],
    ['a:1$b$c|integer:1', 'invalid entity'],
    ['a$b|integer:1', 'invalid attribute'],
    ['a:1$b|integer', 'invalid attribute'],
    ['a:1$b|integer:', 'invalid attribute'],
    ['a:1$b|string:x:y', 'invalid attribute'],
    ['a:1$b|float:1', 'invalid value'],
  ])('rejects %s with %s', (text, message) => {
    const e = errorOf(() => parseAttribute(text));
    expect(e.code).toBe('ERROR_CODE_INTERNAL');
    expect(e.message).toContain(message);
  });

  it('renders and round-trips', () => {
    for (const text of [
      'wallet:w1$tries|integer:3',
      'wallet:w1$funds|double:4000.5',
      'photo:x1$locked|boolean:false',
      'office:o1$subnets|string[]:10.1.0.5,10.1.0.6',
      'document:1$levels|double[]:1,+Inf,-Inf,NaN',
    ]) {
      expect(attributeToString(parseAttribute(text))).toBe(text);
    }
    expect(attributeToString(parseAttribute('a:1$b|boolean:T'))).toBe('a:1$b|boolean:true');
  });
});
