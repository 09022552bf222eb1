import t from 'tap';
import { HistoryParseError, parseJepsenLog, parseKvHistory } from '../../chaos-tests/linearizability/index.js';

const J = (body: string) => `INFO  jepsen.util - ${body}`;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

t.test('jepsen: calls, returns, times = line numbers, other lines skipped', async (t) => {
  const text = [
    'INFO  jepsen.core - Setting up',
    J('0\t:invoke\t:read\tnil'),
    J('1\t:invoke\t:write\t3'),
    J('0\t:ok\t:read\tnil'),
    J('1   :ok     :write  3'), // spaces instead of tabs occur in the files
    J('2\t:invoke\t:cas\t[3 4]'),
    J('2\t:ok\t:cas\t[3 4]'),
    J('0\t:invoke\t:read\tnil'),
    J('0\t:ok\t:read\t4'),
    'some teardown noise',
  ].join('\n');
  t.same(parseJepsenLog(text), [
    { client: 0, call: 2, ret: 4, input: { op: 'read' }, output: { value: null } },
    { client: 1, call: 3, ret: 5, input: { op: 'write', value: 3 }, output: {} },
    { client: 2, call: 6, ret: 7, input: { op: 'cas', from: 3, to: 4 }, output: { ok: true } },
    { client: 0, call: 8, ret: 9, input: { op: 'read' }, output: { value: 4 } },
  ]);
});

t.test('jepsen: :info, :fail and open calls follow the README', async (t) => {
  const text = [
    J('0\t:invoke\t:cas\t[1 2]'),
    J('0\t:fail\t:cas\t[1 2]'), // comparison failed: still an op
    J('1\t:invoke\t:write\t5'),
    J('1\t:info\t:write\t:timed-out'), // unknown outcome
    J('2\t:invoke\t:read\tnil'),
    J('2\t:fail\t:read\t:timed-out'), // unknown read: no effect, dropped
    J('2\t:invoke\t:read\tnil'), // same process may go on after a failed read
    J('3\t:invoke\t:write\t7'),
    J('3\t:fail\t:write\t7'), // definite failure, no effect: dropped
    J('4\t:invoke\t:cas\t[5 6]'), // still open at the end: unknown
  ].join('\n');
  t.same(parseJepsenLog(text), [
    { client: 0, call: 1, ret: 2, input: { op: 'cas', from: 1, to: 2 }, output: { ok: false } },
    { client: 1, call: 3, ret: Infinity, input: { op: 'write', value: 5 }, output: undefined },
    { client: 2, call: 7, ret: Infinity, input: { op: 'read' }, output: undefined },
    { client: 4, call: 10, ret: Infinity, input: { op: 'cas', from: 5, to: 6 }, output: undefined },
  ]);
});

t.test('jepsen: malformed lines are HistoryParseErrors with line numbers', async (t) => {
  const bad = (lines: string[], re: RegExp, line: number) => {
    const e = thrown(() => parseJepsenLog(lines.join('\n'), 'h.log'));
    t.type(e, HistoryParseError);
    t.match(e, { line, file: 'h.log', message: re });
    t.match((e as Error).message, new RegExp(`^h\\.log:${line}: `));
  };
  bad(['x', J('0\t:invoke\t:write\tabc')], /:write needs an integer/, 2);
  bad([J('0\t:ok\t:read\t1')], /no open call/, 1);
  bad([J('0\t:invoke\t:read\tnil'), J('0\t:invoke\t:read\tnil')], /still open/, 2);
  bad([J('0\t:invoke\t:read\tnil'), J('0\t:ok\t:write\t1')], /completes a :read call/, 2);
  bad([J('0\t:invoke\t:frob\t1')], /unknown operation :frob/, 1);
  bad([J('0\t:invoke\t:cas\t[1]')], /\[from to\]/, 1);
  bad([J('garbage')], /expected/, 1);
  bad([J('0\t:invoke\t:read\tnil'), J('0\t:ok\t:read\tx')], /nil or an integer/, 2);
});

t.test('edn kv: lines to operations', async (t) => {
  const text = [
    '{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}',
    '{:process 1, :type :invoke, :f :get, :key "4", :value nil}',
    '{:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y"}',
    '',
    '; a comment',
    '{:process 1, :type :ok, :f :get, :key "4", :value "x 0 1 y"}',
    '{:process 2, :type :invoke, :f :put, :key 7, :value "q \\"quoted\\""}',
    '{:process 2 :type :ok :f :put :key 7 :value "q \\"quoted\\""}',
    '{:process 1, :type :invoke, :f :get, :key "9", :value nil}',
    '{:process 1, :type :ok, :f :get, :key "9", :value nil}',
    '{:process 3, :type :invoke, :f :put, :key "5", :value "z"}',
  ].join('\n');
  t.same(parseKvHistory(text), [
    { client: 0, call: 1, ret: 3, input: { op: 'append', key: '4', value: 'x 0 1 y' }, output: {} },
    { client: 1, call: 2, ret: 6, input: { op: 'get', key: '4' }, output: { value: 'x 0 1 y' } },
    { client: 2, call: 7, ret: 8, input: { op: 'put', key: '7', value: 'q "quoted"' }, output: {} },
    { client: 1, call: 9, ret: 10, input: { op: 'get', key: '9' }, output: { value: '' } },
    { client: 3, call: 11, ret: Infinity, input: { op: 'put', key: '5', value: 'z' }, output: undefined },
  ]);
});

t.test('edn kv: :info is unknown, :fail is dropped', async (t) => {
  const text = [
    '{:process 0, :type :invoke, :f :put, :key "1", :value "a"}',
    '{:process 0, :type :info, :f :put, :key "1", :value "a"}',
    '{:process 1, :type :invoke, :f :append, :key "1", :value "b"}',
    '{:process 1, :type :fail, :f :append, :key "1", :value "b"}',
  ].join('\n');
  t.same(parseKvHistory(text), [{ client: 0, call: 1, ret: Infinity, input: { op: 'put', key: '1', value: 'a' }, output: undefined }]);
});

t.test('edn kv: malformed lines are HistoryParseErrors with line numbers', async (t) => {
  const bad = (lines: string[], re: RegExp, line: number) => {
    const e = thrown(() => parseKvHistory(lines.join('\n'), 'h.edn'));
    t.type(e, HistoryParseError);
    t.match(e, { line, file: 'h.edn', message: re });
  };
  const inv = '{:process 0, :type :invoke, :f :get, :key "1", :value nil}';
  bad(['INFO  jepsen.util - 0\t:invoke\t:read\tnil'], /expected '\{'/, 1);
  bad([inv, '{:process 0, :type :ok, :f :get, :key "1", :value "a"'], /key|end|expected/, 2);
  bad(['{:process "zero", :type :invoke, :f :get, :key "1"}'], /:process must be an integer/, 1);
  bad(['{:process 0, :type :invoke, :f :del, :key "1"}'], /unknown :f :del/, 1);
  bad(['{:process 0, :type :invoke, :f :put, :key "1", :value nil}'], /needs a string :value/, 1);
  bad([inv, '{:process 0, :type :ok, :f :get, :key "2", :value ""}'], /completes a different call/, 2);
  bad(['{:process 0, :type :ok, :f :get, :key "1", :value ""}'], /no open call/, 1);
  bad(['{:process 0, :type :invoke, :f :get, :key "1", :value "unterminated}'], /unterminated string/, 1);
  bad(['{:process 0, :type :invoke, :f :get, :key "1", :value 1.5}'], /unsupported value/, 1);
  bad(['{:process 0, :type :invoke, :f :get, :key "1"} trailing'], /unexpected text after the map/, 1);
  bad(['{"process" 0}'], /map keys must be keywords/, 1);
});
