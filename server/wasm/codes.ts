// Child codes as the core reads them (assembly/layout.ts, walk.ts): an i64 whose high word is the
// child's byte offset from the node table and whose low word is the byte offset in a row of the
// feature the child splits on (0 for a leaf), written little-endian as two i32 words. Leaves are
// nodes below the table whose children are themselves, the same for both models.
import * as L from "../../assembly/layout.ts";

/** A child: its node's byte offset from the table, and its feature's byte offset in a row. */
export type ChildCode = [offset: number, featureOffset: number];

export function writeCode(view: DataView, at: number, [offset, featureOffset]: ChildCode): void {
  view.setInt32(at, featureOffset, true);
  view.setInt32(at + 4, offset, true);
}

/** One code per tree root, for the header's roots table. */
export function rootCodes(codes: ChildCode[]): Uint8Array {
  const out = new Uint8Array(8 * codes.length);
  const view = new DataView(out.buffer);
  codes.forEach((c, t) => writeCode(view, 8 * t, c));
  return out;
}

/** Leaf l's child code: leaf l (its index among all the model's leaves) is at -(l + 1) nodes from the table. */
export function leafCode(l: number): ChildCode {
  return [-(l + 1) * L.NODE_BYTES, 0];
}

/**
 * Writes leaf l as a node whose children are itself (a row that reached it stays there) into a
 * node buffer whose table starts `tableOffset` bytes in; returns the node's position in the buffer.
 */
export function writeLeafNode(view: DataView, tableOffset: number, l: number): number {
  const code = leafCode(l);
  const at = tableOffset + code[0];
  writeCode(view, at + L.NODE_LEFT, code);
  writeCode(view, at + L.NODE_RIGHT, code);
  return at;
}
