/**
 * The Go-template subset of `--format` (src/cli/format/go-template.ts),
 * against what Go's text/template (and docker's functions) print for the
 * same template and value. The expected strings are Go's output; the
 * docker CLI's own output on the same objects is compared in
 * test/api/docker-cli.test.ts.
 */
import t from 'tap';
import { execTemplate, parseTemplate } from '../../src/cli/format/go-template.js';

const run = (tpl: string, v: unknown) => execTemplate(parseTemplate(tpl), v);
const svc = {
  ID: 'abc',
  Spec: { Name: 'web', Labels: { b: '2', a: '1' }, Mode: { Replicated: { Replicas: 3 } }, TaskTemplate: { ContainerSpec: { Args: ['sleep', '60'], Env: [] as string[] } } },
};

t.test('fields, chains, and how Go prints values', async (t) => {
  t.equal(run('{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}}', svc), 'web 3');
  t.equal(run('{{.Spec.Labels}}', svc), 'map[a:1 b:2]', 'a map: sorted keys, map[k:v]');
  t.equal(run('{{.Spec.TaskTemplate.ContainerSpec.Args}}', svc), '[sleep 60]', 'a list: [a b]');
  t.equal(run('{{.Spec.Nope}}', svc), '<no value>', 'a missing key');
  t.equal(run('{{.Spec.Nope.Deeper}}', svc), '<no value>');
  t.equal(run('x{{.}}y', 'v'), 'xvy');
  t.equal(run('{{/* a comment */}}ok', {}), 'ok');
});

t.test("docker's functions, called and piped", async (t) => {
  t.equal(run('{{json .Spec.Labels}}', svc), '{"b":"2","a":"1"}');
  t.equal(run('{{.Spec.Labels | json}}', svc), '{"b":"2","a":"1"}', 'a pipe gives the last argument');
  t.equal(run('{{json .Spec.Nope}}', svc), 'null');
  t.equal(run('{{upper .Spec.Name}}/{{lower "AB"}}/{{title "hello world"}}', svc), 'WEB/ab/Hello World');
  t.equal(run('{{join .Spec.TaskTemplate.ContainerSpec.Args ","}}', svc), 'sleep,60');
  t.equal(run('{{index .Spec.Labels "a"}} {{index .Spec.TaskTemplate.ContainerSpec.Args 1}}', svc), '1 60');
  t.equal(run('{{len .Spec.Labels}} {{len .Spec.TaskTemplate.ContainerSpec.Args}}', svc), '2 2');
  t.equal(run('{{split "a:b" ":"}}', {}), '[a b]');
  t.equal(run('{{truncate .ID 2}}|{{pad .ID 1 2}}|', svc), 'ab| abc  |');
  t.equal(run('{{println .ID .Spec.Name}}', svc), 'abc web\n');
});

t.test('if, range, variables and trim markers', async (t) => {
  t.equal(run('{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}};{{end}}', svc), 'a=1;b=2;', 'a map ranges in key order');
  t.equal(run('{{range .Spec.TaskTemplate.ContainerSpec.Args}}<{{.}}>{{end}}', svc), '<sleep><60>');
  t.equal(run('{{range $i, $a := .Spec.TaskTemplate.ContainerSpec.Args}}{{$i}}:{{$a}} {{end}}', svc), '0:sleep 1:60 ');
  t.equal(run('{{range .Spec.TaskTemplate.ContainerSpec.Env}}x{{else}}none{{end}}', svc), 'none', 'range over nothing runs else');
  t.equal(run('{{if .Spec.Labels}}labelled{{else}}bare{{end}} {{if .Spec.Nope}}y{{else}}n{{end}}', svc), 'labelled n');
  t.equal(run('{{if .Mode.Global}}global{{else}}replicated{{end}}', { Mode: { Global: {} } }), 'global', 'an empty object is a set struct: true, as in docker');
  t.equal(run('{{if .A}}y{{else}}n{{end}}{{if .B}}y{{else}}n{{end}}{{if .C}}y{{else}}n{{end}}', { A: [], B: 0, C: '' }), 'nnn');
  t.equal(run('{{range .Spec.TaskTemplate.ContainerSpec.Args}}{{$.Spec.Name}}{{end}}', svc), 'webweb', '$ is the top value');
  t.equal(run('a  {{- .ID -}}  b', svc), 'aabcb');
});

t.test('what is outside the subset, or malformed, is one clear error', async (t) => {
  t.throws(() => run('{{.ID', svc), /--format: unclosed action/);
  t.throws(() => run('{{if .ID}}x', svc), /--format: missing \{\{end\}\}/);
  t.throws(() => run('{{end}}', svc), /--format: \{\{end\}\} without an open/);
  t.throws(() => run('{{with .Spec}}{{.Name}}{{end}}', svc), /--format: \{\{with\}\} is not in the supported subset/);
  t.throws(() => run('{{frobnicate .ID}}', svc), /--format: function "frobnicate" is not defined \(supported: json/);
  t.throws(() => run('{{$x}}', svc), /--format: undefined variable \$x/);
  t.throws(() => run('{{.ID | .Spec}}', svc), /cannot pipe into a value/);
  t.throws(() => run('{{.ID.X}}', svc), /can't evaluate field X in a string/);
});
