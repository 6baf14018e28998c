// `churn customers import FILE.csv`: bulk load of an existing customer table (a warehouse export)
// into the customer store, through a running server or straight into the store of a service that
// is not running. Each row is validated as a request's fields are; a row with any problem is
// refused whole (line and field said), the others imported.
import { join } from "node:path";
import type { CustomerImportRequest, CustomerImportResponse } from "../../server/contract/api.ts";
import type { CustomerData } from "../../server/contract/customer-data.ts";
import { bundledModels } from "../../server/config.ts";
import { Recommender } from "../../server/service/recommender.ts";
import { EmbeddedCustomerData } from "../../server/store/customer-data/embedded.ts";
import { CustomerFileError, customerFileRows } from "../../server/store/customer-file.ts";
import { PostgresCustomerData } from "../../server/store/postgres/customer-data.ts";
import { createChurnClient } from "../../client/index.ts";
import { args, nonBlankLines, progress, UsageError } from "./common.ts";

const USAGE = `churn customers import FILE.csv (--server URL | --local [--data-dir DIR] [--database-url URL] [--models DIR])
  Imports the rows of a customer table (a CSV with customer_id; columns that are not fields of the
  bundle are ignored) as the store source of customers' profiles. Rows are checked as predict
  requests are; a refused row is listed with its line and field and nothing of it is applied.
  --local writes the store of a service that is not running (DATA_DIR/customers, or DATABASE_URL).`;

export async function customers(argv: string[]): Promise<void> {
  const [sub, file, ...rest] = argv;
  if (sub === "--help" || sub === undefined) {
    console.log(USAGE);
    if (sub === undefined) throw new UsageError(`missing a subcommand\n\n${USAGE}`);
    return;
  }
  if (sub !== "import") throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}\n\n${USAGE}`);
  if (file === undefined || file.startsWith("--")) throw new UsageError(`missing FILE.csv\n\n${USAGE}`);
  const a = args(rest, { server: { type: "string" }, local: { type: "boolean" }, "data-dir": { type: "string" }, "database-url": { type: "string" }, models: { type: "string" } }, USAGE);
  if (!a.server === !a.local) throw new UsageError(`give either --server URL or --local\n\n${USAGE}`);

  let importRows: (request: CustomerImportRequest) => Promise<CustomerImportResponse>;
  let fields: string[];
  let close: () => Promise<void>;
  if (a.server) {
    const client = createChurnClient(a.server);
    try {
      fields = (await client.health.query()).bundle?.fields ?? [];
    } catch (err) {
      throw new Error(`cannot reach the service at ${a.server}: ${(err as Error).message}`);
    }
    importRows = (request) => client.customers.import.mutate(request);
    close = async () => client.close();
  } else {
    const url = a["database-url"] ?? process.env.DATABASE_URL;
    const store: CustomerData = url ? await PostgresCustomerData.connect(url) : await EmbeddedCustomerData.open(join(a["data-dir"] ?? process.env.DATA_DIR ?? ".data", "customers"));
    const service = await Recommender.open({ modelsDir: a.models ?? bundledModels(), customers: store });
    fields = service.health().bundle!.fields;
    importRows = (request) => service.importCustomers(request);
    close = async () => {
      service.close();
      await store.close();
    };
  }

  let total: number;
  try {
    total = (await nonBlankLines(file)) - 1;
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const bar = progress(total);
  let done = 0;
  let imported = 0;
  let refused = 0;
  try {
    for await (const chunk of customerFileRows(file, fields)) {
      const result = await importRows({ rows: chunk.map((c) => c.row) });
      imported += result.imported;
      for (const r of result.rejected) {
        refused++;
        // The issue paths are ["rows", index, field]: the line and the field say it to a person.
        console.error(`${file} line ${chunk[r.index].line}: refused: ${r.issues.map((i) => `${i.path.slice(2).join(".") || "row"}: ${i.message}`).join("; ")}`);
      }
      bar.update((done += chunk.length));
    }
  } catch (err) {
    if (err instanceof CustomerFileError) throw new UsageError(err.message);
    throw err;
  } finally {
    bar.finish();
    await close();
  }
  console.error(`${imported} customers imported, ${refused} refused`);
  if (refused > 0) process.exitCode = 1;
}
