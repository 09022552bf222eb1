/**
 * Typed errors of the kernel half of the data plane. A plan that fails
 * validation is refused whole before any command runs (a bad name must never
 * reach `ip` or `nft`); a command that fails is reported with its tool and
 * stderr, and the next apply converges again from whatever the kernel holds.
 */
import { policy, ShoalError } from '../../util/errors.js';

export const DataPlaneErrorCode = {
  /** A plan field is malformed (name, address, MAC, VNI, port) or inconsistent (unknown network id). */
  INVALID_PLAN: 'INVALID_PLAN',
  /** `ip`, `bridge`, `nft` or a sysctl write failed; the message carries the tool's stderr. */
  COMMAND_FAILED: 'COMMAND_FAILED',
  /** A required tool is not installed (iproute2, nftables). */
  TOOL_MISSING: 'TOOL_MISSING',
  /** apply() after teardown(). */
  STOPPED: 'STOPPED',
} as const;

export type DataPlaneErrorCode = (typeof DataPlaneErrorCode)[keyof typeof DataPlaneErrorCode];

const dataPlanePolicy = policy<DataPlaneErrorCode>(['COMMAND_FAILED'], { INVALID_PLAN: 400, STOPPED: 503 });

export class DataPlaneError extends ShoalError<DataPlaneErrorCode> {
  override readonly name = 'DataPlaneError';
  readonly ns = 'dataplane';
  constructor(code: DataPlaneErrorCode, message: string, cause?: unknown) {
    super(code, `${code}: ${message}`, dataPlanePolicy(code, cause === undefined ? {} : { cause }));
  }
}

export function isDataPlaneError(e: unknown, code?: DataPlaneErrorCode): e is DataPlaneError {
  return e instanceof DataPlaneError && (code === undefined || e.code === code);
}
