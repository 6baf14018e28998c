// The one error class of the pickle reader and of the extraction from what it read. It extends the
// project's ModelFormatError so that whoever loads a bundle reports it like any other bad model
// file: which file, where in it (a byte offset, or a class and field), what was expected.
import { ModelFormatError } from "../model/errors.ts";

export class PickleError extends ModelFormatError {
  constructor(file: string, where: string, problem: string) {
    super(file, where, problem);
    this.name = "PickleError";
  }
}
