import type { LookupAddress } from 'node:dns';
import { blockedAddressReason, DestinationGuard, DestinationRefused } from '../src/webhooks/destination-guard';

/** A resolver that answers from a table, as DNS would (or as DNS turned hostile would). */
const resolverOf =
  (table: Record<string, string[]>) =>
  async (hostname: string): Promise<LookupAddress[]> => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('destination guard', () => {
  it('tells public addresses from loopback, private, link-local, metadata and reserved ones', () => {
    for (const allowed of ['93.184.216.34', '8.8.8.8', '2606:4700::6810:85e5', '2001:4860:4860::8888'])
      expect({ allowed, reason: blockedAddressReason(allowed) }).toEqual({ allowed, reason: undefined });
    for (const blocked of [
      '127.0.0.1',
      '127.255.0.9',
      '0.0.0.0',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '100.100.100.200',
      '198.18.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'fc00::1',
      'fd00:ec2::254',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '64:ff9b::10.0.0.1',
      '2002:c0a8:0101::1',
    ])
      expect({ blocked, reason: blockedAddressReason(blocked) }).toEqual({ blocked, reason: expect.any(String) });
    // An IPv6 form of a public IPv4 address is as public as it.
    expect(blockedAddressReason('::ffff:93.184.216.34')).toBeUndefined();
  });

  it('refuses a name when any one of its addresses is not public, and names that do not resolve', async () => {
    const guard = new DestinationGuard(
      false,
      resolverOf({
        'hooks.example.com': ['93.184.216.34'],
        'mixed.example.com': ['93.184.216.34', '10.0.0.5'],
        'rebound.example.com': ['::1'],
      }),
    );
    await expect(guard.check('https://hooks.example.com/in')).resolves.toBeUndefined();
    await expect(guard.check('https://mixed.example.com/in')).rejects.toThrow(
      /mixed\.example\.com resolves to 10\.0\.0\.5/,
    );
    await expect(guard.check('https://rebound.example.com/in')).rejects.toBeInstanceOf(DestinationRefused);
    await expect(guard.check('https://gone.example.com/in')).rejects.toThrow(/does not resolve \(ENOTFOUND\)/);
    await expect(guard.check('http://hooks.example.com/in')).rejects.toThrow(/only https/);
    await expect(guard.check('https://[::ffff:10.0.0.1]/in')).rejects.toBeInstanceOf(DestinationRefused);
  });

  it('connects only to addresses it checked: its lookup refuses what the name resolves to now', async () => {
    const table: Record<string, string[]> = { 'hooks.example.com': ['93.184.216.34'] };
    const guard = new DestinationGuard(false, resolverOf(table));
    const lookup = (hostname: string, all: boolean) =>
      new Promise<{ error: Error | null; address: unknown }>((resolve) =>
        guard.lookup(hostname, { all }, (error, address) => resolve({ error, address })),
      );
    expect(await lookup('hooks.example.com', false)).toEqual({ error: null, address: '93.184.216.34' });
    expect(await lookup('hooks.example.com', true)).toEqual({
      error: null,
      address: [{ address: '93.184.216.34', family: 4 }],
    });
    // Its DNS now points at the metadata service: the connection is refused before it is made.
    table['hooks.example.com'] = ['169.254.169.254'];
    const refused = await lookup('hooks.example.com', true);
    expect(refused.error).toBeInstanceOf(DestinationRefused);
  });

  it('lets anything resolvable through, plain http too, where private destinations are allowed', async () => {
    const guard = new DestinationGuard(true, resolverOf({ localhost: ['127.0.0.1'] }));
    await expect(guard.check('http://localhost:8080/in')).resolves.toBeUndefined();
    await expect(guard.check('http://10.0.0.1/in')).resolves.toBeUndefined();
    await expect(guard.check('http://nowhere.invalid/in')).rejects.toBeInstanceOf(DestinationRefused);
  });
});
