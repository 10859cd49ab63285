import { describe, expect, it } from 'vitest';
import { GRPC_RECEIVE_LIMIT_BYTES, GRPC_TABLE_WARNING_BYTES, grpcTableBudget } from '../../src/controller/grpc-table-budget.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { fakeSnapshot } from '../support/snapshots.ts';

/** A snapshot whose gRPC table (named after the target) is `bytes` long as encoded (fakeResource: "name=content"). */
const withTable = (bytes: number, name = DEFAULT_SETTINGS.grpcTarget) => fakeSnapshot('1', { route: [[name, 'x'.repeat(bytes - name.length - 1)], ['infermesh/m', 'y'.repeat(8 << 20)]] });

describe('the size budget of the header-routed gRPC table', () => {
  it('reports the size and no warning below three quarters of the 4 MiB limit', () => {
    expect(grpcTableBudget(withTable(1000), DEFAULT_SETTINGS)).toEqual({ bytes: 1000 });
    expect(grpcTableBudget(withTable(GRPC_TABLE_WARNING_BYTES - 1), DEFAULT_SETTINGS).warning).toBeUndefined();
  });

  it('warns from 3 MiB on, naming the target, the size and the way out, and says when it is over', () => {
    const near = grpcTableBudget(withTable(GRPC_TABLE_WARNING_BYTES), DEFAULT_SETTINGS);
    expect(near.warning).toContain('xds:///infermesh is 3.0 MiB and nears');
    expect(near.warning).toContain('xds:///infermesh/<model>');
    expect(grpcTableBudget(withTable(GRPC_RECEIVE_LIMIT_BYTES + 1), DEFAULT_SETTINGS).warning).toContain('is over');
  });

  it('measures only the table of the gRPC target, not the per-model tables', () => {
    expect(grpcTableBudget(withTable(500), { ...DEFAULT_SETTINGS, grpcTarget: 'other' })).toEqual({ bytes: 0 });
  });
});
