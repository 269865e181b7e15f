/**
 * The NetworkUnavailable condition on this node's Kubernetes Node, as calico-node keeps it: False
 * with reason CalicoIsUp once the network is programmed, True with reason CalicoIsDown when the
 * agent shuts down. Kubernetes (the route controller, schedulers honouring the taint) reads it;
 * RBAC: patch on nodes/status. A strategic merge patch touches only this one condition, merged
 * by its `type`, so the kubelet's own conditions are never overwritten.
 */
import type { KubeClient } from './client.js';

export const NETWORK_UNAVAILABLE = 'NetworkUnavailable';
export const REASON_UP = 'CalicoIsUp';
export const REASON_DOWN = 'CalicoIsDown';

/** Kubernetes timestamps have second precision (RFC 3339 without fractions). */
function k8sTime(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

export async function setNetworkUnavailable(client: KubeClient, nodeName: string, unavailable: boolean, now = new Date()): Promise<void> {
  const t = k8sTime(now);
  const condition = {
    type: NETWORK_UNAVAILABLE,
    status: unavailable ? 'True' : 'False',
    reason: unavailable ? REASON_DOWN : REASON_UP,
    message: unavailable ? 'Calico is shutting down on this node' : 'Calico is running on this node',
    lastTransitionTime: t,
    lastHeartbeatTime: t,
  };
  await client.request('PATCH', `/api/v1/nodes/${encodeURIComponent(nodeName)}/status`, {
    body: { status: { conditions: [condition] } },
    contentType: 'application/strategic-merge-patch+json',
  });
}
