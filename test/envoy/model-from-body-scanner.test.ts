/**
 * The body-routing filter's JSON scanner (src/envoy/model-from-body-json.ts), run by LuaJIT 2.1 (Envoy's Lua
 * runtime) with the JIT on and off, on the edge cases of RFC 8259 a hand-written scanner gets wrong: each body
 * gives the model name or the key of the answer the filter would give. Every body is scanned twice in a row,
 * as two requests with the same body would be (the scanner remembers where the next backslash is).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JSON_SCANNER_LUA, MAX_JSON_DEPTH, MODEL_NAME_MAX_LENGTH } from '../../src/envoy/model-from-body-json.ts';
import { luaString } from '../../src/envoy/model-from-body.ts';
import { describeWithTool, luajitBinary } from '../support/tools.ts';

const nested = (depth: number) => `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)},"model":"chat"}`;
const long = (length: number) => `a${'b'.repeat(length - 1)}`;

/** [body, model name or answer key]. */
const CASES: [string, string][] = [
  ['{"model":"chat"}', 'chat'],
  [' \n\t{ "model" : "chat" }\r\n ', 'chat'],
  ['{"messages":[{"role":"user","content":"hi"}],"model":"chat","max_tokens":16}', 'chat'],
  ['{"messages":[{"model":"other"}],"tools":{"model":"other"},"model":"chat"}', 'chat'],
  ['{"messages":[{"model":"chat"}],"options":{"model":"chat"}}', 'missing'],
  ['{"content":"\\"model\\": \\"other\\"","model":"chat"}', 'chat'],
  ['{"mod\\u0065l":"ch\\u0061t"}', 'chat'],
  ['{"a":"\\\\","model":"chat"}', 'chat'],
  ['{"a":"x\\\\\\"y","b":"plain","model":"ch\\u0061t"}', 'chat'],
  ['{"model":"a\\/b"}', 'a/b'],
  ['{"model":"a:b/c.d_e-f"}', 'a:b/c.d_e-f'],
  ['{"model":"caf\\u00e9"}', 'invalid'],
  ['{"model":"a\\nb"}', 'invalid'],
  ['{"model":"bad name"}', 'invalid'],
  ['{"model":"-chat"}', 'invalid'],
  ['{"model":""}', 'invalid'],
  [`{"model":"${long(MODEL_NAME_MAX_LENGTH)}"}`, long(MODEL_NAME_MAX_LENGTH)],
  [`{"model":"${long(MODEL_NAME_MAX_LENGTH + 1)}"}`, 'invalid'],
  ['{"model":5}', 'not_string'],
  ['{"model":null}', 'not_string'],
  ['{"model":true}', 'not_string'],
  ['{"model":{"name":"chat"}}', 'not_string'],
  ['{"model":["chat"]}', 'not_string'],
  ['{"model":"chat","model":"chat"}', 'duplicate'],
  ['{"model":"chat","mod\\u0065l":"other"}', 'duplicate'],
  ['{}', 'missing'],
  ['{"Model":"chat","modelx":"chat"}', 'missing'],
  ['[{"model":"chat"}]', 'not_object'],
  ['"chat"', 'not_object'],
  ['12', 'not_object'],
  ['null', 'not_object'],
  ['', 'not_json'],
  ['   ', 'not_json'],
  ['nul', 'not_json'],
  ['{"model":"chat",}', 'not_json'],
  ['{"model":"chat"', 'not_json'],
  ['{"model" "chat"}', 'not_json'],
  ["{'model':'chat'}", 'not_json'],
  ['{model:"chat"}', 'not_json'],
  ['{"model":"chat"} x', 'not_json'],
  ['{"model":"chat"}{}', 'not_json'],
  ['{"a":[1,2,],"model":"chat"}', 'not_json'],
  ['{"a":[1 2],"model":"chat"}', 'not_json'],
  ['{"n":-0.5e-3,"m":0,"o":1E+9,"p":[true,false,null],"model":"chat"}', 'chat'],
  ['{"n":01,"model":"chat"}', 'not_json'],
  ['{"n":1.,"model":"chat"}', 'not_json'],
  ['{"n":.5,"model":"chat"}', 'not_json'],
  ['{"n":-,"model":"chat"}', 'not_json'],
  ['{"n":1e,"model":"chat"}', 'not_json'],
  ['{"n":tru,"model":"chat"}', 'not_json'],
  ['{"a":"tab\there","model":"chat"}', 'not_json'],
  ['{"a":"unit\u001fseparator","model":"chat"}', 'not_json'],
  ['{"a":"del\u007fok","model":"chat"}', 'chat'],
  ['{"a":"\\x","model":"chat"}', 'not_json'],
  ['{"a":"\\u12","model":"chat"}', 'not_json'],
  ['{"a":"\\u12g4","model":"chat"}', 'not_json'],
  ['{"a":"unterminated,"model":"chat"}', 'not_json'],
  ['{"a":"ends in a backslash\\', 'not_json'],
  [nested(MAX_JSON_DEPTH), 'chat'],
  [nested(MAX_JSON_DEPTH + 1), 'not_json'],
  [nested(5_000), 'not_json'],
];

const HARNESS = `${JSON_SCANNER_LUA}
local cases = {
${CASES.map(([body]) => `  ${luaString(body)},`).join('\n')}
}
for index, body in ipairs(cases) do
  local first, problem = model_of(body)
  local again, again_problem = model_of(body)
  if first ~= again or problem ~= again_problem then io.write(index, "\\tdiffers on a second scan\\n") end
  io.write(index, "\\t", first or problem, "\\n")
end
`;

describeWithTool('body routing JSON scanner under LuaJIT', luajitBinary(), (luajit) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'infermesh-scanner-'));
  const script = path.join(dir, 'scanner.lua');
  writeFileSync(script, HARNESS);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe.each([['JIT on', []], ['JIT off', ['-joff']]])('%s', (_mode, flags) => {
    it('reads the model, or names why not, for every case', () => {
      const out = execFileSync(luajit, [...flags, script], { encoding: 'utf8' });
      const results = out.trimEnd().split('\n').map((line) => line.split('\t'));
      expect(results.map(([index, value]) => [CASES[Number(index) - 1]?.[0], value])).toEqual(CASES.map(([body, expected]) => [body, expected]));
    });
  });
});
