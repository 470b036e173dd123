/**
 * Which IP addresses a URL download may connect to. Only public unicast addresses pass: loopback,
 * private, link-local (the cloud metadata endpoint 169.254.169.254), CGNAT, multicast, unspecified,
 * documentation and other reserved ranges are refused, in IPv4 and IPv6. IPv4-mapped and NAT64 IPv6
 * addresses are judged by the IPv4 address inside; the deprecated IPv4-compatible form is refused.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

const FORBIDDEN_V4: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

// Inside global unicast 2000::/3, the special-purpose blocks; everything outside 2000::/3 is refused.
const FORBIDDEN_V6: ReadonlyArray<[string, number]> = [
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID, ...)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4, embeds an IPv4 address
  ['3fff::', 20], // documentation
];

const v4Blocks = new BlockList();
for (const [network, prefix] of FORBIDDEN_V4) v4Blocks.addSubnet(network, prefix, 'ipv4');
const v6Blocks = new BlockList();
for (const [network, prefix] of FORBIDDEN_V6) v6Blocks.addSubnet(network, prefix, 'ipv6');
v6Blocks.addSubnet('::', 3, 'ipv6'); // 0000::/3: unspecified, loopback, compatible, discard-only, ...
v6Blocks.addSubnet('4000::', 2, 'ipv6'); // 4000::/2 and 8000::/1: unassigned, ULA, link-local, multicast
v6Blocks.addSubnet('8000::', 1, 'ipv6');

/** True when a download may connect to `address` (an IPv4 or IPv6 literal, brackets and zone allowed). */
export function isPublicAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIPv4(ip)) return !v4Blocks.check(ip, 'ipv4');
  if (!isIPv6(ip)) return false;
  const embedded = embeddedIPv4(ip);
  if (embedded !== undefined) return isPublicAddress(embedded);
  return !v6Blocks.check(ip, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped (::ffff:0:0/96) or NAT64 (64:ff9b::/96) address. */
function embeddedIPv4(ip: string): string | undefined {
  const words = expandIPv6(ip);
  const high = words.slice(0, 6);
  const isMapped = high.slice(0, 5).every((w) => w === 0) && high[5] === 0xffff;
  const isNat64 = high[0] === 0x64 && high[1] === 0xff9b && high.slice(2).every((w) => w === 0);
  if (!isMapped && !isNat64) return undefined;
  const [hi = 0, lo = 0] = words.slice(6);
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

/** Eight 16-bit words of a valid IPv6 literal, dotted IPv4 tail included. */
function expandIPv6(ip: string): number[] {
  let text = ip.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headWords = head ? head.split(':') : [];
  const tailWords = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - headWords.length - tailWords.length).fill('0');
  return [...headWords, ...zeros, ...tailWords].map((w) => parseInt(w, 16));
}
