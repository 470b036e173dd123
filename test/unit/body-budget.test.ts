import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BodyBudgetOptions, createBodyBudget } from '../../lib/http/body-budget.ts';

const settled = async (promise: Promise<unknown>) =>
  Promise.race([promise.then(() => true), new Promise((resolve) => setImmediate(() => resolve(false)))]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Checks that never come (in these tests' time) unless a test shortens them. */
const patient: BodyBudgetOptions = { capacityBytes: 10, checkMs: 60_000, minBytesPerCheck: 1, maxWaitMs: 60_000 };

describe('body budget', () => {
  test('bodies that fit are read at once; the next waits for room, in arrival order', async () => {
    const budget = createBodyBudget(patient);
    const first = await budget.acquire(6);
    const second = await budget.acquire(4);
    const large = budget.acquire(8);
    const small = budget.acquire(1);
    assert.equal(await settled(large), false, 'full: waits');
    assert.equal(await settled(small), false, 'would fit, but comes after the waiting one');
    first.release();
    first.release();
    assert.equal(await settled(large), false, 'a release counts once: 4 + 8 is still over 10');
    second.release();
    assert.equal(await settled(large), true);
    assert.equal(await settled(small), true, 'fits beside it');
    (await large).release();
    (await small).release();
  });

  test('an empty budget takes a body larger than itself', async () => {
    const budget = createBodyBudget(patient);
    const huge = await budget.acquire(50);
    const next = budget.acquire(1);
    assert.equal(await settled(next), false);
    huge.release();
    assert.equal(await settled(next), true);
  });

  test('a body waits while the bodies being read arrive fast, and stops waiting when they slow down', async () => {
    const budget = createBodyBudget({ ...patient, checkMs: 40, minBytesPerCheck: 1000 });
    const reading = await budget.acquire(10);
    const next = budget.acquire(5);
    // A burst: the body being read receives bytes all the time, well over 1000 in every check.
    const feeding = setInterval(() => reading.received(500), 5);
    await sleep(200);
    assert.equal(await settled(next), false, 'still a burst after five checks');
    // Then it stops: at the next check, the waiting body is read beside it, over the budget.
    clearInterval(feeding);
    await sleep(100);
    assert.equal(await settled(next), true);
    reading.release();
    (await next).release();
  });

  test('nothing waits longer than maxWaitMs, a burst or not', async () => {
    const budget = createBodyBudget({ ...patient, checkMs: 20, minBytesPerCheck: 1, maxWaitMs: 100 });
    const reading = await budget.acquire(10);
    const feeding = setInterval(() => reading.received(10), 5);
    const started = performance.now();
    const next = await budget.acquire(5);
    clearInterval(feeding);
    const waited = performance.now() - started;
    assert.ok(waited >= 95 && waited < 1000, `waited ${waited} ms`);
    reading.release();
    next.release();
  });
});
