import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';

/** id-pe-TNAuthList (RFC 8226 §9). */
export const TN_AUTH_LIST_OID = '1.3.6.1.5.5.7.1.26';

export interface TnAuthList {
  /** Service provider codes ([0] entries). */
  spcs: string[];
  /** Whether it also lists numbers or ranges ([1], [2] entries). */
  numbers: boolean;
}

/**
 * The TNAuthList extension of a certificate (DER), read with the @peculiar ASN.1 schemas and asn1js: undefined
 * when there is none; an Error when it is there but not a TNAuthorizationList.
 */
export function readTnAuthList(der: Uint8Array): TnAuthList | undefined {
  const cert = AsnConvert.parse(der, Certificate);
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === TN_AUTH_LIST_OID);
  if (!ext) return undefined;
  const parsed = asn1js.fromBER(ext.extnValue.buffer);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence))
    throw new Error('TNAuthList is not a SEQUENCE');
  const list: TnAuthList = { spcs: [], numbers: false };
  for (const entry of parsed.result.valueBlock.value) {
    // TNEntry ::= CHOICE { spc [0], range [1], one [2] }, explicitly tagged (RFC 8226 §9)
    if (entry.idBlock.tagClass !== 3) throw new Error('TNAuthList entry is not context-tagged');
    if (entry.idBlock.tagNumber === 0) {
      const inner = (entry as asn1js.Constructed).valueBlock.value?.[0];
      if (!(inner instanceof asn1js.IA5String)) throw new Error('TNAuthList SPC is not an IA5String');
      list.spcs.push(inner.getValue());
    } else list.numbers = true;
  }
  if (list.spcs.length === 0 && !list.numbers) throw new Error('TNAuthList is empty');
  return list;
}
