import t from 'tap';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { createNodeKey } from '../../src/wire/pki/csr.js';
import { createRootCa, issueNodeCertificate, publicKeyId } from '../../src/wire/pki/x509.js';

/**
 * The request csr.ts writes with node:crypto alone is one the X.509 library
 * reads and verifies, for the key it comes with, naming whom it was asked
 * for; a manager signs a node certificate for it; and a request whose
 * signature does not match is refused.
 */
t.test('a request the library reads, verifies and signs', async (t) => {
  for (const name of ['nodeid123', 'admin, with "odd" = chars;', 'émile-ü', 'x'.repeat(300)]) {
    const { keyPem, csrPem } = await createNodeKey(name);
    t.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE REQUEST-----\n$/, 'PEM, 64-character lines');
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    t.ok(await csr.verify(), `signed by its own key (${name.length} chars)`);
    t.equal(csr.subjectName.getField('CN')[0], name, 'names whom it was asked for');
    const spki = Buffer.from(csr.publicKey.rawData);
    t.ok(spki.equals(createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' })), 'for the key it came with');
  }
  const ca = await createRootCa('c1');
  const { keyPem, csrPem } = await createNodeKey('n1');
  const certPem = await issueNodeCertificate(ca, csrPem, { nodeId: 'n1', role: 'worker', clusterId: 'c1' });
  const cert = new X509Certificate(certPem);
  t.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), 'the manager signed a certificate for that key');
  t.match(cert.subject, /CN=n1\nOU=worker\nO=c1/);
  t.equal(publicKeyId(csrPem).length, 64, 'its key ID reads');
});

t.test('a request whose signature does not match, or whose key is no key, is refused as a bad request', async (t) => {
  const ca = await createRootCa('c1');
  const { csrPem } = await createNodeKey('n1');
  const der = () => Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\n/g, ''), 'base64');
  const asPem = (d: Buffer) => `-----BEGIN CERTIFICATE REQUEST-----\n${d.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  const who = { nodeId: 'n1', role: 'worker', clusterId: 'c1' } as const;
  // The last byte of the DER is the signature's last byte.
  const sig = der();
  sig[sig.length - 1] ^= 0x01;
  await t.rejects(issueNodeCertificate(ca, asPem(sig), who), { code: 'BAD_CSR', message: /not signed by its own key/ }, 'a changed signature');
  // The public key's last byte sits right before the attributes ([0] 00) that close the request info.
  const key = der();
  const at = key.indexOf(Buffer.from([0xa0, 0x00]));
  t.ok(at > 0, 'found the end of the request info');
  key[at - 1] ^= 0x01;
  await t.rejects(issueNodeCertificate(ca, asPem(key), who), { code: 'BAD_CSR' }, 'a key that is no point on the curve');
});
