// `npm run bench`: every section in one process, each printing its own table.
// `npm run bench -- models http` runs only the named sections; EVENTS_SCALE (1) scales the
// customer-store sections (1 M customers, 20 M events at 1), DATABASE_URL adds PostgreSQL rows.
const sections: Record<string, () => Promise<{ default: () => Promise<void> }>> = {
  models: () => import("./models.ts"),
  http: () => import("./http.ts"),
  events: () => import("./events.ts"),
  "predict-by-id": () => import("./predict-by-id.ts"),
  pickles: () => import("./pickles.ts"),
  tracing: () => import("./tracing.ts"),
  replicas: () => import("./replicas.ts"),
  memory: () => import("./memory.ts"),
};

const wanted = process.argv.slice(2);
for (const [name, load] of Object.entries(sections)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await (await load()).default();
}
