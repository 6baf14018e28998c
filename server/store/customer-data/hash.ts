// Event ids are kept as a 53-bit hash (cyrb53), not as strings: a number per row instead of a
// string object per event kept until compaction. Ids are compared within one customer only (the
// dedupe key is customer_id + event_id), so a false "duplicate" needs two distinct ids of one
// customer to collide: about k^2 / 2^54 for a customer with k retained events — with 1 million
// customers of 20 events each, about 1 in 50 million that it happens to any event at all.
export function idHash(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
