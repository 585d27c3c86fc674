import { BlockList, isIP } from 'node:net';
import { parseAddressRange, type TrunkConfig } from '../common/config-schema';

export interface MatchedTrunk extends TrunkConfig {
  id: string;
}

interface Candidate {
  trunk: MatchedTrunk;
  sources?: BlockList;
}

/** CIDR ("192.0.2.0/24", "2001:db8::/32") or a single address. Throws on anything else (config errors). */
function addSource(list: BlockList, source: string): void {
  const range = parseAddressRange(source);
  if (!range) throw new Error(`not an IP address or CIDR range: ${source}`);
  if (range.prefix === undefined) list.addAddress(range.address, range.type);
  else list.addSubnet(range.address, range.prefix, range.type);
}

/**
 * Which trunk a request came in on: the first trunk, in config order, whose source ranges contain the
 * sender's address (when it lists any) and whose header matches (when it names one). Trunks that list
 * neither never match by themselves. Anything else gets the default trunk, the most cautious one.
 */
export class TrunkMatcher {
  private readonly candidates: Candidate[] = [];
  private readonly fallback: MatchedTrunk;

  constructor(trunks: Readonly<Record<string, TrunkConfig>>, defaultTrunk: string) {
    for (const [id, trunk] of Object.entries(trunks)) {
      if (trunk.sources.length === 0 && !trunk.header) continue;
      const candidate: Candidate = { trunk: { id, ...trunk } };
      if (trunk.sources.length > 0) {
        const list = new BlockList();
        for (const source of trunk.sources) {
          try {
            addSource(list, source);
          } catch (err) {
            throw new Error(`trunks.${id}.sources: ${(err as Error).message}`);
          }
        }
        candidate.sources = list;
      }
      this.candidates.push(candidate);
    }
    const fallback = trunks[defaultTrunk];
    if (!fallback) throw new Error(`screening.defaultTrunk names no trunk: ${defaultTrunk}`);
    this.fallback = { id: defaultTrunk, ...fallback };
  }

  match(address: string, header: (name: string) => string | undefined): MatchedTrunk {
    const family = isIP(address);
    for (const { trunk, sources } of this.candidates) {
      if (sources && (family === 0 || !sources.check(address, family === 4 ? 'ipv4' : 'ipv6'))) continue;
      if (trunk.header && header(trunk.header.name)?.trim() !== trunk.header.value) continue;
      return trunk;
    }
    return this.fallback;
  }
}
