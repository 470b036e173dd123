import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAdmission } from '../../lib/http/admission.ts';
import { ServiceError } from '../../lib/errors.ts';

const overloaded = (error: unknown) =>
  error instanceof ServiceError && error.code === 'SERVICE_OVERLOADED' && error.retryAfterSeconds === 1;

describe('admission (MAX_QUEUE_IMAGES)', () => {
  test('a body being read holds one place; admitted images hold theirs until released', () => {
    const admission = createAdmission(4);
    const reading = [admission.enter(), admission.enter()];
    const admitted = admission.enter().admit(2);
    assert.equal(admission.inFlight(), 2, 'bodies being read are not in flight');
    // 2 admitted and 2 bodies being read: full, before reading another body.
    assert.throws(() => admission.enter(), overloaded);
    reading[0]!.leave();
    const third = admission.enter();
    admitted();
    admitted();
    assert.equal(admission.inFlight(), 0, 'a release counts once');
    third.leave();
    reading[1]!.leave();
    reading[1]!.leave();
    // Everything given back: four places again.
    const tickets = [admission.enter(), admission.enter(), admission.enter(), admission.enter()];
    assert.throws(() => admission.enter(), overloaded);
    for (const ticket of tickets) ticket.leave();
  });

  test('a body in hand is admitted whatever the bodies still being read, if its images fit', () => {
    const admission = createAdmission(4);
    const slow = admission.enter();
    const fast = admission.enter();
    fast.checkOpen();
    const release = fast.admit(4);
    assert.equal(admission.inFlight(), 4);
    // The slow body arrives with the pipeline full: refused before it is parsed.
    assert.throws(() => slow.checkOpen(), overloaded);
    assert.throws(() => slow.admit(1), overloaded);
    release();
    assert.equal(admission.inFlight(), 0);
    // Its refusal gave its place back.
    const tickets = [1, 2, 3, 4].map(() => admission.enter());
    for (const ticket of tickets) ticket.leave();
  });

  test('a request with more images than the free room is refused, and its place is given back', () => {
    const admission = createAdmission(4);
    const release = admission.enter().admit(3);
    const big = admission.enter();
    big.checkOpen();
    assert.throws(() => big.admit(2), overloaded);
    big.leave();
    const fits = admission.enter().admit(1);
    assert.equal(admission.inFlight(), 4);
    release();
    fits();
    // An empty request takes nothing.
    admission.enter().admit(0)();
    assert.equal(admission.inFlight(), 0);
  });
});
