/**
 * Configuration parsing, validation and precedence. The environment, host name and file system are
 * injected, so these tests say exactly what a given manifest produces.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, redactConfig, resolveLayers, type LoadOptions, type ConfigLayer } from './load.js';
import { isUserError } from '../util/errors.js';

const FILES = new Set(['/etc/etcd/ca.pem', '/etc/etcd/cert.pem', '/etc/etcd/key.pem', '/root/.kube/config']);

function load(env: Record<string, string>, more: Partial<LoadOptions> = {}) {
  return loadConfig({
    env,
    defaults: { hostname: () => 'Node-A.example' },
    fileExists: (p) => FILES.has(p),
    ...more,
  });
}

/** The problems a configuration produces, or [] if it loads. */
function problems(env: Record<string, string>, more: Partial<LoadOptions> = {}): string[] {
  try {
    load(env, more);
    return [];
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.ok(isUserError(e));
    return [...e.problems];
  }
}

describe('defaults', () => {
  test('an empty environment gives the documented defaults', () => {
    const { config, sources, warnings } = load({});
    assert.equal(config.nodename, 'node-a.example');
    assert.equal(config.datastoreType, 'etcdv3');
    assert.deepEqual(config.etcdEndpoints, ['http://127.0.0.1:2379']);
    assert.equal(config.logSeverityScreen, 'Info');
    assert.equal(config.healthEnabled, true);
    assert.equal(config.healthHost, '127.0.0.1');
    assert.equal(config.healthPort, 9099);
    assert.equal(config.prometheusMetricsEnabled, false);
    assert.equal(config.prometheusMetricsHost, '127.0.0.1');
    assert.equal(config.prometheusMetricsPort, 9091);
    assert.equal(config.routeRefreshInterval, 90);
    assert.equal(config.iptablesRefreshInterval, 180);
    assert.equal(config.ipsetsRefreshInterval, 90);
    assert.equal(config.interfaceRefreshInterval, 90);
    assert.deepEqual(config.interfacePrefix, ['cali']);
    assert.equal(config.deviceRouteProtocol, 3);
    assert.equal(config.vxlanVni, 4096);
    assert.equal(config.vxlanPort, 4789);
    assert.equal(config.vxlanMtu, 0);
    assert.equal(config.ipInIpMtu, 0);
    assert.equal(config.datastoreLossReadinessTimeout, 60);
    assert.equal(config.controlSocket, '/var/run/tortie/control.sock');
    assert.equal(config.networkingBackend, 'bird');
    assert.equal(config.ipv4PoolCidr, '192.168.0.0/16');
    assert.equal(config.ipv4PoolIpip, 'Always');
    assert.equal(config.ipv4PoolVxlan, 'Never');
    assert.equal(config.ipv4PoolNatOutgoing, true);
    assert.equal(config.as, undefined);
    assert.equal(config.ip, undefined);
    assert.equal(config.kubeconfig, undefined);
    assert.deepEqual(sources.healthPort, { kind: 'default' });
    assert.deepEqual(warnings, []);
  });
});

describe('environment', () => {
  test('FELIX_* names match case-insensitively', () => {
    for (const name of ['FELIX_HEALTHPORT', 'felix_healthport', 'Felix_HealthPort']) {
      const { config, sources } = load({ [name]: '9199' });
      assert.equal(config.healthPort, 9199, name);
      assert.deepEqual(sources.healthPort, { kind: 'env', origin: name });
    }
  });

  test('two spellings of one FELIX_ setting with different values is an error; equal values are fine', () => {
    assert.equal(load({ FELIX_HEALTHPORT: '9199', felix_healthport: '9199' }).config.healthPort, 9199);
    const p = problems({ FELIX_HEALTHPORT: '9199', felix_healthport: '9200' });
    assert.equal(p.length, 1);
    assert.match(p[0]!, /FELIX_HEALTHPORT and felix_healthport are the same setting/);
  });

  test('calico-node variables match exactly; lower-case spellings are not them', () => {
    assert.equal(load({ DATASTORE_TYPE: 'kubernetes' }).config.datastoreType, 'kubernetes');
    assert.equal(load({ datastore_type: 'kubernetes' }).config.datastoreType, 'etcdv3');
  });

  test('the first listed variable wins over its aliases', () => {
    const { config, sources } = load({ NODENAME: 'node-b', HOSTNAME: 'other', FELIX_FELIXHOSTNAME: 'felix-name' });
    assert.equal(config.nodename, 'node-b');
    assert.equal(sources.nodename.origin, 'NODENAME');
    assert.equal(load({ HOSTNAME: 'from-hostname' }).config.nodename, 'from-hostname');
    assert.equal(load({ CALICO_DATASTORE_TYPE: 'kubernetes' }).config.datastoreType, 'kubernetes');
  });

  test('an empty value counts as unset', () => {
    const { config } = load({ FELIX_HEALTHPORT: '', IP: '', NODENAME: '' });
    assert.equal(config.healthPort, 9099);
    assert.equal(config.ip, undefined);
    assert.equal(config.nodename, 'node-a.example');
  });

  test('typed values parse as Felix writes them', () => {
    const { config } = load({
      FELIX_LOGSEVERITYSCREEN: 'warning',
      FELIX_HEALTHENABLED: 'no',
      FELIX_PROMETHEUSMETRICSENABLED: 'T',
      FELIX_ROUTEREFRESHINTERVAL: '1m30s',
      FELIX_IPTABLESREFRESHINTERVAL: '0.5',
      FELIX_IPSETSREFRESHINTERVAL: '0',
      FELIX_INTERFACEPREFIX: 'cali,tap',
      FELIX_VXLANMTU: '1450',
      DATASTORE_TYPE: 'KUBERNETES',
      CALICO_IPV4POOL_IPIP: 'off',
      CALICO_IPV4POOL_VXLAN: 'crosssubnet',
      CALICO_NETWORKING_BACKEND: 'VXLAN',
      AS: '1.10',
      IP: '198.18.0.5/24',
      ETCD_ENDPOINTS: 'https://198.18.0.1:2379, https://198.18.0.2:2379',
      TORTIE_DATASTORE_LOSS_READINESS_TIMEOUT: '500ms',
    });
    assert.equal(config.logSeverityScreen, 'Warning');
    assert.equal(config.healthEnabled, false);
    assert.equal(config.prometheusMetricsEnabled, true);
    assert.equal(config.routeRefreshInterval, 90);
    assert.equal(config.iptablesRefreshInterval, 0.5);
    assert.equal(config.ipsetsRefreshInterval, 0);
    assert.deepEqual(config.interfacePrefix, ['cali', 'tap']);
    assert.equal(config.vxlanMtu, 1450);
    assert.equal(config.datastoreType, 'kubernetes');
    assert.equal(config.ipv4PoolIpip, 'Never');
    assert.equal(config.ipv4PoolVxlan, 'CrossSubnet');
    assert.equal(config.networkingBackend, 'vxlan');
    assert.equal(config.as, 65546);
    assert.equal(config.ip, '198.18.0.5/24');
    assert.deepEqual(config.etcdEndpoints, ['https://198.18.0.1:2379', 'https://198.18.0.2:2379']);
    assert.equal(config.datastoreLossReadinessTimeout, 0.5);
  });

  test('unknown FELIX_* and TORTIE_* variables warn and do not fail', () => {
    const { warnings, config } = load({
      FELIX_BPFENABLED: 'false',
      felix_nosuchthing: 'x',
      TORTIE_CONTROL_SOKET: '/tmp/x',
      PATH: '/usr/bin',
      FELIX_HEALTHPORT: '9100',
    });
    assert.equal(config.healthPort, 9100);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /FELIX_BPFENABLED, TORTIE_CONTROL_SOKET, felix_nosuchthing/);
    assert.doesNotMatch(warnings[0]!, /PATH|HEALTHPORT/);
  });
});

describe('precedence', () => {
  test('flags win over environment, environment over default', () => {
    const { config, sources } = load({ FELIX_HEALTHPORT: '9100', FELIX_PROMETHEUSMETRICSPORT: '9200' }, { flags: { healthPort: '9300' } });
    assert.equal(config.healthPort, 9300);
    assert.deepEqual(sources.healthPort, { kind: 'flag', origin: '--health-port' });
    assert.equal(config.prometheusMetricsPort, 9200);
    assert.equal(config.vxlanPort, 4789);
  });

  test('an invalid value is reported even when a higher layer shadows it', () => {
    const p = problems({ FELIX_HEALTHPORT: 'abc' }, { flags: { healthPort: '9300' } });
    assert.equal(p.length, 1);
    assert.match(p[0]!, /FELIX_HEALTHPORT="abc"/);
  });

  test('layers apply in PRECEDENCE order whatever order they are given in', () => {
    const global: ConfigLayer = {
      kind: 'felixconfig-global',
      values: { healthPort: { raw: '9001', origin: 'FelixConfiguration default spec.healthPort' } },
      onInvalid: 'skip',
    };
    const node: ConfigLayer = {
      kind: 'felixconfig-node',
      values: {
        healthPort: { raw: '9002', origin: 'FelixConfiguration node.a spec.healthPort' },
        vxlanVni: { raw: 'lots', origin: 'FelixConfiguration node.a spec.vxlanVNI' },
        etcdEndpoints: { raw: 'http://10.0.0.1:2379', origin: 'FelixConfiguration node.a' },
      },
      onInvalid: 'skip',
    };
    const env: ConfigLayer = { kind: 'env', values: {}, onInvalid: 'fail' };
    const r = resolveLayers([global, env, node], { hostname: () => 'a' }, () => true);
    assert.equal(r.config.healthPort, 9002, 'node.<name> beats default');
    assert.equal(r.config.vxlanVni, 4096, 'an invalid datastore value is skipped, not fatal');
    assert.deepEqual(r.config.etcdEndpoints, ['http://127.0.0.1:2379'], 'local-only settings ignore the datastore');
    assert.deepEqual(r.problems, []);
    assert.equal(r.warnings.length, 2);
    assert.match(r.warnings.join('\n'), /spec\.vxlanVNI="lots".*ignored/);
    assert.match(r.warnings.join('\n'), /etcdEndpoints can only be set locally/);

    const withEnv = resolveLayers(
      [global, { kind: 'env', values: { healthPort: { raw: '9003', origin: 'FELIX_HEALTHPORT' } }, onInvalid: 'fail' }, node],
      { hostname: () => 'a' },
      () => true,
    );
    assert.equal(withEnv.config.healthPort, 9003, 'environment beats FelixConfiguration');
  });
});

describe('bad values', () => {
  // Each: environment, the variable the message must name, and a fragment of what is allowed.
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ FELIX_HEALTHPORT: 'abc' }, 'FELIX_HEALTHPORT="abc"', /integer TCP\/UDP port from 1 to 65535/],
    [{ FELIX_HEALTHPORT: '0' }, 'FELIX_HEALTHPORT="0"', /port from 1 to 65535/],
    [{ FELIX_HEALTHPORT: '65536' }, 'FELIX_HEALTHPORT="65536"', /port from 1 to 65535/],
    [{ FELIX_HEALTHPORT: '90.5' }, 'FELIX_HEALTHPORT="90.5"', /port/],
    [{ FELIX_PROMETHEUSMETRICSPORT: '-1' }, 'FELIX_PROMETHEUSMETRICSPORT="-1"', /port/],
    [{ FELIX_VXLANPORT: '1e3' }, 'FELIX_VXLANPORT="1e3"', /port/],
    [{ DATASTORE_TYPE: 'mysql' }, 'DATASTORE_TYPE="mysql"', /one of etcdv3, kubernetes/],
    [{ FELIX_LOGSEVERITYSCREEN: 'verbose' }, 'FELIX_LOGSEVERITYSCREEN="verbose"', /Trace, Debug, Info, Warning, Error, Fatal/],
    [{ ETCD_ENDPOINTS: 'etcd-1:2379' }, 'ETCD_ENDPOINTS="etcd-1:2379"', /http:\/\/ or https:\/\/ URLs/],
    [{ ETCD_ENDPOINTS: 'http://ok:2379,ftp://bad' }, 'ETCD_ENDPOINTS=', /URLs/],
    [{ ETCD_ENDPOINTS: ',' }, 'ETCD_ENDPOINTS=","', /URLs/],
    [{ FELIX_HEALTHENABLED: 'maybe' }, 'FELIX_HEALTHENABLED="maybe"', /true or false/],
    [{ FELIX_ROUTEREFRESHINTERVAL: 'soon' }, 'FELIX_ROUTEREFRESHINTERVAL="soon"', /number of seconds/],
    [{ FELIX_ROUTEREFRESHINTERVAL: '-5' }, 'FELIX_ROUTEREFRESHINTERVAL="-5"', /0 or more/],
    [{ FELIX_INTERFACEPREFIX: 'cali,' }, 'FELIX_INTERFACEPREFIX="cali,"', /interface name prefixes/],
    [{ FELIX_INTERFACEPREFIX: 'averyveryverylongprefix' }, 'FELIX_INTERFACEPREFIX=', /1-15 characters/],
    [{ FELIX_DEVICEROUTEPROTOCOL: '256' }, 'FELIX_DEVICEROUTEPROTOCOL="256"', /1 to 255/],
    [{ FELIX_VXLANVNI: '16777216' }, 'FELIX_VXLANVNI="16777216"', /24 bits/],
    [{ FELIX_VXLANMTU: '40' }, 'FELIX_VXLANMTU="40"', /MTU from 68/],
    [{ FELIX_IPINIPMTU: 'jumbo' }, 'FELIX_IPINIPMTU="jumbo"', /MTU/],
    [{ FELIX_HEALTHHOST: 'not a host!' }, 'FELIX_HEALTHHOST="not a host!"', /IP address/],
    [{ NODENAME: 'Node_A' }, 'NODENAME="Node_A"', /lowercase DNS name/],
    [{ CALICO_NETWORKING_BACKEND: 'gobgp' }, 'CALICO_NETWORKING_BACKEND="gobgp"', /bird, vxlan, none/],
    [{ CALICO_IPV4POOL_IPIP: 'sometimes' }, 'CALICO_IPV4POOL_IPIP="sometimes"', /Always, CrossSubnet, Never/],
    [{ CALICO_IPV4POOL_CIDR: '10.65.1.0/16' }, 'CALICO_IPV4POOL_CIDR="10.65.1.0/16"', /no host bits/],
    [{ CALICO_IPV4POOL_CIDR: '10.65.0.0' }, 'CALICO_IPV4POOL_CIDR="10.65.0.0"', /CIDR/],
    [{ CALICO_IPV4POOL_NAT_OUTGOING: 'sure' }, 'CALICO_IPV4POOL_NAT_OUTGOING="sure"', /true or false/],
    [{ AS: '0' }, 'AS="0"', /AS number from 1/],
    [{ AS: '4294967296' }, 'AS="4294967296"', /AS number/],
    [{ IP: '198.18.0.300' }, 'IP="198.18.0.300"', /autodetect/],
    [{ IP: '198.18.0.5/33' }, 'IP="198.18.0.5/33"', /prefix length/],
    [{ IP_AUTODETECTION_METHOD: 'interface=eth(' }, 'IP_AUTODETECTION_METHOD="interface=eth("', /first-found/],
    [{ IP_AUTODETECTION_METHOD: 'guess' }, 'IP_AUTODETECTION_METHOD="guess"', /can-reach=DEST/],
    [{ ETCD_CA_CERT_FILE: 'relative.pem' }, 'ETCD_CA_CERT_FILE="relative.pem"', /absolute file path/],
    [{ ETCD_CA_CERT_FILE: '/etc/etcd/missing.pem' }, 'ETCD_CA_CERT_FILE="/etc/etcd/missing.pem"', /file does not exist/],
    [{ KUBECONFIG: '/nope/config' }, 'KUBECONFIG="/nope/config"', /file does not exist/],
    [{ TORTIE_CONTROL_SOCKET: 'control.sock' }, 'TORTIE_CONTROL_SOCKET="control.sock"', /absolute path/],
    [{ TORTIE_CONTROL_SOCKET: '/' + 'x'.repeat(120) }, 'TORTIE_CONTROL_SOCKET=', /at most 107 bytes/],
    [{ TORTIE_DATASTORE_LOSS_READINESS_TIMEOUT: '1d' }, 'TORTIE_DATASTORE_LOSS_READINESS_TIMEOUT="1d"', /duration/],
  ];
  for (const [env, names, allowed] of cases) {
    test(`${Object.entries(env)[0]!.join('=').slice(0, 60)} is refused, naming the setting and what is allowed`, () => {
      const p = problems(env);
      assert.equal(p.length, 1, p.join('\n'));
      assert.ok(p[0]!.includes(names), `${p[0]} should name ${names}`);
      assert.match(p[0]!, allowed);
      assert.doesNotMatch(p[0]!, /`/, 'terminal messages carry no markdown');
    });
  }

  test('a bad flag names the flag', () => {
    const p = problems({}, { flags: { healthPort: 'abc' } });
    assert.deepEqual(p, ['--health-port="abc": expected an integer TCP/UDP port from 1 to 65535']);
  });

  test('an invalid host name used as the default node name says to set NODENAME', () => {
    const p = problems({}, { defaults: { hostname: () => 'host_with_underscore' } });
    assert.equal(p.length, 1);
    assert.match(p[0]!, /nodename defaults to "host_with_underscore".*set NODENAME/);
  });

  test('every problem is reported at once, in one UserError message', () => {
    try {
      load({ FELIX_HEALTHPORT: 'abc', DATASTORE_TYPE: 'mysql', FELIX_LOGSEVERITYSCREEN: 'loud', ETCD_ENDPOINTS: 'x' });
      assert.fail('should have thrown');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems.length, 4);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /^invalid configuration \(4 problems\):\n {2}- /);
      for (const v of ['FELIX_HEALTHPORT', 'DATASTORE_TYPE', 'FELIX_LOGSEVERITYSCREEN', 'ETCD_ENDPOINTS']) {
        assert.ok(e.message.includes(v), v);
      }
    }
  });

  test('secrets are not echoed in error messages', () => {
    // An empty-after-trim password is invalid; its value must still not appear.
    const p = problems({ ETCD_USERNAME: 'calico', ETCD_PASSWORD: '   ' });
    assert.ok(p.some((x) => x.includes('ETCD_PASSWORD=<redacted>')), p.join('\n'));
  });
});

describe('combinations', () => {
  test('IPIP and VXLAN on the same pool', () => {
    const p = problems({ CALICO_IPV4POOL_IPIP: 'Always', CALICO_IPV4POOL_VXLAN: 'Always' });
    assert.equal(p.length, 1);
    assert.match(p[0]!, /CALICO_IPV4POOL_IPIP=Always and CALICO_IPV4POOL_VXLAN=Always: a pool uses IPIP or VXLAN, not both/);
  });

  test('IPIP without BGP names the default that causes it', () => {
    const p = problems({ CALICO_NETWORKING_BACKEND: 'vxlan', CALICO_IPV4POOL_VXLAN: 'Always', CALICO_IPV4POOL_IPIP: 'Never' });
    assert.deepEqual(p, []);
    const q = problems({ CALICO_NETWORKING_BACKEND: 'vxlan' });
    assert.equal(q.length, 1);
    assert.match(q[0]!, /CALICO_IPV4POOL_IPIP=Always \(default\) needs BGP/);
  });

  test('etcd client certificate without its key, user without password', () => {
    const p = problems({ ETCD_CERT_FILE: '/etc/etcd/cert.pem', ETCD_USERNAME: 'calico' });
    assert.equal(p.length, 2);
    assert.match(p.join('\n'), /ETCD_CERT_FILE and ETCD_KEY_FILE: set both/);
    assert.match(p.join('\n'), /ETCD_USERNAME and ETCD_PASSWORD: set both/);
    assert.deepEqual(problems({ ETCD_CERT_FILE: '/etc/etcd/cert.pem', ETCD_KEY_FILE: '/etc/etcd/key.pem', ETCD_CA_CERT_FILE: '/etc/etcd/ca.pem' }), []);
  });

  test('health and metrics on the same port', () => {
    const env = { FELIX_PROMETHEUSMETRICSENABLED: 'true', FELIX_PROMETHEUSMETRICSPORT: '9099' };
    const p = problems(env);
    assert.equal(p.length, 1);
    assert.match(p[0]!, /cannot share a port/);
    assert.match(problems({ ...env, FELIX_PROMETHEUSMETRICSHOST: '0.0.0.0', FELIX_HEALTHHOST: '127.0.0.1' })[0]!, /share a port/);
    assert.deepEqual(problems({ ...env, FELIX_PROMETHEUSMETRICSHOST: '198.18.0.5' }), []);
    assert.deepEqual(problems({ ...env, FELIX_HEALTHENABLED: 'false' }), []);
  });
});

describe('redactConfig', () => {
  test('secrets and URL credentials are hidden; sources are shown', () => {
    const loaded = load({
      ETCD_USERNAME: 'calico',
      ETCD_PASSWORD: 's3cret',
      ETCD_ENDPOINTS: 'https://user:pw@198.18.0.1:2379,http://198.18.0.2:2379',
      FELIX_HEALTHPORT: '9100',
    });
    const r = redactConfig(loaded);
    assert.deepEqual(r.etcdPassword, { value: '<redacted>', source: 'env ETCD_PASSWORD' });
    assert.deepEqual(r.etcdEndpoints!.value, ['https://198.18.0.1:2379', 'http://198.18.0.2:2379']);
    assert.deepEqual(r.healthPort, { value: 9100, source: 'env FELIX_HEALTHPORT' });
    assert.deepEqual(r.as, { value: null, source: 'default' });
    const text = JSON.stringify(r);
    assert.doesNotMatch(text, /s3cret|:pw@/);
  });

  test('secrets cannot be given as flags', () => {
    const { config } = load({}, { flags: { etcdPassword: 'on-the-command-line' } });
    assert.equal(config.etcdPassword, undefined);
  });
});
