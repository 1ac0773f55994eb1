// Builds filters with react-querybuilder's own functions, the way a
// builder UI holds them, and writes one JSON line per case to stdout:
//
//   {"name": ..., "ui": "<filter JSON as the UI holds it>",
//    "typed": "<the same meaning in the typed form>"}     (an equivalence)
//   {"name": ..., "ui": ..., "model": "<name>"}            (checked against a
//                                                           model in tests/rqb.rs)
//   {"name": ..., "ui": ..., "error": "<part of the message>"}
//   {"name": ..., "ui": ..., "typed": ..., "export": true} (the typed form is
//                                                           exactly what the crate
//                                                           exports)
//
// tests/rqb.rs reads them (tests/rqb/cases.jsonl is the checked-in copy;
// .ci/run regenerates it with the pinned package and compares). Only the
// typed forms are written by hand here; every "ui" form comes out of the
// package's functions: prepareRuleGroup, update, formatQuery, convertToIC,
// convertFromIC, joinWith, toArray.

import * as R from '@react-querybuilder/core';

const out = [];
// Ids as a UI would give them, but the same on every run, so that the
// checked-in copy of the cases can be compared with a fresh one.
let nextId = 0;
const ids = { idGenerator: () => `id-${++nextId}` };
const prepare = (q) => R.prepareRuleGroup(q, ids);
const text = (q) => JSON.stringify(q, R.bigIntJsonStringifyReplacer);
// As a UI saves it: formatQuery's JSON (ids, BigInts as {"$bigint": ...}).
const saved = (q) => R.formatQuery(prepare(q), 'json');
const savedNoIds = (q) => R.formatQuery(q, 'json_without_ids');
const and = (...rules) => ({ combinator: 'and', rules });
const or = (...rules) => ({ combinator: 'or', rules });
const rule = (field, operator, value, extra = {}) => ({ field, operator, value, ...extra });

const same = (name, ui, typed) => out.push({ name, ui: typeof ui === 'string' ? ui : text(ui), typed: typeof typed === 'string' ? typed : text(typed) });
const model = (name, ui) => out.push({ name, ui: typeof ui === 'string' ? ui : text(ui), model: name });
const error = (name, ui, message) => out.push({ name, ui: typeof ui === 'string' ? ui : text(ui), error: message });

// --- Values as text inputs produce them -----------------------------------
same('int as text', saved(and(rule('nps', '<', '7'))), and(rule('nps', '<', 7)));
same('int as padded text', saved(and(rule('nps', '>=', ' 8 '))), and(rule('nps', '>=', 8)));
same('float as padded text', saved(and(rule('health', '>=', ' 2.5 '))), and(rule('health', '>=', 2.5)));
same('float field, integer text', saved(and(rule('health', '<', '30'))), and(rule('health', '<', 30)));
same('negative float text', saved(and(rule('mrr', '>', '-12.75'))), and(rule('mrr', '>', -12.75)));
same('int != text', saved(and(rule('seats', '!=', '3'))), and(rule('seats', '!=', 3)));
same('bool true as text', saved(and(rule('paying', '=', 'true'))), and(rule('paying', '=', true)));
same('bool false as text', saved(and(rule('trial', '!=', 'false'))), and(rule('trial', '!=', false)));
same('number for a string field', saved(and(rule('plan', '=', 123))), and(rule('plan', '=', '123')));
same(
  'bigint through formatQuery',
  saved(and(rule('seats', '=', 9007199254740993n))),
  '{"combinator":"and","rules":[{"field":"seats","operator":"=","value":9007199254740993}]}',
);
same(
  'bigint in a list',
  saved(and(rule('seats', 'in', [1n, 9007199254740993n]))),
  '{"combinator":"and","rules":[{"field":"seats","operator":"in","value":[1,9007199254740993]}]}',
);

// Lists: joined as a UI's text input joins them (joinWith escapes commas).
same('between as text', saved(and(rule('nps', 'between', R.joinWith(['3', '8'], ',')))), and(rule('nps', 'between', [3, 8])));
same('notBetween as text', saved(and(rule('health', 'notBetween', '0.5, 50.25'))), and(rule('health', 'notBetween', [0.5, 50.25])));
same('between as array of text', saved(and(rule('seats', 'between', ['2', '9']))), and(rule('seats', 'between', [2, 9])));
same('in as text', saved(and(rule('plan', 'in', R.joinWith(['pro', 'free'], ',')))), and(rule('plan', 'in', ['pro', 'free'])));
same('in with an escaped comma', saved(and(rule('plan', 'in', R.joinWith(['a,b', 'pro'], ',')))), and(rule('plan', 'in', ['a,b', 'pro'])));
same('in, empty items dropped', saved(and(rule('plan', 'in', 'pro, ,free,'))), and(rule('plan', 'in', R.toArray('pro, ,free,'))));
same('notIn one scalar', saved(and(rule('plan', 'notIn', 'pro'))), and(rule('plan', 'notIn', ['pro'])));
same('in one number', saved(and(rule('nps', 'in', 7))), and(rule('nps', 'in', [7])));
same('in numbers as text', saved(and(rule('nps', 'in', '7, 8,9'))), and(rule('nps', 'in', [7, 8, 9])));
same('containsAny as text', saved(and(rule('tags', 'containsAny', 'x, y'))), and(rule('tags', 'containsAny', ['x', 'y'])));
same('containsAll as text', saved(and(rule('tags', 'containsAll', R.joinWith(['x', 'y'], ',')))), and(rule('tags', 'containsAll', ['x', 'y'])));
same('containsNone as text', saved(and(rule('tags', 'containsNone', 'z'))), and(rule('tags', 'containsNone', ['z'])));

// Timestamps from datetime-local and date inputs: UTC.
same('datetime-local', saved(and(rule('renewal_at', '<', '2026-11-22T12:00'))), and(rule('renewal_at', '<', '2026-11-22T12:00:00Z')));
same('datetime-local with seconds', saved(and(rule('renewal_at', '<=', '2026-11-22T12:00:30'))), and(rule('renewal_at', '<=', '2026-11-22T12:00:30Z')));
same('date', saved(and(rule('renewal_at', '>=', '2026-11-22'))), and(rule('renewal_at', '>=', '2026-11-22T00:00:00Z')));
same(
  'between dates as text',
  saved(and(rule('signup_at', 'between', '2026-01-01, 2026-06-30T23:59'))),
  and(rule('signup_at', 'between', ['2026-01-01T00:00:00Z', '2026-06-30T23:59:00Z'])),
);

// --- Members a UI adds ------------------------------------------------------
{
  const q = prepare(and(rule('nps', '<', 7), or(rule('plan', '=', 'pro'), rule('paying', '=', true)), rule('seats', '>', 2)));
  same('ids and paths', text(q), and(rule('nps', '<', 7), or(rule('plan', '=', 'pro'), rule('paying', '=', true)), rule('seats', '>', 2)));
  same('disabled rule', text(R.update(q, 'disabled', true, [0])), and(rule('nps', '<', 7), or(rule('plan', '=', 'pro'), rule('paying', '=', true)), rule('seats', '>', 2)));
  same('disabled group', text(R.update(q, 'disabled', true, [1])), and(rule('nps', '<', 7), or(rule('plan', '=', 'pro'), rule('paying', '=', true)), rule('seats', '>', 2)));
  same('muted rule', text(R.update(q, 'muted', true, [0])), and(or(rule('plan', '=', 'pro'), rule('paying', '=', true)), rule('seats', '>', 2)));
  same('muted group', text(R.update(q, 'muted', true, [1])), and(rule('nps', '<', 7), rule('seats', '>', 2)));
  same('muted nested rule', savedNoIds(R.update(q, 'muted', true, [1, 0])), and(rule('nps', '<', 7), or(rule('paying', '=', true)), rule('seats', '>', 2)));
  same('muted root', text(R.update(q, 'muted', true, [])), and());
  same('value source value', text(R.update(q, 'valueSource', 'value', [0])), and(rule('nps', '<', 7), or(rule('plan', '=', 'pro'), rule('paying', '=', true)), rule('seats', '>', 2)));
  same('not on a group', text(R.update(q, 'not', true, [1])), and(rule('nps', '<', 7), { ...or(rule('plan', '=', 'pro'), rule('paying', '=', true)), not: true }, rule('seats', '>', 2)));
}

// --- Independent combinators: RQB's own convertToIC / convertFromIC ---------
{
  const groups = [
    and(rule('nps', '<', 7), rule('plan', '=', 'pro'), rule('paying', '=', true)),
    or(rule('nps', '<', 7), and(rule('plan', '=', 'pro'), rule('seats', '>', 2)), rule('tags', 'containsAny', ['x'])),
    { combinator: 'xor', rules: [rule('nps', '<', 7), rule('paying', '=', true), rule('health', '>', 50)] },
    { ...and(rule('nps', '>', 3), or(rule('plan', '=', 'free'), rule('plan', 'null'))), not: true },
  ];
  groups.forEach((g, i) => same(`convertToIC ${i}`, text(R.convertToIC(prepare(g))), g));
  const a = rule('nps', '<', 7), b = rule('plan', '=', 'pro'), c = rule('paying', '=', true), d = rule('health', '>', 50), e = rule('seats', '>=', 4);
  const sequences = [
    [a, 'and', b, 'or', c],
    [a, 'or', b, 'and', c],
    [a, 'or', b, 'and', c, 'or', d],
    [a, 'and', b, 'xor', c, 'or', d, 'and', e],
    [a, 'xor', b, 'xor', c],
    [a, 'or', b, 'xor', c, 'and', d],
    [a, 'and', { rules: [b, 'or', c] }, 'or', d],
    [a],
  ];
  sequences.forEach((rules, i) => same(`independent ${i}`, text(prepare({ rules })), text(R.convertFromIC({ rules }))));
  // Muting a node in an independent group: RQB's exports drop the
  // combinator before it (after it, for the first node).
  const ic = prepare({ rules: [a, 'and', b, 'or', c, 'and', d] });
  same('independent, muted middle', text(R.update(ic, 'muted', true, [2])), text(R.convertFromIC({ rules: [a, 'or', c, 'and', d] })));
  same('independent, muted first', text(R.update(ic, 'muted', true, [0])), text(R.convertFromIC({ rules: [b, 'or', c, 'and', d] })));
  same('independent, muted last', text(R.update(ic, 'muted', true, [6])), text(R.convertFromIC({ rules: [a, 'and', b, 'or', c] })));
}

// --- xor: an odd number of children, checked against an expansion ----------
{
  const not = (g) => ({ ...g, not: !g.not });
  const xor2 = (x, y) => or(and(x, not(and(y))), and(not(and(x)), y));
  const a = rule('nps', '<', 7), b = rule('paying', '=', true), c = rule('tags', 'containsAny', ['x']);
  same('xor of two', saved({ combinator: 'xor', rules: [a, b] }), xor2(and(a), and(b)));
  same('xor of three', saved({ combinator: 'xor', rules: [a, b, c] }), xor2(xor2(and(a), and(b)), and(c)));
  same('empty xor', saved({ combinator: 'xor', rules: [] }), or());
  same('not xor', saved({ combinator: 'xor', not: true, rules: [a, b] }), not(xor2(and(a), and(b))));
}

// --- Field against field ---------------------------------------------------
{
  const f = (field, operator, value) => rule(field, operator, value, { valueSource: 'field' });
  model('field nps < seats', saved(and(f('nps', '<', 'seats'))));
  model('field nps != seats', saved(and(f('nps', '!=', 'seats'))));
  model('field health >= mrr', saved(and(f('health', '>=', 'mrr'))));
  model('field nps = health', saved(and(f('nps', '=', 'health'))));
  model('field renewal_at > signup_at', saved(and(f('renewal_at', '>', 'signup_at'))));
  model('field plan = tier', saved(and(f('plan', '=', 'tier'))));
  model('field plan != tier', saved(and(f('plan', '!=', 'tier'))));
  model('field plan beginsWith tier', saved(and(f('plan', 'beginsWith', 'tier'))));
  model('field paying = trial', saved(and(f('paying', '=', 'trial'))));
  model('field health between nps,mrr', saved(and(f('health', 'between', 'nps,mrr'))));
  model('field health notBetween nps,mrr', saved(and(f('health', 'notBetween', ['nps', 'mrr']))));
  model('field nps in seats,health', saved(and(f('nps', 'in', R.joinWith(['seats', 'health'], ',')))));
  model('field nps notIn seats,health', saved(and(f('nps', 'notIn', ['seats', 'health']))));
  error('field of another type', saved(and(f('nps', '<', 'plan'))), 'comparable');
  error('field unknown', saved(and(f('nps', '<', 'nope'))), 'unknown field `nope`');
}

// --- Match modes on a tags field --------------------------------------------
{
  const m = (mode, threshold, ...rules) => rule('tags', '=', and(...rules.map((r) => ({ ...r, field: 'tags' }))), { match: threshold === undefined ? { mode } : { mode, threshold } });
  const x = rule('tags', '=', 'x'), bx = rule('tags', 'beginsWith', 'x'), inxy = rule('tags', 'in', ['x', 'y']);
  for (const mode of ['some', 'all', 'none']) {
    model(`match ${mode} = x`, saved(and(m(mode, undefined, x))));
    model(`match ${mode} beginsWith x`, saved(and(m(mode, undefined, bx))));
    model(`match ${mode} in x,y`, saved(and(m(mode, undefined, inxy))));
  }
  for (const mode of ['atLeast', 'atMost', 'exactly']) {
    for (const t of [0, 1, 2, 0.5]) {
      model(`match ${mode} ${t} in x,y`, saved(and(m(mode, t, inxy))));
    }
  }
  same('match some = x is containsAny', saved(and(m('some', undefined, x))), and(rule('tags', 'containsAny', ['x'])));
  same('match none = x is containsNone', saved(and(m('none', undefined, x))), and(rule('tags', 'containsNone', ['x'])));
  error('match threshold not a count', saved(and(m('atLeast', 1.5, x))), 'threshold');
  error('match on an int field', saved(and(rule('nps', '=', and(rule('nps', '=', 1)), { match: { mode: 'some' } }))), 'not supported');
}

// --- Unfinished and unsupported input stays an error ------------------------
error('placeholder field', saved(and(R.prepareRule({ field: R.defaultPlaceholderFieldName, operator: "=", value: 1 }, ids))), 'unfinished');
error('placeholder operator', saved(and(R.prepareRule({ field: "nps", operator: R.defaultPlaceholderOperatorName, value: 1 }, ids))), 'unfinished');
error('placeholder value', saved(and(rule('plan', '=', R.defaultPlaceholderValueName))), 'unfinished');
error('empty value', saved(and(rule('nps', '<', ''))), 'unfinished');
error('empty list text', saved(and(rule('plan', 'in', ''))), 'unfinished');
error('list of nothing', saved(and(rule('plan', 'in', ' , '))), 'the list is empty');
error('not a number', saved(and(rule('nps', '<', 'seven'))), 'field `nps`');
error('number with trailing text', saved(and(rule('nps', '<', '7 apples'))), 'expected a number');
error('between low > high', saved(and(rule('nps', 'between', '8,3'))), 'low bound 8 is greater than high bound 3');
error('between of three', saved(and(rule('nps', 'between', '1,2,3'))), '[low, high]');
error('valueSource expression', saved(and(rule('nps', '<', 'seats', { valueSource: 'expression' }))), 'not supported');
error('operator the type does not take', saved(and(rule('plan', '<', 'pro'))), 'does not apply');
error('bad date', saved(and(rule('renewal_at', '<', '2026-13-01'))), 'field `renewal_at`');
error('independent, trailing combinator', text({ rules: [rule('nps', '<', 7), 'and'] }), 'needs a rule after it');

// --- Export: the typed form loads into RQB and comes back the same ----------
{
  const exported = [
    and(rule('nps', '<', 7), { combinator: 'or', not: true, rules: [rule('plan', 'in', ['pro', 'a,b']), rule('renewal_at', 'between', ['2026-01-01T00:00:00Z', '2026-12-31T00:00:00Z'])] }),
    { combinator: 'xor', rules: [rule('paying', '=', true), rule('tags', 'containsAll', ['x', 'y'])] },
    and(rule('nps', '<', 'seats', { valueSource: 'field' }), rule('health', 'between', ['nps', 'mrr'], { valueSource: 'field' })),
    and({ field: 'tags', operator: '=', match: { mode: 'atLeast', threshold: 2 }, value: and(rule('tags', 'beginsWith', 'x')) }),
    and(rule('plan', 'contains', 'PR', { caseInsensitive: true }), rule('tier', 'matchesRegex', '^(gold|silver)$')),
    and(rule('plan', 'null'), rule('seats', 'notBetween', [1, 3]), rule('health', '>=', 2.5)),
  ];
  exported.forEach((q, i) => {
    if (!R.isRuleGroupType(q)) throw new Error(`export ${i} is not a rule group to RQB`);
    out.push({ name: `export ${i}`, ui: saved(q), typed: text(q), export: true });
    out.push({ name: `export ${i} through IC`, ui: text(R.convertFromIC(R.convertToIC(prepare(q)))), typed: text(q) });
  });
}

for (const c of out) process.stdout.write(JSON.stringify(c) + '\n');
