import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where webhooks may not go (SSRF): a receiver URL is a request the server makes on the
 * customer's behalf, from inside its network. Refused: loopback, private (RFC 1918, unique local),
 * link-local (cloud metadata services live there: 169.254.169.254, fd00:ec2::254), carrier-grade
 * NAT (Alibaba's metadata at 100.100.100.200), "this network", benchmarking, documentation,
 * multicast and reserved ranges, and IPv6 forms that embed such an IPv4 address (mapped,
 * NAT64, 6to4). Every address a name resolves to must be allowed, not just one.
 */
const BLOCKED = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED.addSubnet(network, prefix, 'ipv6');

/** The IPv4 address an IPv6 one carries (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`). */
function embeddedIpv4(address: string): string | undefined {
  const groups = expandIpv6(address);
  if (!groups) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zero = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zero(0, 5) && groups[5] === 0xffff) return v4(groups[6] as number, groups[7] as number);
  if (zero(0, 6) && (groups[6] !== 0 || (groups[7] as number) > 1)) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x2002) return v4(groups[1] as number, groups[2] as number);
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail included). */
function expandIpv6(address: string): number[] | undefined {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const parts = (dotted[1] as string).split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${(((parts[0] as number) << 8) | (parts[1] as number)).toString(16)}:${(((parts[2] as number) << 8) | (parts[3] as number)).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? left.length !== 8 : missing < 0) return undefined;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right].map((g) =>
    parseInt(g, 16),
  );
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** Why an address may not be sent to, or undefined when it may. */
export function blockedAddressReason(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4') ? `${address} is not a public address` : undefined;
  if (family === 6) {
    if (BLOCKED.check(address, 'ipv6')) return `${address} is not a public address`;
    const v4 = embeddedIpv4(address);
    if (v4 && BLOCKED.check(v4, 'ipv4')) return `${address} carries ${v4}, which is not a public address`;
    return undefined;
  }
  return `${address} is not an IP address`;
}

export class DestinationRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationRefused';
  }
}

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );

/** What `http.request`'s `lookup` option is called with (the form net.connect uses). */
type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * The policy of one deployment. With `allowPrivate` (development, tests, `WEBHOOK_ALLOW_PRIVATE`)
 * anything resolvable goes and plain http too; without it (production) only https to public
 * addresses. Checked when a webhook is created or changed, and again at each delivery, on the
 * very addresses the connection then uses (a name that now resolves elsewhere is caught: the
 * request connects through `lookup`, never through a second resolution).
 */
export class DestinationGuard {
  constructor(
    readonly allowPrivate: boolean,
    private readonly resolve: Resolver = systemResolver,
  ) {}

  /** Refuses a URL that may not be used; resolves its host to check where it leads now. */
  async check(rawUrl: string): Promise<void> {
    const url = new URL(rawUrl);
    this.checkScheme(url);
    const host = hostOf(url);
    if (isIP(host)) return this.checkAddresses(host, [{ address: host, family: isIP(host) }]);
    let addresses: LookupAddress[];
    try {
      addresses = await this.resolve(host);
    } catch (error) {
      throw new DestinationRefused(`${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    this.checkAddresses(host, addresses);
  }

  /** What can be checked without resolving: the scheme, and the host when it is an address. */
  checkBeforeConnect(url: URL): void {
    this.checkScheme(url);
    const host = hostOf(url);
    if (isIP(host)) this.checkAddresses(host, [{ address: host, family: isIP(host) }]);
  }

  checkScheme(url: URL): void {
    if (url.protocol !== 'https:' && !(this.allowPrivate && url.protocol === 'http:'))
      throw new DestinationRefused('only https:// URLs are allowed (WEBHOOK_ALLOW_PRIVATE allows http://)');
  }

  /** A `lookup` for http.request that resolves and checks every address, and connects to a checked one. */
  readonly lookup = (
    hostname: string,
    options: { all?: boolean; family?: number | string } | number | LookupCallback,
    maybeCallback?: LookupCallback,
  ): void => {
    const callback = (typeof options === 'function' ? options : maybeCallback) as LookupCallback;
    const all = typeof options === 'object' && options.all === true;
    this.resolve(hostname).then(
      (addresses) => {
        try {
          this.checkAddresses(hostname, addresses);
        } catch (error) {
          callback(error as NodeJS.ErrnoException, all ? [] : '', 4);
          return;
        }
        const first = addresses[0] as LookupAddress;
        if (all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, all ? [] : '', 4),
    );
  };

  private checkAddresses(host: string, addresses: LookupAddress[]): void {
    if (addresses.length === 0) throw new DestinationRefused(`${host} does not resolve`);
    if (this.allowPrivate) return;
    for (const { address } of addresses) {
      const reason = blockedAddressReason(address);
      if (reason) throw new DestinationRefused(host === address ? reason : `${host} resolves to ${reason}`);
    }
  }
}

/** The host without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}
