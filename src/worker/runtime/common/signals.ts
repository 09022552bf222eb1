import { constants } from 'node:os';

/**
 * Signal names and numbers. Task specs carry names ("SIGTERM", "TERM", "15");
 * exit statuses report names; the kernel and `runc kill` want numbers or
 * canonical names.
 */

const byNumber = new Map<number, string>();
for (const [name, num] of Object.entries(constants.signals)) {
  // SIGIOT/SIGPOLL alias SIGABRT/SIGIO: keep the first (canonical) name.
  if (!byNumber.has(num)) byNumber.set(num, name);
}

/** Canonical "SIGxxx" for a name or number, or null when unknown. */
export function signalName(sig: string | number): NodeJS.Signals | null {
  if (typeof sig === 'number' || /^\d+$/.test(sig)) return (byNumber.get(Number(sig)) as NodeJS.Signals | undefined) ?? null;
  const up = sig.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  return Object.hasOwn(constants.signals, name) ? (name as NodeJS.Signals) : null;
}

export function signalNumber(sig: string): number | null {
  const name = signalName(sig);
  return name ? constants.signals[name] : null;
}

/** Shell convention, also used by runc and Docker: a signal death reads as 128 + signo. */
export function exitCodeForSignal(sig: string): number {
  return 128 + (signalNumber(sig) ?? 9);
}
