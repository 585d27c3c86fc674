import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { parseAddressRange } from '../common/config-schema';

/**
 * Where a certificate may be fetched from (SSRF): public unicast addresses only, unless the operator named a
 * range of its own (`stir.allowNetworks`). Loopback, private, link-local, multicast, unique-local, carrier-grade
 * NAT, reserved and unspecified addresses are refused, IPv4-mapped IPv6 included (ipaddr.js classifies them).
 */
export class AddressPolicy {
  private readonly allowed = new BlockList();

  constructor(allowNetworks: readonly string[]) {
    for (const text of allowNetworks) {
      const range = parseAddressRange(text);
      if (!range) throw new Error(`stir.allowNetworks: "${text}" is no address or CIDR range`);
      if (range.prefix === undefined) this.allowed.addAddress(range.address, range.type);
      else this.allowed.addSubnet(range.address, range.prefix, range.type);
    }
  }

  /** Why an address may not be fetched from, or undefined when it may. */
  refusal(address: string): string | undefined {
    if (!isIP(address)) return `"${address}" is no IP address`;
    const parsed = ipaddr.process(address);
    const family = parsed.kind();
    const plain = parsed.toString();
    if (this.allowed.check(plain, family)) return undefined;
    const range = parsed.range();
    return range === 'unicast' ? undefined : `${plain} is a ${range} address`;
  }
}
