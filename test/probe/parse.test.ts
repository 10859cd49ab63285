import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../src/probe/bounded-http.ts';
import { parseTritonIndex, tritonAnswers } from '../../src/probe/triton-probe.ts';
import { parseTfServingStatus, tfServingAnswers, tfServingRequests } from '../../src/probe/tfserving-probe.ts';
import { modelRefKey, type ModelAnswer, type ModelRef } from '../../src/probe/types.ts';

function answerOf(answers: ReadonlyMap<string, ModelAnswer>, ref: ModelRef): ModelAnswer | undefined {
  return answers.get(modelRefKey(ref));
}

function probeFailure(run: () => unknown): ProbeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProbeError);
    return error as ProbeError;
  }
  throw new Error('expected a ProbeError, got none');
}

describe('Triton repository index', () => {
  // Shapes as Triton 2.x answers POST /v2/repository/index.
  const index = parseTritonIndex([
    { name: 'resnet50', version: '1', state: 'READY' },
    { name: 'resnet50', version: '2', state: 'LOADING' },
    { name: 'bert', version: '3', state: 'UNAVAILABLE', reason: 'unloaded' },
    { name: 'gpt', version: '1', state: 'UNLOADING' },
    { name: 'never' },
    { name: 'loader', version: 7, state: 'LOADING', reason: '' },
    { name: 'odd', version: '1', state: 'WEIRD' },
  ]);

  it('maps every state, with Triton reason as the reason', () => {
    const refs: ModelRef[] = [
      { model: 'resnet50' },
      { model: 'resnet50', version: '1' },
      { model: 'resnet50', version: '2' },
      { model: 'bert' },
      { model: 'gpt' },
      { model: 'never' },
      { model: 'loader', version: '7' },
      { model: 'odd' },
      { model: 'absent' },
      { model: 'resnet50', version: '9' },
    ];
    const answers = tritonAnswers(index, refs);
    expect(answerOf(answers, { model: 'resnet50' })).toEqual({ state: 'ready' });
    expect(answerOf(answers, { model: 'resnet50', version: '1' })).toEqual({ state: 'ready' });
    expect(answerOf(answers, { model: 'resnet50', version: '2' })).toEqual({ state: 'loading', reason: 'LOADING' });
    expect(answerOf(answers, { model: 'bert' })).toEqual({ state: 'not-loaded', reason: 'UNAVAILABLE: unloaded' });
    expect(answerOf(answers, { model: 'gpt' })).toEqual({ state: 'not-loaded', reason: 'UNLOADING' });
    expect(answerOf(answers, { model: 'never' })).toEqual({ state: 'not-loaded', reason: 'not loaded' });
    expect(answerOf(answers, { model: 'loader', version: '7' })?.state).toBe('loading');
    expect(answerOf(answers, { model: 'odd' })).toEqual({ state: 'not-loaded', reason: 'WEIRD' });
    expect(answerOf(answers, { model: 'absent' })).toEqual({ state: 'not-loaded', reason: 'not in the repository index' });
    expect(answerOf(answers, { model: 'resnet50', version: '9' })).toEqual({
      state: 'not-loaded',
      reason: 'version 9 not in the repository index',
    });
    expect(answers.size).toBe(refs.length);
  });

  it('an unversioned ref is loading when no version is ready but one loads', () => {
    const answers = tritonAnswers(parseTritonIndex([
      { name: 'm', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
      { name: 'm', version: '2', state: 'LOADING' },
    ]), [{ model: 'm' }]);
    expect(answerOf(answers, { model: 'm' })?.state).toBe('loading');
  });

  it('garbage and wrong types are probe failures with a message, never crashes', () => {
    expect(probeFailure(() => parseTritonIndex({ models: [] })).message).toMatch(/expected a JSON array, got a object/);
    expect(probeFailure(() => parseTritonIndex(null)).message).toMatch(/got null/);
    expect(probeFailure(() => parseTritonIndex('READY')).message).toMatch(/got a string/);
    expect(probeFailure(() => parseTritonIndex([42])).message).toMatch(/entry 0 is a number/);
    expect(probeFailure(() => parseTritonIndex([{ name: 1 }])).message).toMatch(/entry 0 has no string "name"/);
    expect(probeFailure(() => parseTritonIndex([{ name: 'a', state: 1 }])).message).toMatch(/"state" is a number/);
    expect(probeFailure(() => parseTritonIndex([{ name: 'a', version: 1.5 }])).message).toMatch(/"version" is a number/);
    expect(probeFailure(() => parseTritonIndex([{ name: 'a' }, [1]])).message).toMatch(/entry 1 is an array/);
    expect(parseTritonIndex([])).toEqual([]);
  });
});

describe('TF Serving model status', () => {
  const status = (...versions: object[]) => ({ status: 200, body: { model_version_status: versions } });
  const ok = { error_code: 'OK', error_message: '' };

  it('maps every version state; the error message is the reason', () => {
    const refs: ModelRef[] = [
      { model: 'm' },
      { model: 'm', version: '1' },
      { model: 'm', version: '2' },
      { model: 'm', version: '3' },
      { model: 'm', version: '4' },
      { model: 'm', version: '5' },
      { model: 'm', version: '6' },
      { model: 'm', version: '9' },
    ];
    const answers = tfServingAnswers(
      status(
        { version: '1', state: 'AVAILABLE', status: ok },
        { version: '2', state: 'LOADING', status: ok },
        { version: '3', state: 'START', status: ok },
        { version: '4', state: 'UNLOADING', status: ok },
        { version: '5', state: 'END', status: { error_code: 'NOT_FOUND', error_message: 'Could not find files' } },
        { version: 6, state: 'UNKNOWN' },
      ),
      refs,
    );
    expect(answerOf(answers, { model: 'm' })).toEqual({ state: 'ready' });
    expect(answerOf(answers, { model: 'm', version: '1' })).toEqual({ state: 'ready' });
    expect(answerOf(answers, { model: 'm', version: '2' })).toEqual({ state: 'loading', reason: 'LOADING' });
    expect(answerOf(answers, { model: 'm', version: '3' })).toEqual({ state: 'loading', reason: 'START' });
    expect(answerOf(answers, { model: 'm', version: '4' })).toEqual({ state: 'not-loaded', reason: 'UNLOADING' });
    expect(answerOf(answers, { model: 'm', version: '5' })).toEqual({ state: 'not-loaded', reason: 'END: Could not find files' });
    expect(answerOf(answers, { model: 'm', version: '6' })).toEqual({ state: 'not-loaded', reason: 'UNKNOWN' });
    expect(answerOf(answers, { model: 'm', version: '9' })).toEqual({ state: 'not-loaded', reason: 'version 9 not listed' });
  });

  it('an unversioned ref whose only version loads is loading', () => {
    const answers = tfServingAnswers(status({ version: '2', state: 'LOADING', status: ok }), [{ model: 'm' }]);
    expect(answerOf(answers, { model: 'm' })?.state).toBe('loading');
  });

  it('404 is not loaded, with the server error as the reason', () => {
    const answers = tfServingAnswers(
      { status: 404, body: { error: 'Could not find any versions of model m' } },
      [{ model: 'm' }, { model: 'm', version: '1' }],
    );
    expect(answerOf(answers, { model: 'm' })).toEqual({ state: 'not-loaded', reason: 'Could not find any versions of model m' });
    expect(answerOf(answers, { model: 'm', version: '1' })?.state).toBe('not-loaded');
    expect(answerOf(tfServingAnswers({ status: 404, body: 'x' }, [{ model: 'm' }]), { model: 'm' })?.reason).toBe('HTTP 404');
  });

  it('garbage and wrong types are probe failures with a message, never crashes', () => {
    expect(probeFailure(() => parseTfServingStatus([])).message).toMatch(/no "model_version_status" array/);
    expect(probeFailure(() => parseTfServingStatus(null)).message).toMatch(/no "model_version_status" array/);
    expect(probeFailure(() => parseTfServingStatus({ model_version_status: {} })).message).toMatch(/array/);
    expect(probeFailure(() => parseTfServingStatus({ model_version_status: ['x'] })).message).toMatch(/entry 0 is not an object/);
    expect(probeFailure(() => parseTfServingStatus({ model_version_status: [{ version: '1' }] })).message).toMatch(/lacks/);
    expect(probeFailure(() => parseTfServingStatus({ model_version_status: [{ version: true, state: 'AVAILABLE' }] })).message).toMatch(
      /"version" is a boolean/,
    );
    expect(
      probeFailure(() => parseTfServingStatus({ model_version_status: [{ version: '1', state: 'END', status: { error_message: 3 } }] }))
        .message,
    ).toMatch(/error_message" is a number/);
  });

  it('asks once per model, plus once per version label', () => {
    const requests = tfServingRequests([
      { model: 'm' },
      { model: 'm', version: '1' },
      { model: 'm', version: 'canary' },
      { model: 'm', version: 'canary' },
      { model: 'a/b', version: '2' },
    ]);
    expect(requests.map((request) => [request.path, request.refs.length, request.label])).toEqual([
      ['/v1/models/m', 2, false],
      ['/v1/models/m/labels/canary', 2, true],
      ['/v1/models/a%2Fb', 1, false],
    ]);
  });
});
