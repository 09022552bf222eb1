/** Typed errors of secret and config data handling (sealing, the data key). */
import { policy, ShoalError } from '../../util/errors.js';

export const SecretsErrorCode = {
  /** The data key is not a 32-byte AES-256 key. */
  BAD_KEY: 'BAD_KEY',
  /** A sealed blob does not open: wrong key, tampered, or bound to another object. */
  UNSEALABLE: 'UNSEALABLE',
  /** This manager holds no data key (a data dir from before secrets; HTTP 503). */
  NO_DATA_KEY: 'NO_DATA_KEY',
} as const;
export type SecretsErrorCode = (typeof SecretsErrorCode)[keyof typeof SecretsErrorCode];

const secretsPolicy = policy<SecretsErrorCode>([], { BAD_KEY: 500, UNSEALABLE: 500, NO_DATA_KEY: 503 });

export class SecretsError extends ShoalError<SecretsErrorCode> {
  override readonly name = 'SecretsError';
  readonly ns = 'secrets';
  constructor(code: SecretsErrorCode, message: string) {
    super(code, message, secretsPolicy(code));
  }
}
