/**
 * The speaker's Prometheus metrics, registered on the registry the owner passes in (the agent's,
 * or the standalone speaker's own). Names follow tortie_bgp_*; per-peer series are removed when
 * the peer is removed so a long-running agent does not accumulate dead label sets.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class BgpMetrics {
  readonly peerUp: Gauge<'peer'>;
  readonly prefixesReceived: Gauge<'peer' | 'afi'>;
  readonly prefixesAccepted: Gauge<'peer' | 'afi'>;
  readonly updatesSent: Counter<'peer'>;
  readonly updatesReceived: Counter<'peer'>;
  readonly notificationsSent: Counter<'peer' | 'code' | 'subcode'>;
  readonly notificationsReceived: Counter<'peer' | 'code' | 'subcode'>;
  readonly flaps: Counter<'peer'>;
  readonly ribPaths: Gauge;
  readonly malformedUpdates: Counter<'peer' | 'action'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.peerUp = new Gauge({ name: 'tortie_bgp_peer_up', help: '1 when the BGP session with the peer is Established', labelNames: ['peer'], registers });
    this.prefixesReceived = new Gauge({
      name: 'tortie_bgp_peer_prefixes_received',
      help: 'Paths held in the Adj-RIB-In of the peer, per address family',
      labelNames: ['peer', 'afi'],
      registers,
    });
    this.prefixesAccepted = new Gauge({
      name: 'tortie_bgp_peer_prefixes_accepted',
      help: 'Paths from the peer that passed loop checks and import policy, per address family',
      labelNames: ['peer', 'afi'],
      registers,
    });
    this.updatesSent = new Counter({ name: 'tortie_bgp_updates_sent_total', help: 'UPDATE messages sent', labelNames: ['peer'], registers });
    this.updatesReceived = new Counter({ name: 'tortie_bgp_updates_received_total', help: 'UPDATE messages received', labelNames: ['peer'], registers });
    this.notificationsSent = new Counter({
      name: 'tortie_bgp_notifications_sent_total',
      help: 'NOTIFICATION messages sent, by error code and subcode',
      labelNames: ['peer', 'code', 'subcode'],
      registers,
    });
    this.notificationsReceived = new Counter({
      name: 'tortie_bgp_notifications_received_total',
      help: 'NOTIFICATION messages received, by error code and subcode',
      labelNames: ['peer', 'code', 'subcode'],
      registers,
    });
    this.flaps = new Counter({ name: 'tortie_bgp_peer_flaps_total', help: 'Times an Established session went down', labelNames: ['peer'], registers });
    this.ribPaths = new Gauge({ name: 'tortie_bgp_rib_paths', help: 'Paths in the RIB (all peers and local routes)', registers });
    this.malformedUpdates = new Counter({
      name: 'tortie_bgp_malformed_updates_total',
      help: 'Malformed UPDATEs by RFC 7606 action taken (treat-as-withdraw, attribute-discard, session-reset)',
      labelNames: ['peer', 'action'],
      registers,
    });
  }

  /** Drops every series of a removed peer. */
  forgetPeer(peer: string): void {
    for (const m of [this.peerUp, this.updatesSent, this.updatesReceived, this.flaps]) m.remove({ peer });
    for (const afi of ['ipv4', 'ipv6']) {
      this.prefixesReceived.remove({ peer, afi });
      this.prefixesAccepted.remove({ peer, afi });
    }
  }
}
