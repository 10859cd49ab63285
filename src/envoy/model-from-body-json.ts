/**
 * The JSON scanner of the model-from-body Lua filter (model-from-body.ts), as Lua source. Envoy's Lua
 * (LuaJIT, Lua 5.1) has no JSON library, so this is a small validating scanner (RFC 8259): it checks the
 * whole body's syntax, skips nested objects and arrays and the contents of strings with string.find (most of
 * a chat body is string contents: plain finds, no patterns; see bench/body-routing.ts), and decodes only the top-level keys and the "model" value. Keys are
 * compared decoded, so "mod\u0065l" is "model" as a JSON parser reads it. The model must be a model name as
 * the policy format has it (policy/schema.ts MODEL_NAME); non-ASCII \u escapes can never be one.
 *
 * model_of(text) returns the model name, or nil and the key of the answer to give (ANSWERS in
 * model-from-body.ts): not_json, not_object, missing, not_string, duplicate, invalid.
 */

/** policy/schema.ts MODEL_NAME: [A-Za-z0-9][A-Za-z0-9._:/-]{0,252}. */
export const MODEL_NAME_MAX_LENGTH = 253;

/** Nesting deeper than this is refused as not JSON (a bound on the scanner's recursion). */
export const MAX_JSON_DEPTH = 128;

export const JSON_SCANNER_LUA = `local find, byte, sub, char, concat = string.find, string.byte, string.sub, string.char, table.concat
local MAX_DEPTH = ${MAX_JSON_DEPTH}
local ESCAPES = { [34] = '"', [92] = "\\\\", [47] = "/", [98] = "\\b", [102] = "\\f", [110] = "\\n", [114] = "\\r", [116] = "\\t" }

local function ws(s, i)
  local _, e = find(s, "^[ \\t\\n\\r]*", i)
  return e + 1
end

-- s[i] is the opening quote: the index after the closing one, or nil. Plain finds (memchr speed) for the
-- quote and for the next backslash, which is remembered (next_escape) so the body is searched once for it; the
-- contents are then checked for raw control characters by a byte loop, which LuaJIT compiles.
local next_escape = 0
local function skip_string(s, i)
  i = i + 1
  while true do
    local q = find(s, '"', i, true)
    if q == nil then return nil end
    if next_escape ~= nil and next_escape < i then next_escape = find(s, "\\\\", i, true) end
    local j = next_escape
    if j == nil or j > q then j = q end
    for k = i, j - 1 do
      if byte(s, k) < 32 then return nil end
    end
    if j == q then return q + 1 end
    local e = byte(s, j + 1)
    if e == 117 then
      if find(s, "^%x%x%x%x", j + 2) == nil then return nil end
      i = j + 6
    elseif e ~= nil and ESCAPES[e] ~= nil then
      i = j + 2
    else
      return nil
    end
  end
end

-- The text of the string s[i..j-1] (between its quotes, already checked), or nil for a non-ASCII \\u escape.
local function decode(s, i, j)
  local first = find(s, "\\\\", i, true)
  if first == nil or first >= j then return sub(s, i, j - 1) end
  local out, k = {}, i
  while true do
    local b = find(s, "\\\\", k, true)
    if b == nil or b >= j then
      out[#out + 1] = sub(s, k, j - 1)
      return concat(out)
    end
    out[#out + 1] = sub(s, k, b - 1)
    local e = byte(s, b + 1)
    if e == 117 then
      local code = tonumber(sub(s, b + 2, b + 5), 16)
      if code >= 128 then return nil end
      out[#out + 1] = char(code)
      k = b + 6
    else
      out[#out + 1] = ESCAPES[e]
      k = b + 2
    end
  end
end

local function skip_number(s, i)
  local _, e = find(s, "^-?", i)
  i = e + 1
  if byte(s, i) == 48 then
    i = i + 1
  else
    _, e = find(s, "^[1-9]%d*", i)
    if e == nil then return nil end
    i = e + 1
  end
  _, e = find(s, "^%.%d+", i)
  if e ~= nil then i = e + 1 end
  _, e = find(s, "^[eE][-+]?%d+", i)
  if e ~= nil then i = e + 1 end
  return i
end

-- s[i] starts a value: the index after it, or nil when it is not valid JSON.
local function skip_value(s, i, depth)
  local c = byte(s, i)
  if c == 34 then return skip_string(s, i) end
  if c == 123 or c == 91 then
    if depth >= MAX_DEPTH then return nil end
    local close = c == 123 and 125 or 93
    i = ws(s, i + 1)
    if byte(s, i) == close then return i + 1 end
    while true do
      if c == 123 then
        if byte(s, i) ~= 34 then return nil end
        i = skip_string(s, i)
        if i == nil then return nil end
        i = ws(s, i)
        if byte(s, i) ~= 58 then return nil end
        i = ws(s, i + 1)
      end
      i = skip_value(s, i, depth + 1)
      if i == nil then return nil end
      i = ws(s, i)
      local d = byte(s, i)
      if d == close then return i + 1 end
      if d ~= 44 then return nil end
      i = ws(s, i + 1)
    end
  end
  if c == 45 or (c ~= nil and c >= 48 and c <= 57) then return skip_number(s, i) end
  local word = sub(s, i, i + 3)
  if word == "true" or word == "null" then return i + 4 end
  if sub(s, i, i + 4) == "false" then return i + 5 end
  return nil
end

local function model_name(name)
  if name == nil or #name > ${MODEL_NAME_MAX_LENGTH} then return nil end
  if find(name, "^[A-Za-z0-9][A-Za-z0-9._:/%-]*$") == nil then return nil end
  return name
end

local function model_of(s)
  next_escape = 0
  local i = ws(s, 1)
  if byte(s, i) ~= 123 then
    local e = skip_value(s, i, 0)
    if e ~= nil and ws(s, e) > #s then return nil, "not_object" end
    return nil, "not_json"
  end
  i = ws(s, i + 1)
  local seen, value, is_string = 0, nil, false
  if byte(s, i) == 125 then
    i = i + 1
  else
    while true do
      if byte(s, i) ~= 34 then return nil, "not_json" end
      local k = skip_string(s, i)
      if k == nil then return nil, "not_json" end
      local key = decode(s, i + 1, k - 1)
      i = ws(s, k)
      if byte(s, i) ~= 58 then return nil, "not_json" end
      i = ws(s, i + 1)
      local e = skip_value(s, i, 1)
      if e == nil then return nil, "not_json" end
      if key == "model" then
        seen = seen + 1
        is_string = byte(s, i) == 34
        if is_string then value = decode(s, i + 1, e - 1) end
      end
      i = ws(s, e)
      local d = byte(s, i)
      if d == 125 then
        i = i + 1
        break
      end
      if d ~= 44 then return nil, "not_json" end
      i = ws(s, i + 1)
    end
  end
  if ws(s, i) <= #s then return nil, "not_json" end
  if seen == 0 then return nil, "missing" end
  if seen > 1 then return nil, "duplicate" end
  if not is_string then return nil, "not_string" end
  local name = model_name(value)
  if name == nil then return nil, "invalid" end
  return name
end
`;
