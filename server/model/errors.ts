/**
 * A model file that cannot be read or is not supported. The message always says which file,
 * where in it (line, key or tensor) and what was expected, so a data scientist can fix the export.
 */
export class ModelFormatError extends Error {
  constructor(
    readonly file: string,
    readonly where: string,
    readonly problem: string,
  ) {
    super(`${file}: ${where}: ${problem}`);
    this.name = "ModelFormatError";
  }
}
