// The library versions whose pickles this reader is known to read: those that wrote the fixtures
// (shared fixtures/pickles/README.md). Other versions are read when their class state has the
// fields checked here; when it does not, extraction fails naming the class and the field.
export const KNOWN_VERSIONS = {
  python: "3.11",
  joblib: "1.2.0",
  numpy: "1.24.2",
  "scikit-learn": "1.2.1",
  lightgbm: "4.6.0",
  econml: "0.15.1",
} as const;

export function knownVersionsText(): string {
  return Object.entries(KNOWN_VERSIONS).map(([lib, v]) => `${lib} ${v}`).join(", ");
}
