import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ALL_INTERFACES, endpointChainName, ipSetName, kindShortName, lengthLimitedId, policyChainName, policyIdString, PREFIX, profileChainName } from './names.js';
import { gnp, np } from './test-helpers.js';

test('profile chains: short names as they are, long ones hashed (names from a real node)', () => {
  assert.equal(profileChainName('inbound', 'kns.kube-system'), 'cali-pri-kns.kube-system');
  assert.equal(profileChainName('outbound', 'kns.calico-system'), 'cali-pro-kns.calico-system');
  assert.equal(profileChainName('inbound', 'ksa.kube-system.metrics-server'), 'cali-pri-_CVSZITRyIpEmH8AB6H');
  assert.equal(profileChainName('outbound', 'ksa.kube-system.konnectivity-agent'), 'cali-pro-_b-WIgmNvlBH1FuEYm2');
  assert.equal(profileChainName('inbound', 'ksa.kube-system.coredns-autoscaler'), 'cali-pri-_npJ7qTPnQvugDgIE9J');
  assert.equal(profileChainName('inbound', 'ksa.calico-system.calico-kube-controllers'), 'cali-pri-_nzzjLvInId1gPHmQz_');
});

test('length-limited ids (a policy chain of an older Felix, observed)', () => {
  assert.equal(lengthLimitedId('cali-po-', 'kube-system/knp.default.konnectivity-agent', 28), 'cali-po-_rWDSk9LLgWIl_lpnJE2');
  // Exactly 28 fits, unless it starts with the shortening marker.
  assert.equal(lengthLimitedId('cali-pi-', 'a'.repeat(20), 28), 'cali-pi-' + 'a'.repeat(20));
  const marker = '_' + 'a'.repeat(19);
  assert.equal(lengthLimitedId('cali-pi-', marker, 28), 'cali-pi-_' + createHash('sha256').update(marker).digest('base64url').slice(0, 19));
  assert.equal(lengthLimitedId('cali-pi-', '', 28), 'cali-pi-_');
});

test('policy chain names use kind/namespace/name', () => {
  assert.equal(policyIdString(gnp('allow-dns')), 'gnp/allow-dns');
  assert.equal(policyIdString(np('prod', 'web')), 'np/prod/web');
  assert.equal(policyChainName('inbound', gnp('allow-dns')), 'cali-pi-gnp/allow-dns');
  assert.equal(policyChainName('outbound', np('prod', 'web')), 'cali-po-np/prod/web');
  const long = np('production', 'allow-frontend-to-backend');
  const expected = 'cali-pi-_' + createHash('sha256').update('np/production/allow-frontend-to-backend').digest('base64url').slice(0, 19);
  assert.equal(policyChainName('inbound', long), expected);
  assert.equal(expected.length, 28);
});

test('kind short names', () => {
  assert.equal(kindShortName('GlobalNetworkPolicy'), 'gnp');
  assert.equal(kindShortName('NetworkPolicy'), 'np');
  assert.equal(kindShortName('KubernetesNetworkPolicy'), 'knp');
  assert.equal(kindShortName('StagedGlobalNetworkPolicy'), 'sgnp');
  assert.equal(kindShortName('StagedNetworkPolicy'), 'snp');
  assert.equal(kindShortName('StagedKubernetesNetworkPolicy'), 'sknp');
  assert.equal(kindShortName('SomethingNew'), 'SomethingNew');
});

test('endpoint chain names; the all-interfaces endpoint is hashed only where it does not fit', () => {
  assert.equal(endpointChainName(PREFIX.toWorkload, 'cali1234'), 'cali-tw-cali1234');
  assert.equal(endpointChainName(PREFIX.fromHostForward, 'eth0'), 'cali-fhfw-eth0');
  assert.equal(endpointChainName(PREFIX.toHost, ALL_INTERFACES), 'cali-th-any-interface-at-all');
  assert.equal(endpointChainName(PREFIX.toHostForward, ALL_INTERFACES), 'cali-thfw-_' + createHash('sha256').update(ALL_INTERFACES).digest('base64url').slice(0, 17));
});

test('IP set names: cali40/cali60 and the id, cut to 31 characters', () => {
  assert.equal(ipSetName('ipsetid1', 4), 'cali40ipsetid1');
  assert.equal(ipSetName('ipsetid1', 6), 'cali60ipsetid1');
  assert.equal(ipSetName('all-ipam-pools', 4), 'cali40all-ipam-pools');
  assert.equal(ipSetName('s:qMt7iLlGDhvLnCjM0l9nzxbabcd', 6), 'cali60s:qMt7iLlGDhvLnCjM0l9nzxb');
});
