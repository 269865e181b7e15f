import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_HEALTH_PORT, healthProbeTarget } from './agent.js';

test('healthProbeTarget: where the started agent answers, or nothing to probe', () => {
  assert.deepEqual(healthProbeTarget({}), { host: '127.0.0.1', port: AGENT_HEALTH_PORT });
  assert.deepEqual(healthProbeTarget({ FELIX_HEALTHHOST: '0.0.0.0', FELIX_HEALTHPORT: '9199' }), { host: '127.0.0.1', port: 9199 });
  assert.deepEqual(healthProbeTarget({ FELIX_HEALTHHOST: '::' }), { host: '::1', port: AGENT_HEALTH_PORT });
  // The agent rejects these itself (and exits); start then waits for the exit.
  assert.equal(healthProbeTarget({ FELIX_HEALTHPORT: 'abc' }), undefined);
  assert.equal(healthProbeTarget({ FELIX_HEALTHPORT: '70000' }), undefined);
  // Health off: start waits for the control socket instead.
  assert.equal(healthProbeTarget({ FELIX_HEALTHENABLED: 'false' }), undefined);
});
