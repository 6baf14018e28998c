// `npm run bench`: every section in one process, each printing its own table.
// `npm run bench -- gbdt forest` runs only the named sections.
const sections: Record<string, () => Promise<{ default: () => Promise<void> }>> = {
  models: () => import("./models.ts"),
  http: () => import("./http.ts"),
};

const wanted = process.argv.slice(2);
for (const [name, load] of Object.entries(sections)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await (await load()).default();
}
