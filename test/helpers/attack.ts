/**
 * Sending an attack request with a normal request beside it, and timing both: the attack tests of
 * issue 13 check the attack's answer and that everyone else is still served in time.
 */
import { readFileSync } from 'node:fs';

export interface TimedResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON answer. */
  body: any;
  /** Bytes of the answer's body. */
  bytes: number;
  /** From sending the request to having read the whole answer. */
  ms: number;
}

/** POSTs a JSON text to `url`, and times it to the end of the answer. */
export async function timedPost(url: string, json: string): Promise<TimedResponse> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
  const text = await response.text();
  const ms = Math.round(performance.now() - started);
  return { status: response.status, headers: response.headers, body: JSON.parse(text), bytes: text.length, ms };
}

export interface AttackOutcome {
  attack: TimedResponse;
  normal: TimedResponse;
}

/**
 * Sends the attack to `/v1/predict`, then, `delayMs` later (so that the attack is being worked on),
 * a normal request; both answers, each timed from its own start.
 */
export async function attackWithNormalRequest(
  baseUrl: string,
  attackJson: string,
  normalJson: string,
  delayMs = 0,
): Promise<AttackOutcome> {
  const attack = timedPost(`${baseUrl}/v1/predict`, attackJson);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const normal = timedPost(`${baseUrl}/v1/predict`, normalJson);
  return { attack: await attack, normal: await normal };
}

const describeAnswer = ({ status, body, ms }: TimedResponse): string =>
  `${status}${body.code ? ` ${body.code}` : ''} in ${ms} ms`;

/** A one-line account of an outcome, for t.diagnostic. */
export const describeOutcome = ({ attack, normal }: AttackOutcome): string =>
  `attack ${describeAnswer(attack)} (${attack.bytes} bytes); normal request ${describeAnswer(normal)}`;

/** A `{ images: [...] }` request of `count` copies of one base64 image. */
export function sameImages(bytes: Buffer, count: number): string {
  const data = bytes.toString('base64');
  return JSON.stringify({ images: Array.from({ length: count }, () => ({ data })) });
}

const MiB = 1024 * 1024;

/** A process's peak resident memory so far (VmHWM in /proc/<pid>/status), in MiB: Linux only. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kB = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kB) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Math.round((Number(kB) * 1024) / MiB);
}
