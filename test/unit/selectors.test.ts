import test from 'ava';
import { fieldMatcher, labelMatcher, parseLabelSelector } from '../../src/api/selectors.js';
import { ApiError } from '../../src/store/errors.js';

const obj = (labels: Record<string, string>, nodeName = 'n1') => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', labels }, spec: { nodeName } });

test('equality, inequality, set and existence requirements', (t) => {
  const m = labelMatcher('app=web,tier!=db,env in (prod, staging),!legacy,release')!;
  t.true(m(obj({ app: 'web', tier: 'fe', env: 'prod', release: '1' })));
  t.false(m(obj({ app: 'web', tier: 'db', env: 'prod', release: '1' })));
  t.false(m(obj({ app: 'web', env: 'dev', release: '1' })));
  t.false(m(obj({ app: 'web', env: 'prod', release: '1', legacy: 'y' })));
  t.false(m(obj({ app: 'web', env: 'prod' })));
  t.true(labelMatcher('env notin (prod)')!(obj({})));
  t.true(labelMatcher('app==web')!(obj({ app: 'web' })));
});

test('a malformed selector is a 400 naming the requirement', (t) => {
  const e = t.throws(() => parseLabelSelector('app=web,=oops'), { instanceOf: ApiError })!;
  t.is(e.code, 400);
  t.regex(e.message, /unable to parse requirement: found '=oops'/);
});

test('field selectors support the pod fields kubectl uses and refuse others', (t) => {
  t.true(fieldMatcher('spec.nodeName=n1,metadata.name=p')!(obj({})));
  t.false(fieldMatcher('spec.nodeName!=n1')!(obj({})));
  t.regex(t.throws(() => fieldMatcher('spec.bogus=1'))!.message, /field label not supported: spec.bogus/);
});
