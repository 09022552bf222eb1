import { ShoalError, policy } from '../../util/errors.js';

export type PkiErrorCode = 'BAD_CSR' | 'BAD_CERTIFICATE' | 'NO_CA';
const pkiPolicy = policy<PkiErrorCode>([], { BAD_CSR: 400, BAD_CERTIFICATE: 400, NO_CA: 503 });

export class PkiError extends ShoalError<PkiErrorCode> {
  override readonly name = 'PkiError';
  readonly ns = 'pki';
  constructor(code: PkiErrorCode, message: string) {
    super(code, message, pkiPolicy(code));
  }
}
