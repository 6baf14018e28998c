// Scanner for LightGBM's text model format: lines -> blocks of `key=value` entries with their
// line numbers. It knows the layout (header, `Tree=i` blocks, trailers) but nothing of the
// meaning; parse.ts gives the entries their meaning and checks them.

export interface Entry {
  value: string;
  /** 1-based line number, for error messages. */
  line: number;
}

export interface Block {
  /** "header" or "Tree=i". */
  name: string;
  line: number;
  entries: Map<string, Entry>;
  /** Lines without `=` (`tree`, `average_output`). */
  bare: Map<string, number>;
}

export interface Scan {
  header: Block;
  trees: Block[];
  /** Whether the `end of trees` line was seen (a truncated file lacks it). */
  endOfTrees: boolean;
  /** The JSON text after `pandas_categorical:`, when present. */
  pandasCategorical: Entry | null;
  lineCount: number;
}

export class ScanError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
  }
}

export function scanModel(text: string): Scan {
  const lines = text.split(/\r?\n/);
  const newBlock = (name: string, line: number): Block => ({ name, line, entries: new Map(), bare: new Map() });
  const header = newBlock("header", 1);
  const trees: Block[] = [];
  let current = header;
  let endOfTrees = false;
  let pandasCategorical: Entry | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const no = i + 1;
    if (!endOfTrees) {
      if (line === "end of trees") {
        endOfTrees = true;
        continue;
      }
      if (line.trim() === "") continue;
      if (line.startsWith("Tree=")) {
        current = newBlock(line, no);
        trees.push(current);
        continue;
      }
      const eq = line.indexOf("=");
      if (eq < 0) {
        current.bare.set(line.trim(), no);
        continue;
      }
      const key = line.slice(0, eq);
      if (current.entries.has(key)) throw new ScanError(no, `duplicate key "${key}" in ${current.name}`);
      current.entries.set(key, { value: line.slice(eq + 1), line: no });
      continue;
    }
    // After the trees only the pandas trailer matters for prediction (importances and the
    // parameters block are informational).
    if (line.startsWith("pandas_categorical:")) {
      pandasCategorical = { value: line.slice("pandas_categorical:".length), line: no };
    }
  }
  return { header, trees, endOfTrees, pandasCategorical, lineCount: lines.length };
}
